"""bench_scale: procsup at 2,000 instances (issue 14), this checkout against another one side by
side in the same run (e.g. the commit before the change, unpacked with `git archive`).

For each tree, round by round (so a burst of load on the box hits both): a fresh master on one
program of N `sleep 3600` instances (`start_seconds = 0`), and
  - up: from launching the master until every instance's process exists (counted from
    /proc, every 50 ms) / every instance is RUNNING (then polled with `list`, stats off, every
    50 ms); both include the master's start-up;
  - `procsup list`, `list --json`, `status worker:7`: the full CLI as a subprocess, wall time,
    median of `--runs` after one warm-up, and the CPU time each run cost (the CLI process's
    and the master's while it ran: on a box shared with other jobs, wall times swing with
    their load, CPU times hardly);
  - the `list` call with stats from this process (the master's side, without CLI start-up);
  - master RSS (VmRSS) and idle master CPU (schedstat over `--idle` s, nobody polling);
  - stop all: the `stop` call for every instance, until it returns (all STOPPED).
Then it shuts the master down. Also, per round, the small case as a user runs it: each tree
installed (`pip install --no-deps`, a regular install, with its .pyc) in a venv of its own, a
master of `--small` programs, and `VENV/bin/procsup list` against `VENV/bin/python -c pass`,
interleaved, medians of 3 × `--runs` (`--no-venv` skips it). `list --json` is also timed with
a 1 s pause before each run, beside the back-to-back runs: a person's calls are seconds apart,
and no figure may owe anything to calls coming close together.
Prints one table: figure | tree A | tree B | target.

    python bench/bench_scale.py --other /tmp/base [--instances 2000] [--rounds 1] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import BenchError, cpu_seconds, log

REPO = Path(__file__).resolve().parent.parent
CONFIG = """
[procsup]
socket = "run/p.sock"
state_dir = "run"
log_dir = "logs"

