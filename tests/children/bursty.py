#!/usr/bin/env python3
"""Prints `ready`; on each SIGUSR1 writes a burst of argv[1] bytes of lines ending with
`burst K end` (so each burst needs fresh disk blocks, unlike a short line)."""

import signal
import sys
import time

size = int(sys.argv[1])
count = 0


def burst(_sig: int, _frame: object) -> None:
    global count
    line = f"burst {count} " + "." * 60 + "\n"
    sys.stdout.write(line * (size // len(line)) + f"burst {count} end\n")
    sys.stdout.flush()
    count += 1


signal.signal(signal.SIGUSR1, burst)
print("ready", flush=True)
while True:
    time.sleep(3600)
