#!/usr/bin/env python3
"""Double-forks a grandchild that calls setsid and ignores SIGTERM (the worst kind of leftover),
writes its pid to argv[1], then sleeps."""

import os
import signal
import sys
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with open(sys.argv[1] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(sys.argv[1] + ".tmp", sys.argv[1])
        while True:
            time.sleep(3600)
    os._exit(0)
os.wait()
print("leader up", flush=True)
while True:
    time.sleep(3600)
