#!/usr/bin/env python3
"""A singleton daemon's trace: every 100 ms appends `HOST TOKEN START END` to the file argv[1],
where START..END is the slice of time it was alive and writing (its own clock readings)."""

import os
import sys
import time

host, token = os.environ.get("PROBE_HOST", "?"), os.environ.get("PROCSUP_FENCING_TOKEN", "-")
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
start = time.time()
while True:
    time.sleep(0.1)
    end = time.time()
    os.write(fd, f"{host} {token} {start!r} {end!r}\n".encode())
    start = end
