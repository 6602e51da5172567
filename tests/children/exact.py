#!/usr/bin/env python3
"""Writes argv[1] random bytes (seeded with argv[2]: every byte value, newlines now and then,
invalid UTF-8) whose last byte is not a newline, and exits. `payload` is what it writes."""

import os
import random
import sys


def payload(size: int, seed: int) -> bytes:
    data = random.Random(seed).randbytes(size)
    return data[:-1] + b"." if data.endswith(b"\n") else data


if __name__ == "__main__":
    view = memoryview(payload(int(sys.argv[1]), int(sys.argv[2])))
    while view:
        view = view[os.write(1, view) :]
