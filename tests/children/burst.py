#!/usr/bin/env python3
"""Prints argv[1] short numbered lines at once, then `ready`; afterwards `ping K` for each
SIGUSR1 and `pong K` for each SIGUSR2: a large backlog for `logs`, then live lines."""

import signal
import sys
import time

n = int(sys.argv[1])
sys.stdout.write("".join(f"{i}\n" for i in range(n)))
print("ready", flush=True)
counts = {signal.SIGUSR1: 0, signal.SIGUSR2: 0}


def answer(sig: int, _frame: object) -> None:
    word = "ping" if sig == signal.SIGUSR1 else "pong"
    print(f"{word} {counts[sig]}", flush=True)
    counts[sig] += 1


signal.signal(signal.SIGUSR1, answer)
signal.signal(signal.SIGUSR2, answer)
while True:
    time.sleep(3600)
