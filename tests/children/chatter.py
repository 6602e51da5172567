#!/usr/bin/env python3
"""Prints argv[1] lines alternating stdout/stderr (`out 0`, `err 1`, `out 2`, …), then `ready` on
stdout; afterwards prints `ping K` on stdout for each SIGUSR1 and `pong K` for each SIGUSR2.

With argv[2] and argv[3] (its stdout and stderr log files), it waits after each line until that
line's log file has grown, so the order in which the master received the lines is well defined.
"""

import os
import signal
import sys
import time

n = int(sys.argv[1])
logs = sys.argv[2:4]


def size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def say(i: int) -> None:
    stream, which = (sys.stdout, 0) if i % 2 == 0 else (sys.stderr, 1)
    before = size(logs[which]) if logs else 0
    print(f"{'out' if which == 0 else 'err'} {i}", file=stream, flush=True)
    deadline = time.monotonic() + 5
    while logs and size(logs[which]) == before and time.monotonic() < deadline:
        time.sleep(0.002)


counts = {signal.SIGUSR1: 0, signal.SIGUSR2: 0}


def answer(sig: int, _frame: object) -> None:
    word = "ping" if sig == signal.SIGUSR1 else "pong"
    print(f"{word} {counts[sig]}", flush=True)
    counts[sig] += 1


signal.signal(signal.SIGUSR1, answer)
signal.signal(signal.SIGUSR2, answer)
for i in range(n):
    say(i)
print("ready", flush=True)
while True:
    time.sleep(3600)
