#!/usr/bin/env python3
"""Prints argv[1] short numbered lines at once, then `ready`; afterwards `ping K` on stdout for
each SIGUSR1 (a large backlog for `logs` followed by live lines)."""

import signal
import sys
import time

n = int(sys.argv[1])
sys.stdout.write("".join(f"{i}\n" for i in range(n)))
print("ready", flush=True)
pings = 0


def ping(_sig: int, _frame: object) -> None:
    global pings
    print(f"ping {pings}", flush=True)
    pings += 1


signal.signal(signal.SIGUSR1, ping)
while True:
    time.sleep(3600)
