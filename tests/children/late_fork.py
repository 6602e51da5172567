#!/usr/bin/env python3
"""Sits idle until SIGUSR1, then forks a child that touches argv[1] MB, holds it, and writes its
pid to argv[2]: a process that joins the instance's cgroup long after it started."""

import os
import signal
import sys
import time


def fork_holder(signum: int, frame: object) -> None:
    if os.fork() == 0:
        block = bytearray(int(sys.argv[1]) * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        with open(sys.argv[2] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(sys.argv[2] + ".tmp", sys.argv[2])
        while True:
            time.sleep(3600)


signal.signal(signal.SIGUSR1, fork_holder)
print("idle", flush=True)
while True:
    signal.pause()
