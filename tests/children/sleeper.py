#!/usr/bin/env python3
"""Prints a ready line with its instance name, then sleeps until signalled."""

import os
import time

print(f"ready {os.environ.get('PROCSUP_PROCESS_NAME')} pid={os.getpid()}", flush=True)
while True:
    time.sleep(3600)
