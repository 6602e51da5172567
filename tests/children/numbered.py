#!/usr/bin/env python3
"""Writes lines `line 0` … `line N-1` (N = argv[1]) in bursts, then sleeps."""

import sys
import time

n = int(sys.argv[1])
for i in range(n):
    sys.stdout.write(f"line {i} {'x' * 40}\n")
    if i % 500 == 0:
        sys.stdout.flush()
sys.stdout.flush()
print("done", flush=True)
while True:
    time.sleep(3600)
