"""bench_scale_supervisord: issue 14's figures that supervisord also has, side by side with
procsup in one run, at 2,000 `sleep 3600` processes.

Round by round (so load on the box hits both), a fresh supervisord 4.x (bench_core's venv,
`numprocs = N`, `startsecs = 0`, `minfds` raised so it starts at all) and a fresh procsup master
of this checkout (bench_scale.measure, the same program with `start_seconds = 0`):
  - up: from launching the master until every process exists (the master's children named
    `sleep`, counted from /proc every 50 ms) / until all are RUNNING (supervisord:
    getAllProcessInfo over XML-RPC, procsup: `list` without stats, every 50 ms);
  - the status listing as a user types it: `supervisorctl status` against `procsup list`, and
    one process: `supervisorctl status worker:worker_0007` against `procsup status worker:7`
    (wall time, median of --runs after a warm-up; and the CPU of the CLI and the master);
  - the master's RSS, its idle CPU (schedstat over --idle s), and stop all (supervisord:
    stopAllProcesses with wait, procsup: the `stop all` call; both return once all stopped).

    python bench/bench_scale_supervisord.py [--instances 2000] [--rounds 1] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_core import Supervisord, cpu_seconds, ensure_supervisord, log
from bench_scale import REPO, _children_cpu, _comm, measure

ROWS = [  # (label, procsup's figure in bench_scale.measure, target)
    ("up, every process (s)", "up, every process (s)", "≤ 2.5"),
    ("up, all RUNNING (s)", "up, all RUNNING (s)", "≤ 3.5"),
    ("list: procsup list / supervisorctl status (ms)", "list (ms)", "≤ 100"),
    ("one process: status worker:7 (ms)", "status worker:7 (ms)", "≤ 40"),
    ("list CPU, CLI + master (ms)", "list CPU (ms)", "-"),
    ("one process CPU, CLI + master (ms)", "status worker:7 CPU (ms)", "-"),
    ("master RSS (MiB)", "master RSS (MiB)", "≤ 45"),
    ("idle master CPU (%)", "idle master CPU (%)", "0.000"),
    ("stop all (s)", "stop all (s)", "≤ 0.6"),
]


class SupervisordScale:
    """One supervisord with N sleeps in a temp dir."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.tmp = Path(tempfile.mkdtemp(prefix="svs-", dir="/tmp"))
        program = {
            "command": "sleep 3600",
            "numprocs": n,
            "process_name": "%(program_name)s_%(process_num)04d",
            "startsecs": 0,
            "autorestart": "true",
        }
        self.sv = Supervisord(self.tmp, {"worker": program})
        text = self.sv.config.read_text()
        fds = max(1024, n * 4 + 100)  # its default minfds=1024 refuses 2,000 processes
        self.sv.config.write_text(text.replace("[supervisord]\n", f"[supervisord]\nminfds={fds}\n"))
        self.cpu = 0.0

    def start(self) -> tuple[float, float]:
        t0 = self.sv.launch()
        while self._sleeps() < self.n:
            self.sv.check_alive()
            if time.perf_counter() - t0 > 300:
                raise SystemExit(f"supervisord: {self.n} processes not up after 300 s")
            time.sleep(0.05)
        spawned = time.perf_counter() - t0
        while True:
            try:
                if self.sv.count_running() >= self.n:
                    return spawned, time.perf_counter() - t0
            except OSError:
                pass
            time.sleep(0.05)

    def _sleeps(self) -> int:
        try:
            kids = Path(f"/proc/{self.sv.pid}/task/{self.sv.pid}/children").read_text().split()
        except OSError:
            return 0
        if len(kids) < self.n:
            return len(kids)
        return sum(1 for pid in kids if _comm(pid) == "sleep")

    def ctl(self, *args: str) -> float:
        """Wall ms of one supervisorctl run; self.cpu = its CPU and the master's, in ms."""
        cmd = [*self.sv.list_cmd()[:-1], *args]
        master0, kids0 = cpu_seconds(self.sv.pid), _children_cpu()
        t0 = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, timeout=120)
        took = (time.perf_counter() - t0) * 1000
        self.cpu = (cpu_seconds(self.sv.pid) - master0 + _children_cpu() - kids0) * 1000
        if res.returncode not in (0, 3):  # 3: some process not RUNNING (none here)
            raise SystemExit(f"supervisorctl {' '.join(args)}: {res.stdout[-300:]!r}")
        return took

    def measure(self, runs: int, idle: float) -> dict[str, float]:
        try:
            spawned, running = self.start()
            time.sleep(1)
            res = {"up, every process (s)": spawned, "up, all RUNNING (s)": running}
            for label, args in (
                ("list (ms)", ["status"]),
                ("status worker:7 (ms)", ["status", "worker:worker_0007"]),
            ):
                self.ctl(*args)
                walls, cpus = [], []
                for _ in range(runs):
                    walls.append(self.ctl(*args))
                    cpus.append(self.cpu)
                res[label] = statistics.median(walls)
                res[label.replace("(ms)", "CPU (ms)")] = statistics.median(cpus)
            before = cpu_seconds(self.sv.pid)
            time.sleep(idle)
            res["idle master CPU (%)"] = (cpu_seconds(self.sv.pid) - before) / idle * 100
            res["master RSS (MiB)"] = _rss_mib(self.sv.pid)
            t0 = time.perf_counter()
            self.sv.rpc.supervisor.stopAllProcesses(True)
            res["stop all (s)"] = time.perf_counter() - t0
            return res
        finally:
            self.close()

    def close(self) -> None:
        if self.sv.alive():
            try:
                self.sv.rpc.supervisor.shutdown()
                assert self.sv.proc is not None
                self.sv.proc.wait(120)
            except Exception:
                assert self.sv.proc is not None
                self.sv.proc.kill()
                self.sv.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}" if value < 1 else f"{value:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=5.0)
    args = parser.parse_args()
    log(f"supervisord {ensure_supervisord()}; procsup from {REPO}")
    results: dict[str, list[dict[str, float]]] = {"procsup": [], "supervisord": []}
    for r in range(args.rounds):
        log(f"round {r + 1}: supervisord")
        results["supervisord"].append(
            SupervisordScale(args.instances).measure(args.runs, args.idle)
        )
        log(f"round {r + 1}: procsup")
        results["procsup"].append(measure(REPO, args.instances, args.runs, args.idle))
    print(f"\n{args.instances} processes, median of {args.rounds} round(s)")
    print("| figure | procsup | supervisord | target |\n| --- | --- | --- | --- |")
    for label, key, target in ROWS:
        cells = [
            _fmt(statistics.median(res[key] for res in results[kind]))
            for kind in ("procsup", "supervisord")
        ]
        print(f"| {label} | {cells[0]} | {cells[1]} | {target} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
