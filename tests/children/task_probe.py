"""A task run that reports itself: appends JSON lines (start, a beat every 50 ms, end) to a file.

Usage: task_probe.py FILE SECONDS [EXIT_CODE]. Overlap checks use the first and last line of each
run; SIGTERM ends the run with an "end" line, so a stopped run's end is known too.
"""

import json
import os
import signal
import sys
import time

path, seconds = sys.argv[1], float(sys.argv[2])
code = int(sys.argv[3]) if len(sys.argv) > 3 else 0
run = os.environ.get("PROCSUP_RUN_ID", "?")


def note(event: str) -> None:
    line = {
        "event": event,
        "t": time.time(),
        "run": run,
        "pid": os.getpid(),
        "task": os.environ.get("PROCSUP_TASK"),
        "scheduled": os.environ.get("PROCSUP_SCHEDULED_AT"),
        "scheduled_epoch": os.environ.get("PROCSUP_SCHEDULED_EPOCH"),
        "fence": os.environ.get("PROCSUP_FENCING_TOKEN"),
        "host": os.environ.get("PROBE_HOST", ""),
    }
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


def on_term(signum: int, frame: object) -> None:
    note("end")
    sys.exit(143)


signal.signal(signal.SIGTERM, on_term)
note("start")
print(f"probe {run} started", flush=True)
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    note("beat")
note("end")
sys.exit(code)
