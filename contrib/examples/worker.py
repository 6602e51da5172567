#!/usr/bin/env python3
"""A queue-worker lookalike: takes a "job" about every second, like `php artisan queue:work`.

On SIGTERM (procsup's default stop_signal) it finishes the job in hand, says so and exits 0,
which is what a well-behaved worker does. Try `procsup stop worker:1` and `procsup logs worker`.
"""

import os
import signal
import sys
import time

name = os.environ.get("PROCSUP_PROCESS_NAME", "worker:?")
stopping = False


def on_term(signum, frame):
    global stopping
    stopping = True  # finish the current job, then leave the loop


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)

print(f"{name} ready (pid {os.getpid()})", flush=True)
job = 0
while not stopping:
    job += 1
    time.sleep(0.5)  # the work itself; a SIGTERM here does not cut it short
    print(f"{name} job {job} done", flush=True)
    deadline = time.monotonic() + 0.5  # wait for the next job, but wake up on SIGTERM
    while not stopping and time.monotonic() < deadline:
        time.sleep(0.05)

print(f"{name} shutting down after {job} job(s)", flush=True)
sys.exit(0)
