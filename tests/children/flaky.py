#!/usr/bin/env python3
"""Exits with status 3 at once unless the file argv[1] exists; then runs normally."""

import os
import sys
import time

if not os.path.exists(sys.argv[1]):
    print("no ok-file yet, crashing", file=sys.stderr, flush=True)
    sys.exit(3)
print("healthy", flush=True)
while True:
    time.sleep(3600)
