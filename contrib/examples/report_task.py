#!/usr/bin/env python3
"""A one-shot task (the `[tasks.report]` entry): does its work, prints a summary, exits 0.

Tasks get PROCSUP_TASK, PROCSUP_RUN_ID and PROCSUP_SCHEDULED_AT in their environment.
"""

import os
import random
import time

task = os.environ.get("PROCSUP_TASK", "report")
run_id = os.environ.get("PROCSUP_RUN_ID", "-")
scheduled = os.environ.get("PROCSUP_SCHEDULED_AT", "-")

started = time.monotonic()
rows = random.randint(100, 999)
time.sleep(0.2)  # "build the report"
took = time.monotonic() - started
print(
    f"{task} run {run_id} (scheduled {scheduled}): {rows} rows summarised in {took:.2f}s",
    flush=True,
)
