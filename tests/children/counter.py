#!/usr/bin/env python3
"""Writes argv[1] numbered lines (`00000 xxxx…`), flushing every argv[2] lines (default 7), then
exits 0: output for checking that log rotation loses and repeats nothing."""

import sys

n = int(sys.argv[1])
every = int(sys.argv[2]) if len(sys.argv) > 2 else 7
for i in range(n):
    sys.stdout.write(f"{i:05d} {'x' * (i % 61)}\n")
    if i % every == 0:
        sys.stdout.flush()
sys.stdout.flush()
