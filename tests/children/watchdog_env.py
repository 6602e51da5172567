"""A notify program that reports its watchdog environment, then speaks sd_notify through the
real libsystemd (ctypes) when it is installed, else through a plain datagram socket.

Prints one JSON line: its pid, WATCHDOG_PID, WATCHDOG_USEC, what libsystemd's
sd_watchdog_enabled() says of them (null without libsystemd). Then READY=1 and
STATUS=libsystemd|socket, and WATCHDOG=1 every 0.3 s for ever.
"""

import ctypes
import ctypes.util
import json
import os
import socket
import time


def libsystemd() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libsystemd.so.0")
    except OSError:
        return None


def plain_send(message: str) -> None:
    path = os.environ["NOTIFY_SOCKET"]
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(message.encode(), path)


lib = libsystemd()
enabled = None
usec = ctypes.c_uint64(0)
if lib is not None:
    enabled = lib.sd_watchdog_enabled(0, ctypes.byref(usec))
facts = {
    "pid": os.getpid(),
    "WATCHDOG_PID": os.environ.get("WATCHDOG_PID"),
    "WATCHDOG_USEC": os.environ.get("WATCHDOG_USEC"),
    "sd_watchdog_enabled": enabled,
    "usec": usec.value,
}
print(json.dumps(facts), flush=True)


def send(message: str) -> None:
    if lib is not None:
        lib.sd_notify(0, message.encode())
    else:
        plain_send(message)


send("READY=1\nSTATUS=" + ("libsystemd" if lib is not None else "socket"))
while True:
    time.sleep(0.3)
    send("WATCHDOG=1")