[programs.worker]
command = "sleep 3600"
numprocs = {n}
start_seconds = 0
"""
#: where each master's folder (config, state, its 4,000 log files) is made: `--tmp`
TMP = "/tmp"
TARGETS = {
    "list, small, venv (ms)": "≤ 35",
    "python -c pass, venv (ms)": "-",
    "list / python -c pass": "≤ 2",
    "up, every process (s)": "≤ 2.5",
    "up, all RUNNING (s)": "≤ 3.5",
    "list call, stats (ms)": "-",
    "list (ms)": "≤ 100",
    "list --json (ms)": "≤ 100",
    "list --json, 1 s apart (ms)": "≤ 100",
    "status worker:7 (ms)": "≤ 40",
    "list CPU (ms)": "CLI+master",
    "list --json CPU (ms)": "CLI+master",
    "status worker:7 CPU (ms)": "CLI+master",
    "master RSS (MiB)": "≤ 45",
    "idle master CPU (%)": "0.000",
    "stop all (s)": "≤ 0.6",
}


class Master:
    """One master from `tree` (PYTHONPATH) in its own temp dir, and its CLI."""

    def __init__(self, tree: Path, n: int) -> None:
        self.tree = tree
        self.dir = Path(tempfile.mkdtemp(prefix="ps-", dir=TMP))
        self.config = self.dir / "procsup.toml"
        self.config.write_text(CONFIG.format(n=n))
        self.n = n
        # PYTHONSAFEPATH and cwd: `python -m procsup` would otherwise put the current folder
        # first on sys.path, and run from a checkout every "tree" would be that checkout
        self.env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONSAFEPATH": "1"}
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.cpu = 0.0

    def cli(self, *args: str) -> float:
        """Wall time of one CLI run, in ms; raises when it fails. `self.cpu` is set to the CPU
        time it cost, in ms: the CLI process's own and the master's (schedstat) while it ran,
        a figure the load of other jobs on the box hardly moves."""
        cmd = [sys.executable, "-m", "procsup", "-c", str(self.config), *args]
        assert self.proc is not None
        master0, kids0 = cpu_seconds(self.proc.pid), _children_cpu()
        t0 = time.perf_counter()
        res = subprocess.run(cmd, env=self.env, cwd=self.dir, capture_output=True, timeout=60)
        took = (time.perf_counter() - t0) * 1000
        spent = cpu_seconds(self.proc.pid) - master0 + _children_cpu() - kids0
        self.cpu = spent * 1000
        if res.returncode != 0:
            raise BenchError(f"{' '.join(args)}: {res.stderr.decode()[-300:]}")
        return took

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        sys.path.insert(0, str(self.tree))
        try:
            from procsup.control.client import Client

            return Client(str(self.dir / "run/p.sock"), timeout=60).call(cmd, args)
        finally:
            sys.path.remove(str(self.tree))

    def start(self) -> tuple[float, float]:
        """Launch; (s until every instance's process exists, s until every one is RUNNING).

        The processes are counted from the kernel (the master's children named `sleep`), not
        with `list`: a master that serves requests while it starts would spend much of its
        start-up answering a 2,000-row `list` every 50 ms. `list` is polled only after that."""
        cmd = [sys.executable, "-m", "procsup", "-c", str(self.config), "daemon", "-f"]
        t0 = time.monotonic()
        out = open(self.dir / "master.out", "wb")  # noqa: SIM115 - closed with the dir
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=self.dir, stdout=out, stderr=out)
        while self._children() < self.n:
            if time.monotonic() - t0 > 120:
                raise BenchError(f"{self.n} processes not up after 120 s")
            time.sleep(0.05)
        spawned = time.monotonic() - t0
        while time.monotonic() - t0 < 120:
            rows = self._rows()
            if rows is not None and sum(1 for r in rows if r["state"] == "RUNNING") >= self.n:
                return spawned, time.monotonic() - t0
            time.sleep(0.05)
        raise BenchError(f"{self.n} instances not RUNNING after 120 s")

    def _children(self) -> int:
        """How many of the master's children run `sleep` (its instances; not a spawn helper).
        Their names are read only once there are enough children at all."""
        try:
            master = int((self.dir / "run" / "procsup.pid").read_text().split()[0])
            kids = [
                pid
                for task in os.listdir(f"/proc/{master}/task")
                for pid in Path(f"/proc/{master}/task/{task}/children").read_text().split()
            ]
        except (OSError, ValueError, IndexError):
            return 0
        if len(kids) < self.n:
            return len(kids)
        return sum(1 for pid in kids if _comm(pid) == "sleep")

    def _rows(self) -> list[dict[str, Any]] | None:
        try:
            return list(self.call("list", {"stats": False})["instances"])
        except (OSError, BenchError):
            return None
        except Exception:  # the client's own errors while the master starts
            return None

    def timed_list(self) -> float:
        """The `list` call with stats over an open socket, in ms: the master's side alone."""
        t0 = time.perf_counter()
        self.call("list", {"stats": True})
        return (time.perf_counter() - t0) * 1000

    def rss_mib(self) -> float:
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise BenchError("no VmRSS")

    def idle_cpu(self, seconds: float) -> float:
        assert self.proc is not None
        before = cpu_seconds(self.proc.pid)
        time.sleep(seconds)
        return (cpu_seconds(self.proc.pid) - before) / seconds * 100

    def stop_all(self) -> float:
        t0 = time.monotonic()
        self.call("stop", {"names": ["all"]})
        return time.monotonic() - t0

    def shutdown(self) -> None:
        if self.proc is not None:
            try:
                self.call("shutdown")
                self.proc.wait(60)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _comm(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def measure(tree: Path, n: int, runs: int, idle: float) -> dict[str, float]:
    m = Master(tree, n)
    try:
        spawned, running = m.start()
        time.sleep(1)
        res = {"up, every process (s)": spawned, "up, all RUNNING (s)": running}
        for label, args in (
            ("list (ms)", ["list"]),
            ("list --json (ms)", ["list", "--json"]),
            ("status worker:7 (ms)", ["status", "worker:7"]),
        ):
            m.cli(*args)
            walls, cpus = [], []
            for _ in range(runs):
                walls.append(m.cli(*args))
                cpus.append(m.cpu)
            res[label] = statistics.median(walls)
            res[label.replace("(ms)", "CPU (ms)")] = statistics.median(cpus)
        m.cli("list", "--json")
        res["list --json, 1 s apart (ms)"] = statistics.median(
            _after_pause(lambda: m.cli("list", "--json")) for _ in range(min(runs, 5))
        )
        res["list call, stats (ms)"] = statistics.median(m.timed_list() for _ in range(runs))
        res["idle master CPU (%)"] = m.idle_cpu(idle)
        res["master RSS (MiB)"] = m.rss_mib()
        res["stop all (s)"] = m.stop_all()
        return res
    finally:
        m.shutdown()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _after_pause(run: Any) -> float:
    time.sleep(1.0)
    return float(run())


SMALL_CONFIG = """
[procsup]
socket = "run/p.sock"
state_dir = "run"
log_dir = "logs"
"""


def make_venv(tree: Path, where: Path) -> Path:
    """A venv with `tree` installed the way users install it (not editable, .pyc compiled)."""
    if not (where / "bin/python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    pip = [str(where / "bin/python"), "-m", "pip", "install", "-q", "--no-deps"]
    subprocess.run([*pip, "--force-reinstall", str(tree)], check=True, capture_output=True)
    return where / "bin"


def measure_small(trees: dict[str, Path], n: int, runs: int) -> dict[str, dict[str, float]]:
    """`procsup list` of `n` programs from each tree's venv, and `python -c pass` there,
    interleaved run by run so load on the box hits all alike."""
    bins = {
        name: make_venv(tree, Path(f"/tmp/ps-bench-venv-{name}")) for name, tree in trees.items()
    }
    masters = {name: Master(tree, 1) for name, tree in trees.items()}
    timed: dict[str, dict[str, list[float]]] = {name: {"list": [], "pass": []} for name in trees}
    try:
        for m in masters.values():
            programs = "".join(
                f'\n[programs.p{i}]\ncommand = "sleep 3600"\nstart_seconds = 0\n' for i in range(n)
            )
            m.config.write_text(SMALL_CONFIG + programs)
            m.n = n
            m.start()
        for _ in range(runs + 1):  # the first one warms the caches
            for name, m in masters.items():
                env = {**os.environ}
                env.pop("PYTHONPATH", None)
                list_cmd = [str(bins[name] / "procsup"), "-c", str(m.config), "list"]
                pass_cmd = [str(bins[name] / "python"), "-c", "pass"]
                for key, cmd in (("list", list_cmd), ("pass", pass_cmd)):
                    t0 = time.perf_counter()
                    subprocess.run(cmd, env=env, cwd=m.dir, check=True, stdout=subprocess.DEVNULL)
                    timed[name][key].append((time.perf_counter() - t0) * 1000)
    finally:
        for m in masters.values():
            m.shutdown()
    out = {}
    for name, t in timed.items():
        lst, pss = statistics.median(t["list"][1:]), statistics.median(t["pass"][1:])
        out[name] = {
            "list, small, venv (ms)": lst,
            "python -c pass, venv (ms)": pss,
            "list / python -c pass": lst / pss,
        }
    return out


def main() -> int:
    global TMP
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", type=Path, required=True, help="the tree to compare against")
    ap.add_argument("--instances", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--idle", type=float, default=5.0)
    ap.add_argument("--small", type=int, default=10, help="programs in the venv `list` case")
    ap.add_argument("--no-venv", action="store_true", help="skip the venv `list` case")
    ap.add_argument(
        "--tmp",
        default=TMP,
        help="folder for the masters' folders (see bench/README.md on ext4 without a journal)",
    )
    opts = ap.parse_args()
    TMP = opts.tmp
    trees = {"this": REPO, "other": opts.other.resolve()}
    got: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    for rnd in range(opts.rounds):
        small = {} if opts.no_venv else measure_small(trees, opts.small, opts.runs * 3)
        for name, tree in trees.items():
            log(f"round {rnd + 1}: {name} ({tree})")
            got[name].append(
                {**small.get(name, {}), **measure(tree, opts.instances, opts.runs, opts.idle)}
            )
    print(f"\n{opts.instances} instances, medians of {opts.rounds} round(s)")
    print(f"{'figure':<30}{'this':>10}{'other':>10}  target")
    for label, target in TARGETS.items():
        if label not in got["this"][0]:
            continue
        cells = [statistics.median(r[label] for r in got[k]) for k in trees]
        fmt = (
            "{:>10.3f}"
            if "CPU" in label
            else "{:>10.2f}"
            if "(s)" in label or "/" in label
            else "{:>10.1f}"
        )
        print(f"{label:<30}" + "".join(fmt.format(c) for c in cells) + f"  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
