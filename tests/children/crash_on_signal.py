#!/usr/bin/env python3
"""Runs until SIGUSR1, then exits with status 1 (a long-running daemon that crashes)."""

import os
import signal
import sys
import time

signal.signal(signal.SIGUSR1, lambda *_: sys.exit(1))
print(f"up pid={os.getpid()}", flush=True)
while True:
    time.sleep(3600)
