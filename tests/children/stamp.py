#!/usr/bin/env python3
"""Appends `start NAME TIME` to a file when it starts and `stop NAME TIME` when it gets
SIGTERM (then exits), so a test can see the order programs started and stopped in.
Usage: stamp.py FILE [EXIT_CODE] — with EXIT_CODE it exits at once with it after the start."""

import os
import signal
import sys
import time

path = sys.argv[1]
name = os.environ.get("PROCSUP_PROCESS_NAME", "?")


def stamp(what: str) -> None:
    with open(path, "a") as f:
        f.write(f"{what} {name} {time.time():.6f}\n")


def stopped(_sig: int, _frame: object) -> None:
    stamp("stop")
    sys.exit(0)


signal.signal(signal.SIGTERM, stopped)
stamp("start")
if len(sys.argv) > 2:
    sys.exit(int(sys.argv[2]))
while True:
    time.sleep(3600)
