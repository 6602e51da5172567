#!/usr/bin/env python3
"""Writes numbered 100-byte lines to stdout at about argv[1] MB/s, for ever: a program whose
output outruns a reader that does not read."""

import sys
import time

rate = float(sys.argv[1]) * 1024 * 1024
BLOCK = 64 * 1024
out = sys.stdout.buffer
n = 0
start = time.monotonic()
sent = 0
while True:
    lines = []
    for _ in range(BLOCK // 100):
        lines.append(f"{n:010d} {'x' * 88}\n".encode())
        n += 1
    block = b"".join(lines)
    out.write(block)
    out.flush()
    sent += len(block)
    ahead = sent / rate - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
