#!/usr/bin/env python3
"""A program that dies at once, every time: a missing setting, a typo, a dead database.

procsup does not restart it in a tight loop: `procsup list` shows it in BACKOFF with the attempt
count and the next try, the delay doubling from restart_delay up to restart_delay_max.
"""

import os
import sys

name = os.environ.get("PROCSUP_PROCESS_NAME", "crasher")
print(f"{name}: fatal: DATABASE_URL is not set, cannot start", file=sys.stderr, flush=True)
sys.exit(1)
