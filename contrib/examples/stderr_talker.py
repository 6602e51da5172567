#!/usr/bin/env python3
"""Writes to stdout and stderr every ~2 seconds, to show how `procsup logs` interleaves the two
streams (`--stdout` / `--stderr` pick one) and keeps them in separate log files."""

import os
import signal
import sys
import time

name = os.environ.get("PROCSUP_PROCESS_NAME", "talker")
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))

tick = 0
while True:
    tick += 1
    print(f"{name} tick {tick}: all good", flush=True)
    if tick % 2 == 0:
        print(
            f"{name} tick {tick}: warning: cache is {tick % 7 * 10}% full",
            file=sys.stderr,
            flush=True,
        )
    if tick % 5 == 0:
        print(
            f"{name} tick {tick}: error: upstream timed out, will retry",
            file=sys.stderr,
            flush=True,
        )
    time.sleep(2)
