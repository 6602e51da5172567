#!/usr/bin/env python3
"""Prints the name of every signal it receives (HUP, USR1, USR2)."""

import signal
import time

for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(sig, lambda s, _f: print(f"got {signal.Signals(s).name}", flush=True))
print("listening", flush=True)
while True:
    time.sleep(3600)
