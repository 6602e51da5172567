#!/usr/bin/env python3
"""The cost of cgroup tracking against process tracking, at 500 instances.

    python bench/bench_tracking.py [--instances N] [--idle SECONDS] [--rounds R]

For each tracking (`tracking = "process"`, then `tracking = "cgroup"`), R rounds of:
  1. up: launch a master on one program with numprocs = N (`sleep 3600`, start_seconds = 0)
     and time until a `list` poll (every 20 ms) sees N RUNNING (master start-up included);
  2. idle CPU: the master's CPU (utime + stime from /proc) over the idle window, % of one core;
  3. stop all: time of the `stop all` call (it returns once every instance is STOPPED);
  4. shutdown, then check that no process and no cgroup of the master is left.
Then, once per tracking, restart latency: a daemon (bench/crashy.sh) that has run past
min_uptime is made to exit, 8 times; the time from its exit to the new instance's first line.
Medians are printed per tracking. Cgroup tracking needs root (or a delegated cgroup); without
it only process tracking is measured, and that is said. Everything runs under /tmp/pb-XXXX and
is stopped at the end, also on an error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from procsup.control.client import Client, NoMaster  # noqa: E402
from procsup.engine.cgroups import probe, subtree_path  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CRASHY = REPO / "bench" / "crashy.sh"
RESTART_TRIALS = 8


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    fields = data[data.rfind(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def call(sock: str, cmd: str, args: dict | None = None, timeout: float = 120) -> dict:
    with Client(sock, timeout=timeout) as client:
        return client.call(cmd, args)


def running(sock: str) -> int:
    try:
        rows = call(sock, "list", {"stats": False})["instances"]
    except (NoMaster, OSError):
        return 0
    return sum(r["state"] == "RUNNING" for r in rows)


def wait_until(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


def start_master(root: Path, tracking: str, programs: str) -> tuple[subprocess.Popen, str]:
    (root / "procsup.toml").write_text(f'[procsup]\ntracking = "{tracking}"\n{programs}')
    master = subprocess.Popen(
        [sys.executable, "-m", "procsup", "-c", str(root / "procsup.toml"), "daemon", "-f"],
        stdout=subprocess.DEVNULL,
        stderr=open(root / "master.log", "wb"),  # noqa: SIM115
        stdin=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        start_new_session=True,
    )
    return master, str(root / "run" / "procsup.sock")


def stop_master(master: subprocess.Popen, root: Path) -> None:
    if master.poll() is None:
        master.send_signal(signal.SIGTERM)
        try:
            master.wait(60)
        except subprocess.TimeoutExpired:
            master.kill()
    shutil.rmtree(root, ignore_errors=True)


def lines(path: Path, what: str) -> dict[int, float]:
    found = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == what:
            found[int(parts[1])] = float(parts[2])
    return found


def restart_latency(tracking: str) -> list[float]:
    """ms from a long-running daemon's exit to its replacement's first line."""
    root = Path(tempfile.mkdtemp(prefix="pb-", dir="/tmp"))
    times = root / "crashy.times"
    times.touch()
    program = f'[programs.c]\ncommand = "{CRASHY} {times}"\nstart_seconds = 1\nmin_uptime = "1s"\n'
    master, _ = start_master(root, tracking, program)
    try:
        wait_until(lambda: lines(times, "start"), 30, "the first start")
        latencies: list[float] = []
        for _ in range(RESTART_TRIALS):
            pid = max(lines(times, "start").items(), key=lambda kv: kv[1])[0]
            time.sleep(1.5)  # past min_uptime: restarted at once
            os.kill(pid, signal.SIGUSR1)
            n = len(latencies) + 2
            wait_until(lambda n=n: len(lines(times, "start")) >= n, 15, "the restart")
            new = max(lines(times, "start").values())
            latencies.append((new - lines(times, "exit")[pid]) * 1000)
        return latencies
    finally:
        stop_master(master, root)


def one_round(tracking: str, n: int, idle: float) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="pb-", dir="/tmp"))
    program = f'[programs.s]\ncommand = "sleep 3600"\nnumprocs = {n}\nstart_seconds = 0\n'
    t0 = time.monotonic()
    master, sock = start_master(root, tracking, program)
    try:
        wait_until(lambda: running(sock) == n, 120, f"{n} RUNNING")
        up = time.monotonic() - t0
        assert call(sock, "hello")["tracking"] == tracking
        time.sleep(1.0)  # let the start-up settle before the idle window
        c0, w0 = cpu_seconds(master.pid), time.monotonic()
        time.sleep(idle)
        idle_pct = (cpu_seconds(master.pid) - c0) / (time.monotonic() - w0) * 100
        t1 = time.monotonic()
        call(sock, "stop", {"names": ["all"]})
        stop = time.monotonic() - t1
        call(sock, "shutdown")
        master.wait(120)
        left = Path(subtree_path(str(root / "run")))
        if left.exists():
            raise RuntimeError(f"cgroup subtree left behind: {left}")
        return {"up": up, "idle": idle_pct, "stop": stop}
    finally:
        stop_master(master, root)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--idle", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    trackings = ["process"]
    cgroup = probe("auto", "/tmp")
    if cgroup.kind == "cgroup":
        trackings.append("cgroup")
    else:
        print(f"cgroup tracking not measured: {cgroup.detail}")
    results: dict[str, list[dict[str, float]]] = {t: [] for t in trackings}
    for r in range(opts.rounds):
        for tracking in trackings:
            res = one_round(tracking, opts.instances, opts.idle)
            results[tracking].append(res)
            print(
                f"round {r + 1} {tracking:<8} up {res['up']:.2f} s  stop {res['stop']:.2f} s  "
                f"idle {res['idle']:.3f} %",
                flush=True,
            )
    restarts = {}
    for tracking in trackings:
        restarts[tracking] = restart_latency(tracking)
        print(f"restart {tracking:<8}" + " ".join(f"{x:.1f}" for x in restarts[tracking]) + " ms")
    print(f"\n{opts.instances} instances, median of {opts.rounds} round(s):")
    print(f"{'tracking':<10}{'all up':>10}{'stop all':>10}{'idle CPU':>11}{'restart':>11}")
    for tracking, rows in results.items():
        med = {k: statistics.median(row[k] for row in rows) for k in ("up", "stop", "idle")}
        restart = statistics.median(restarts[tracking])
        print(
            f"{tracking:<10}{med['up']:>8.2f} s{med['stop']:>8.2f} s{med['idle']:>9.3f} %"
            f"{restart:>8.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
