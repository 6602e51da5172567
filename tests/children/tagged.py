#!/usr/bin/env python3
"""Writes argv[1] numbered lines tagged with its instance's name (`w:3 000042 xxx…`, i % 53
x's), in writes of random sizes so that the master's pipe reads cut lines anywhere; then exits."""

import os
import random
import sys

name = os.environ["PROCSUP_PROCESS_NAME"]
data = "".join(f"{name} {i:06d} {'x' * (i % 53)}\n" for i in range(int(sys.argv[1]))).encode()
rng = random.Random(name)
view = memoryview(data)
while view:
    view = view[os.write(1, view[: rng.randint(1, 9000)]) :]
