"""What health costs the master: 500 instances sending WATCHDOG=1 every second (a Perl loop
on a plain datagram socket, as a PHP worker would) and 100 instances with an HTTP readiness
probe every 2 s (against one server in this process), against the same 600 instances with no
health settings. Prints the master's CPU (percent of one core, over a window once everything
runs, from schedstat), how often it woke up (voluntary context switches a second: each is one
return from epoll_wait with the loop idle before) and `procsup list` latency.

    python bench/bench_health.py [--keepalive N] [--http N] [--seconds S]

A temp dir under /tmp holds the masters and is removed at the end.
"""

from __future__ import annotations

import argparse
import http.server
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import answers_hello, spawn_master

from procsup.control.client import Client, ClientError, NoMaster

PY = sys.executable
KEEPALIVE = [
    "perl",
    "-MSocket",
    "-e",
    "socket(S, PF_UNIX, SOCK_DGRAM, 0) or die; $a = pack_sockaddr_un($ENV{NOTIFY_SOCKET}); "
    'send(S, "READY=1", 0, $a); select(undef, undef, undef, rand(1)); '
    'while (1) { send(S, "WATCHDOG=1", 0, $a); sleep 1 }',
]  # each at its own point of the second, as independent workers are (not in one burst)


class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def config(keepalive: int, probed: int, port: int, health: bool) -> str:
    wd = 'notify = true\nwatchdog = "10s"\n' if health else ""
    ready = (
        f'[programs.web.readiness]\nhttp = "http://127.0.0.1:{port}/health?i={{num}}"\n'
        'period = "2s"\n'
        if health
        else ""
    )
    cmd = json.dumps(KEEPALIVE if health else ["sleep", "86400"])  # a JSON array is TOML too
    return f"""
[programs.wd]
command = {cmd}
numprocs = {keepalive}
start_seconds = 0
{wd}
[programs.web]
command = "sleep 86400"
numprocs = {probed}
start_seconds = 0
{ready}"""


def start(root: Path, text: str) -> tuple[subprocess.Popen[bytes], str]:
    proc, sock = spawn_master(root, text)
    errors = (NoMaster, ClientError, OSError)
    if answers_hello(sock, wait=120, call_timeout=30, poll=0.1, retry_on=errors):
        return proc, sock
    proc.kill()
    raise SystemExit("the master did not answer: " + (root / "master.err").read_text())


def all_running(sock: str, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Client(sock, timeout=30) as c:
            rows = c.call("list", {"stats": False})["instances"]
        if len(rows) == n and all(r["state"] == "RUNNING" for r in rows):
            return
        time.sleep(0.5)
    raise SystemExit("not every instance became RUNNING")


def cpu_seconds(pid: int) -> float:
    """Time on a CPU, all threads, from the scheduler (ns): the tick-sampled utime + stime
    of /proc/PID/stat swing by a third between runs for a process that wakes briefly."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def wakeups(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt"))


def list_ms(sock: str, times: int = 20) -> float:
    samples = []
    for _ in range(times):
        t0 = time.perf_counter()
        with Client(sock, timeout=30) as c:
            c.call("list", {"stats": False})
        samples.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.05)
    return statistics.median(samples)


def measure(label: str, text: str, n: int, seconds: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="psb-", dir="/tmp"))
    proc, sock = start(root, text)  # kills its master when it gives up
    try:
        all_running(sock, n, 180)
        time.sleep(3)  # past the start-up burst
        c0, w0, t0 = cpu_seconds(proc.pid), wakeups(proc.pid), time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        cpu = (cpu_seconds(proc.pid) - c0) / elapsed * 100
        woke = (wakeups(proc.pid) - w0) / elapsed
        latency = list_ms(sock)
        with Client(sock, timeout=30) as c:
            rows = c.call("list", {"stats": False})["instances"]
        restarts = sum(r["restarts"] for r in rows)
        ready = sum(1 for r in rows if r["ready"])
        print(
            f"{label}: master CPU {cpu:.2f}% of a core over {seconds:g}s, {woke:.0f} wake-ups/s; "
            f"list of {n} rows median {latency:.1f} ms; {ready} ready; {restarts} restarts"
        )
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keepalive", type=int, default=500)
    parser.add_argument("--http", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    if shutil.which("perl") is None:
        raise SystemExit("perl is needed for the keep-alive senders")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    n = args.keepalive + args.http
    measure("no health", config(args.keepalive, args.http, port, False), n, args.seconds)
    measure("health", config(args.keepalive, args.http, port, True), n, args.seconds)
    server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
