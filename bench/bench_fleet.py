#!/usr/bin/env python3
"""procsup fleet over Redis: what heartbeats cost and how fast `list --cluster` answers.

    python bench/bench_fleet.py [--window S] [--instances N] [--list-instances M]

One redis-server (no persistence) on a free loopback port, and 3 masters on this machine, each
with its own temp dir, node_name and `heartbeat_interval = "5s"`, running N instances of
`sleep` (default 500). Figures:
  master CPU       each master's own utime+stime (/proc/PID/stat, children excluded) over the
                   window (default 30 s), as % of one core; this includes everything the master
                   does, the CPU/RSS sampling the host entry carries included
  redis memory     MEMORY USAGE of each host entry, and used_memory of the server
  list --cluster   the masters scaled to M instances each (default 200): wall time of
                   `python -m procsup list --cluster` (interpreter start-up included), median
                   and max of 10, and of the read + format alone in this process
Every master is shut down at the end, on error too; the temp dirs are removed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
CLUSTER = "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise SystemExit(f"timed out after {timeout}s waiting for {what}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def config(root: Path, url: str, node: str, numprocs: int) -> Path:
    path = root / "procsup.toml"
    path.write_text(
        f"""[procsup]
redis_url = "{url}"
cluster = "{CLUSTER}"
node_name = "{node}"
heartbeat_interval = "5s"

[programs.worker]
command = "sleep 3600"
numprocs = {numprocs}
start_seconds = 0
"""
    )
    return path


def cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [PY, "-m", "procsup", "-c", str(cfg), "--no-autostart", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=300, check=False)


def all_running(client: redis.Redis, node: str, count: int) -> bool:
    import json

    body = client.get(f"procsup:fleet:{CLUSTER}:host:{node}")
    if body is None:
        return False
    rows = json.loads(body)["instances"]
    return len(rows) == count and all(r["state"] == "RUNNING" for r in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--list-instances", type=int, default=200)
    opts = parser.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    tmp = Path(tempfile.mkdtemp(prefix="pf-", dir="/tmp"))
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        cwd=tmp,
    )
    masters: list[tuple[Path, subprocess.Popen[bytes]]] = []
    try:
        client = redis.Redis.from_url(url, decode_responses=True)
        wait_for(lambda: _pings(client), 10, "redis-server")
        for i in (1, 2, 3):
            root = tmp / f"m{i}"
            root.mkdir()
            cfg = config(root, url, f"web-{i}", opts.instances)
            with open(root / "master.log", "wb") as log:
                argv = [PY, "-m", "procsup", "-c", str(cfg), "daemon", "-f"]
                proc = subprocess.Popen(argv, stdout=log, stderr=log, env=ENV)
            masters.append((cfg, proc))
        for i in (1, 2, 3):
            wait_for(lambda i=i: all_running(client, f"web-{i}", opts.instances), 180, f"web-{i}")
        print(f"3 masters x {opts.instances} instances, heartbeat every 5 s")
        time.sleep(5)  # let start-up settle
        before = [cpu_seconds(p.pid) for _, p in masters]
        time.sleep(opts.window)
        for (_, proc), used in zip(masters, before, strict=True):
            share = (cpu_seconds(proc.pid) - used) / opts.window * 100
            print(f"  master pid {proc.pid}: {share:.2f} % of one core over {opts.window:g} s")
        for i in (1, 2, 3):
            key = f"procsup:fleet:{CLUSTER}:host:web-{i}"
            size = int(client.memory_usage(key) or 0)
            print(f"  redis memory, host entry web-{i}: {size / 1024:.0f} KiB")
        print(f"  redis used_memory: {int(client.info('memory')['used_memory']) / 2**20:.1f} MiB")
        for cfg, _ in masters:
            cli(cfg, "scale", "worker", str(opts.list_instances))
        for i in (1, 2, 3):
            wait_for(
                lambda i=i: all_running(client, f"web-{i}", opts.list_instances), 60, f"web-{i}"
            )
        bench_list(masters[0][0], opts.list_instances)
    finally:
        for cfg, proc in masters:
            with contextlib.suppress(subprocess.TimeoutExpired):
                cli(cfg, "shutdown")
                proc.wait(60)
            if proc.poll() is None:
                proc.kill()
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def bench_list(cfg: Path, per_host: int) -> None:
    walls = []
    for _ in range(10):
        start = time.perf_counter()
        out = cli(cfg, "list", "--cluster")
        walls.append(time.perf_counter() - start)
        assert out.returncode == 0 and len(out.stdout.splitlines()) == 3 * per_host + 1
    sys.path.insert(0, str(ROOT))
    from procsup.cli import main as cli_main

    inner = []
    for _ in range(10):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            cli_main.main(["-c", str(cfg), "list", "--cluster"])
        inner.append(time.perf_counter() - start)
    print(f"list --cluster, 3 x {per_host} instances (target < 150 ms):")
    print(
        f"  whole command: median {statistics.median(walls) * 1000:.0f} ms, "
        f"max {max(walls) * 1000:.0f} ms"
    )
    print(
        f"  in process (read + format): median {statistics.median(inner) * 1000:.0f} ms, "
        f"max {max(inner) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
