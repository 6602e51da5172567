"""A queue worker speaking sd_notify(3) over a plain datagram socket (no library), as a PHP or
Python worker would: READY=1 and STATUS= once, then a job and WATCHDOG=1 every `interval`.

Usage: notifier.py INTERVAL [HANG_NUM HANG_FLAG]. The instance numbered HANG_NUM, when the file
HANG_FLAG does not exist yet, creates it, takes a job and hangs for ever (no output, no
keep-alive); its replacement finds the flag and works normally.
"""

import os
import socket
import sys
import time


def send(message: str) -> None:
    path = os.environ["NOTIFY_SOCKET"]
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(message.encode(), path)


interval = float(sys.argv[1])
num = os.environ["PROCSUP_PROCESS_NUM"]
hang = len(sys.argv) > 3 and sys.argv[2] == num and not os.path.exists(sys.argv[3])
send("READY=1\nSTATUS=waiting for jobs")
print(f"worker {num} ready", flush=True)
if hang:
    open(sys.argv[3], "w").close()
    print(f"worker {num} took a job", flush=True)
    while True:
        time.sleep(3600)
job = 0
while True:
    job += 1
    print(f"worker {num} job {job}", flush=True)
    send(f"WATCHDOG=1\nSTATUS=job {job}")
    time.sleep(interval)
