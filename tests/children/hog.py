#!/usr/bin/env python3
"""Allocates argv[1] MB (touching every page) and holds it."""

import sys
import time

block = bytearray(int(sys.argv[1]) * 1024 * 1024)
for i in range(0, len(block), 4096):
    block[i] = 1
print(f"holding {sys.argv[1]} MB", flush=True)
while True:
    time.sleep(3600)
