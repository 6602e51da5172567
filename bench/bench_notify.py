"""What reading keep-alives costs, apart from everything else a master does: N notify sockets
(procsup.engine.notify.NotifySocket) on one asyncio loop in this process, fed N `WATCHDOG=1`
a second by one sender process that spaces them evenly (one every 1/N s, the worst case for
wake-ups: no two arrive together). Prints this process's CPU and wake-ups a second with every
socket read directly on the loop (how instances were read before the hub, and how a socket
is read until its READY=1) and pooled in a NotifyHub (engine/notifyhub.py).

    python bench/bench_notify.py [--sockets N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from procsup.engine.notify import NotifySocket
from procsup.engine.notifyhub import NotifyHub

SENDER = """
import socket, sys, time
paths = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
t = time.monotonic()
while True:
    for p in paths:
        t += 1.0 / len(paths)
        if (d := t - time.monotonic()) > 0:
            time.sleep(d)
        try:
            s.sendto(b"WATCHDOG=1", p)
        except OSError:
            pass
"""


async def measure(pooled: bool, n: int, seconds: float) -> str:
    loop = asyncio.get_running_loop()
    hub, got = NotifyHub(loop), [0]

    def count(_fields: dict[str, str]) -> None:
        got[0] += 1

    folder = tempfile.mkdtemp(prefix="psn-", dir="/tmp")
    socks = [
        NotifySocket(f"{folder}/{i}.sock", loop, count, lambda _pid: True, hub) for i in range(n)
    ]
    for sock in socks:
        sock.pool(pooled)
    sender = subprocess.Popen([sys.executable, "-c", SENDER, *(s.path for s in socks)])
    try:
        await asyncio.sleep(2)  # past the start
        r0, c0, t0 = resource.getrusage(resource.RUSAGE_SELF), got[0], time.monotonic()
        await asyncio.sleep(seconds)
        r1, c1, elapsed = resource.getrusage(resource.RUSAGE_SELF), got[0], time.monotonic() - t0
    finally:
        sender.kill()
        sender.wait()
        for sock in socks:
            sock.close()
        hub.close()
        shutil.rmtree(folder, ignore_errors=True)
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / elapsed * 100
    woke = (r1.ru_nvcsw - r0.ru_nvcsw) / elapsed
    label = "pooled (hub)" if pooled else "direct      "
    return (
        f"{label}: {(c1 - c0) / elapsed:.0f} datagrams/s, CPU {cpu:.2f}% of a core, "
        f"{woke:.0f} wake-ups/s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    for pooled in (False, True):
        print(asyncio.run(measure(pooled, args.sockets, args.seconds)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
