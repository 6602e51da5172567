#!/usr/bin/env python3
"""Writes `progress 10%` with no newline and waits; on SIGUSR1 finishes the line with
`... done` and a newline, then sleeps: a prompt or progress bar that ends its line later."""

import os
import signal
import sys
import time

done = False


def finish(_sig: int, _frame: object) -> None:
    global done
    done = True


signal.signal(signal.SIGUSR1, finish)
os.write(1, b"progress 10%")
while not done:
    time.sleep(0.05)
os.write(1, b"... done\n")
sys.stdout.flush()
while True:
    time.sleep(3600)
