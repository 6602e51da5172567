"""What misbehaving clients cost the master: RSS with stuck `logs -f` followers against a fast
writer, and how soon `procsup list` answers during and after a flood of idle connections.

    python bench/bench_clients.py [--rate MB_PER_S] [--seconds S]

Prints one figure per line; a temp dir under /tmp holds the master and is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import answers_hello, spawn_master

from procsup.control.client import NoMaster

ROOT = Path(__file__).resolve().parents[1]
FIREHOSE = ROOT / "tests" / "children" / "firehose.py"
PY = sys.executable


def start_master(root: Path, config: str) -> tuple[subprocess.Popen[bytes], str]:
    proc, sock = spawn_master(root, config)
    if answers_hello(sock, wait=15, call_timeout=2, poll=0.05, retry_on=(NoMaster, OSError)):
        return proc, sock
    raise SystemExit("the master did not answer")


def stop_master(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def rss(pid: int) -> int:
    """The master's resident set in bytes, from /proc (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _follow(sock: str) -> socket.socket:
    """A `logs -f` client that sends its request and never reads."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    req = {"id": 1, "cmd": "logs", "args": {"names": ["gush"], "follow": True}}
    s.sendall(json.dumps(req).encode() + b"\n")
    return s


def _subscribe(sock: str) -> socket.socket:
    """An `events` subscriber with stats that never reads."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    req = {"id": 1, "cmd": "events", "args": {"stats_interval": 0.2, "stats": True}}
    s.sendall(json.dumps(req).encode() + b"\n")
    return s


def _peak(pid: int, seconds: float) -> int:
    peak = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        peak = max(peak, rss(pid))
        time.sleep(0.05)
    return peak


def stuck_clients(rate: float, seconds: float, counts: list[int], events: bool) -> None:
    """For each count, a fresh master on a firehose; stuck followers (or subscribers) join,
    stay `seconds`, then leave; RSS before, at the peak, and 2 s after they left."""
    kind = "subscribers" if events else "followers"
    for n in counts:
        root = Path(tempfile.mkdtemp(prefix="pbc-", dir="/tmp"))
        cfg = (
            f'[programs.gush]\ncommand = "{PY} {FIREHOSE} {rate}"\nstart_seconds = 0\n'
            'log_max_size = "4MB"\nlog_backups = 1\n'
        )
        proc, sock = start_master(root, cfg)
        try:
            time.sleep(1)
            base = _peak(proc.pid, 1)
            socks = [(_subscribe if events else _follow)(sock) for _ in range(n)]
            peak = _peak(proc.pid, seconds)
            for s in socks:
                s.close()
            time.sleep(2)
            after = rss(proc.pid)
            print(
                f"stuck {kind}: {n:3d} at {rate:g} MB/s for {seconds:g}s: master RSS "
                f"{base / 2**20:.1f} MiB -> peak {peak / 2**20:.1f} MiB "
                f"(+{(peak - base) / 2**20:.1f}), 2 s after they left "
                f"{after / 2**20:.1f} MiB (+{(after - base) / 2**20:.1f})",
                flush=True,
            )
        finally:
            stop_master(proc)
            shutil.rmtree(root, ignore_errors=True)


def idle_flood(count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 500)), hard))
    root = Path(tempfile.mkdtemp(prefix="pbc-", dir="/tmp"))
    proc, sock = start_master(
        root, '[procsup]\nidle_timeout = "3s"\n[programs.s]\ncommand = "sleep 3600"\n'
    )
    try:
        socks = []
        for _ in range(count):
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            socks.append(s)
        cli = [PY, "-m", "procsup", "-c", str(root / "procsup.toml"), "--no-autostart", "list"]
        began = time.monotonic()
        first = subprocess.run(cli, capture_output=True, text=True, timeout=60)
        answer = time.monotonic() - began
        verdict = "ok" if first.returncode == 0 else first.stderr.strip()
        print(f"idle flood: {count} connections: `list` answered in {answer:.2f}s ({verdict})")
        while subprocess.run(cli, capture_output=True, timeout=60).returncode != 0:
            time.sleep(0.1)
        print(
            f"idle flood: `list` works again {time.monotonic() - began:.2f}s after the flood "
            "(idle_timeout 3s), with the flood's sockets still open on the client side"
        )
        for s in socks:
            s.close()
    finally:
        stop_master(proc)
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=50.0, help="firehose MB/s")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--idle", type=int, default=1000, help="idle connections")
    parser.add_argument("--counts", default="1,10,100,200", help="stuck clients per round")
    parser.add_argument("--only", choices=["followers", "events", "idle"], default=None)
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    if args.only in (None, "followers"):
        stuck_clients(args.rate, args.seconds, counts, events=False)
    if args.only in (None, "events"):
        stuck_clients(args.rate, args.seconds, counts, events=True)
    if args.only in (None, "idle"):
        idle_flood(args.idle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
