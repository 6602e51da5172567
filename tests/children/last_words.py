#!/usr/bin/env python3
"""Writes a few lines and a last one without a trailing newline (argv[1] bytes of padding before
it, default 0), then exits at once."""

import os
import sys

pad = int(sys.argv[1]) if len(sys.argv) > 1 else 0
sys.stdout.write("first line\n")
if pad:
    sys.stdout.write(("p" * 99 + "\n") * (pad // 100))
sys.stdout.write("last words, no newline")
sys.stdout.flush()
os._exit(0)
