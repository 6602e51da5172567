#!/usr/bin/env python3
"""procsup cron tasks: how late runs start, and the master's CPU per run.

    python bench/bench_tasks.py [--minutes M] [--seconds S] [--only KEYS] [--quick] [--keep]

Scenarios, each with its own master (`python -m procsup -c CFG daemon -f`) in a temp dir:
  idle    20 tasks due far away (`0 0 1 1 *`): the master's CPU while it waits (% of one CPU)
  one     1 task `* * * * * *` for M minutes (default 3): start delay (median, p99, max), drift,
          CPU/run
  load    20 tasks, all `* * * * * *`, for 1 minute (or S seconds): 20 tasks due at the same
          second, every second: delay of every run, of the last of the 20, first -> last spread
  every   one `@every 0.5s` task for 1 minute: the same at 2 runs a second
  scale   200 tasks, all `* * * * * *`, for 3 minutes (or S seconds): p99 and missed fires

Start delay, two ways (see bench/README.md):
  run side     bash's $EPOCHREALTIME in the run minus PROCSUP_SCHEDULED_EPOCH: from the scheduled
               instant until the run's own process executes (includes fork+exec and bash start-up)
  master side  `started - scheduled` from `procsup history --json`: until the master had spawned it

CPU per run: the master's own utime+stime (/proc/PID/stat, children excluded: they are the
payload) over the measurement window, divided by the runs scheduled in it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from bench_core import (
    OUT,
    BenchError,
    become_subreaper,
    cpu_seconds,
    interruptible,
    log,
    py_env,
    tail,
    wait_for,
)

from procsup.control.client import Client, ClientError, NoMaster

TARGET_P99_MS = 50.0  # the issue: a run starts within 50 ms of its scheduled instant (idle box)
TARGET_BURST_P99_MS = 30.0  # issue 14: 20 tasks due at the same second, p99 of the last of them
TARGET_SCALE_P99_MS = 50.0  # issue 14: 200 tasks every second, p99 with none missed
SCALE_TASKS = 200
TARGET_DRIFT_MS = 5.0  # "no drift": the last third's median delay exceeds the first's by less
LOAD_TASKS = 20
IDLE_TASKS = 20
FLOOR_RUNS = 20
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Scenario:
    key: str
    title: str
    schedules: dict[str, str]  # task name -> schedule
    window: float  # seconds measured
    interval: float | None  # seconds between fires of one task (None: idle)
    target_p99: float | None = None  # ms, run side: the verdict (None: shown without one)
    target_last_p99: float | None = None  # ms, run side, the latest run of each instant


@dataclass
class Result:
    runs: int = 0
    expected: int = 0
    missed: int = 0
    skipped: int = 0
    failed: int = 0
    run_side: list[float] = field(default_factory=list)  # ms, in scheduled order
    master_side: list[float] = field(default_factory=list)  # ms, same runs
    cpu_stat_s: float = 0.0  # utime+stime over the window
    cpu_sched_s: float = 0.0  # schedstat over the window
    window_s: float = 0.0
    helper_cpu_s: float | None = None  # utime+stime of the spawn helper (None: none)
    fire_spread: list[float] = field(default_factory=list)  # ms, first..last start per instant
    last_run_side: list[float] = field(default_factory=list)  # ms, the latest run of each instant
    last_master_side: list[float] = field(default_factory=list)  # ms, the same, master side


# --- one master ---------------------------------------------------------------------------------


class Master:
    """A procsup master with only tasks, each run appending one line to `runs.txt`."""

    def __init__(self, tmp: Path, schedules: dict[str, str], bash: str) -> None:
        self.tmp = tmp
        self.config = tmp / "procsup.toml"
        self.socket = str(tmp / "ps.sock")
        self.runs_file = tmp / "runs.txt"
        self.errlog = tmp / "master.err"
        self.proc: subprocess.Popen[bytes] | None = None
        record = (
            'echo "$PROCSUP_TASK $PROCSUP_RUN_ID $PROCSUP_SCHEDULED_EPOCH $EPOCHREALTIME"'
            f" >> {self.runs_file}"
        )
        lines = [
            "[procsup]",
            f"socket = {json.dumps(self.socket)}",
            f"state_dir = {json.dumps(str(tmp / 'st'))}",
            f"log_dir = {json.dumps(str(tmp / 'logs'))}",
            "",
        ]
        for name, schedule in schedules.items():
            lines += [
                f"[tasks.{name}]",
                f"command = {json.dumps([bash, '-c', record])}",
                f"schedule = {json.dumps(schedule)}",
                "history = 100000",
                'environment = { LC_ALL = "C" }',  # $EPOCHREALTIME with a decimal point
                "",
            ]
        self.config.write_text("\n".join(lines))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        with open(self.errlog, "ab") as err:
            # own session: Ctrl-C in the terminal reaches only the bench, which stops it in order
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "procsup", "-c", str(self.config), "daemon", "-f"],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                start_new_session=True,
                env=py_env("procsup"),
            )
        wait_for(self._answers, 30, 0.05, f"the master in {self.tmp} to answer")

    def _answers(self) -> bool:
        self.check_alive()
        try:
            Client(self.socket, timeout=5).connect().close()
        except (OSError, NoMaster, ClientError):
            return False
        return True

    def helper(self) -> int | None:
        """The pid of the master's spawn helper (procsup/engine/spawnhelper_main.py), if there
        is one: under cgroup tracking it clones the runs, so its CPU is part of a run's cost."""
        with contextlib.suppress(psutil.Error):
            for proc in psutil.Process(self.pid).children():
                if any("spawnhelper" in arg for arg in proc.cmdline()):
                    return proc.pid
        return None

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(
                f"master exited with status {self.proc.returncode}:\n{tail(self.errlog)}"
            )

    def cli(self, *args: str, timeout: float = 60) -> str:
        cmd = [sys.executable, "-m", "procsup", "-c", str(self.config), *args]
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=py_env("procsup")
        )
        if out.returncode != 0:
            raise BenchError(f"`procsup {' '.join(args)}` exited {out.returncode}: {out.stderr}")
        return out.stdout

    def history(self) -> list[dict[str, Any]]:
        return json.loads(self.cli("history", "-n", "100000", "--json"))

    def run_lines(self) -> dict[str, tuple[str, float, float]]:
        """run_id -> (task, scheduled epoch, the run's own start time), from inside the runs."""
        runs = {}
        with contextlib.suppress(FileNotFoundError):
            for line in self.runs_file.read_text().splitlines():
                parts = line.split()
                if len(parts) == 4:
                    runs[parts[1]] = (parts[0], float(parts[2]), float(parts[3]))
        return runs

    def stop(self) -> None:
        """`procsup shutdown`, then SIGTERM, then SIGKILL to the master's process group."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            self.cli("shutdown", timeout=60)
        except (BenchError, subprocess.TimeoutExpired) as exc:
            log(f"  shutdown failed ({exc}); sending SIGTERM")
            proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            log(f"  master {proc.pid} still there after 60 s; SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def stat_cpu(pid: int) -> float:
    """utime + stime of `pid` itself (not its children), in seconds (clock-tick resolution)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        raise BenchError(f"process {pid} is gone") from None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


# --- statistics ---------------------------------------------------------------------------------


def p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def summary(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{statistics.median(values):.1f} / {p99(values):.1f} / {max(values):.1f}"


def thirds(values: list[float]) -> tuple[float, float] | None:
    """Median of the first third and of the last third (values in scheduled order)."""
    k = len(values) // 3
    if k < 1:
        return None
    return statistics.median(values[:k]), statistics.median(values[-k:])


# --- the bench ----------------------------------------------------------------------------------


class Bench:
    def __init__(
        self, minutes: float, seconds: float | None, quick: bool, keep: bool, only: set[str]
    ) -> None:
        self.keep = keep
        self.bash = shutil.which("bash") or "/bin/bash"
        self.root = Path(tempfile.mkdtemp(prefix="pt-", dir="/tmp"))
        main = 12.0 if quick else minutes * 60
        load = seconds or (6.0 if quick else 60.0)
        scale = seconds or (10.0 if quick else 180.0)
        self.idle_window = 5.0 if quick else 20.0
        far = "0 0 1 1 *"
        every_second = "* * * * * *"
        scenarios = [
            Scenario(
                "idle",
                f"idle, {IDLE_TASKS} tasks `{far}`",
                {f"i{i:02d}": far for i in range(IDLE_TASKS)},
                self.idle_window,
                None,
            ),
            Scenario("one", "1 task `* * * * * *`", {"t0": every_second}, main, 1.0, TARGET_P99_MS),
            Scenario(
                "load",
                f"{LOAD_TASKS} tasks `* * * * * *`",
                {f"t{i:02d}": every_second for i in range(LOAD_TASKS)},
                load,
                1.0,
                target_last_p99=TARGET_BURST_P99_MS,
            ),
            Scenario(
                "every", "1 task `@every 0.5s`", {"e0": "@every 0.5s"}, 60.0, 0.5, TARGET_P99_MS
            ),
            Scenario(
                "scale",
                f"{SCALE_TASKS} tasks `* * * * * *`",
                {f"s{i:03d}": every_second for i in range(SCALE_TASKS)},
                scale,
                1.0,
                TARGET_SCALE_P99_MS,
            ),
        ]
        if quick:
            scenarios[3].window = 6.0
        self.scenarios = [sc for sc in scenarios if not only or sc.key in only]
        self.masters: list[Master] = []
        self.results: dict[str, Result] = {}
        self.errors: list[str] = []
        self.info: dict[str, Any] = {"load_start": os.getloadavg()[0]}

    def run(self) -> None:
        self.floor()
        for sc in self.scenarios:
            log(f"{sc.title}: {sc.window:g} s window")
            try:
                self.results[sc.key] = self.measure(sc)
            except BenchError as exc:
                self.errors.append(f"{sc.title}: {exc}")
                log(f"  FAILED: {exc}")
            except Exception as exc:  # one broken scenario must not cost the others
                self.errors.append(f"{sc.title}: {exc!r}")
                log(f"  FAILED: {exc!r}\n{traceback.format_exc()}")
            finally:
                self.stop_all()
        self.info["load_end"] = os.getloadavg()[0]

    def floor(self) -> None:
        """fork+exec of the same bash, from this python, to its $EPOCHREALTIME: no procsup."""
        env = {**os.environ, "LC_ALL": "C"}
        times = []
        for _ in range(FLOOR_RUNS + 1):
            t0 = time.time()
            out = subprocess.run(
                [self.bash, "-c", 'echo "$EPOCHREALTIME"'], capture_output=True, text=True, env=env
            )
            try:
                times.append((float(out.stdout) - t0) * 1000)
            except ValueError:
                raise BenchError(f"{self.bash} has no $EPOCHREALTIME (bash >= 5 needed)") from None
        self.info["spawn_floor_ms"] = statistics.median(times[1:])
        log(f"fork+exec of bash from python: median {self.info['spawn_floor_ms']:.1f} ms")

    def measure(self, sc: Scenario) -> Result:
        tmp = self.root / sc.key
        tmp.mkdir()
        m = Master(tmp, sc.schedules, self.bash)
        self.masters.append(m)
        m.start()
        if sc.interval is None:
            time.sleep(2.0)  # settle after start-up
        else:
            self.align(m, sc.interval)
        res = Result()
        helper = m.helper()
        h0 = stat_cpu(helper) if helper else 0.0
        c0, s0, t0 = stat_cpu(m.pid), cpu_seconds(m.pid), time.time()
        time.sleep(sc.window)
        c1, s1, t1 = stat_cpu(m.pid), cpu_seconds(m.pid), time.time()
        m.check_alive()
        res.cpu_stat_s, res.cpu_sched_s, res.window_s = c1 - c0, s1 - s0, t1 - t0
        if helper is not None and helper == m.helper():
            res.helper_cpu_s = stat_cpu(helper) - h0
        if sc.interval is None:
            log(f"  idle CPU {100 * res.cpu_sched_s / res.window_s:.3f} % of one CPU")
            return res
        time.sleep(0.5)  # let the last runs of the window end
        self.collect(m, sc, res, t0, t1)
        return res

    @staticmethod
    def align(m: Master, interval: float) -> None:
        """Wait for the first run, then until half-way between two fires, so the CPU window
        holds whole runs: a run's work is done within a few ms of its scheduled instant."""
        runs = wait_for(m.run_lines, 15, 0.05, "the first run")
        first = min(s for _, s, _ in runs.values())
        now = time.time()
        k = math.ceil((now - first - interval / 2) / interval) + 1
        time.sleep(first + interval / 2 + k * interval - now)

    def collect(self, m: Master, sc: Scenario, res: Result, t0: float, t1: float) -> None:
        inside = [
            r for r in m.history() if r["scheduled"] is not None and t0 <= r["scheduled"] < t1
        ]
        lines = m.run_lines()
        res.expected = round(res.window_s / sc.interval) * len(sc.schedules)  # type: ignore[operator]
        res.skipped = sum(r["status"] == "skipped" for r in inside)
        res.failed = sum(r["status"] not in ("ok", "skipped") for r in inside)
        ran = sorted((r for r in inside if r["started"] is not None), key=lambda r: r["scheduled"])
        res.runs = len(ran)
        # a fire that left no row at all: neither a run nor a skip (a coalesced skip row counts
        # every skip it stands for)
        fired = sum(r.get("count") or 1 for r in inside if r["started"] is None) + res.runs
        res.missed = max(res.expected - fired, 0)
        by_instant: dict[float, list[float]] = {}
        for r in ran:
            res.master_side.append((r["started"] - r["scheduled"]) * 1000)
            by_instant.setdefault(r["scheduled"], []).append(r["started"])
            line = lines.get(r["run_id"])
            if line is not None:
                res.run_side.append((line[2] - line[1]) * 1000)
        res.fire_spread = [(max(v) - min(v)) * 1000 for v in by_instant.values() if len(v) > 1]
        self.latest(res, ran, lines)
        if len(res.run_side) != res.runs:
            self.errors.append(
                f"{sc.title}: {res.runs - len(res.run_side)} run(s) left no line in runs.txt"
            )
        log(
            f"  {res.runs} runs of {res.expected} expected ({res.skipped} skipped, "
            f"{res.failed} failed); delay ms median/p99/max: run side {summary(res.run_side)}, "
            f"master side {summary(res.master_side)}; master CPU "
            f"{1000 * res.cpu_stat_s / max(res.runs, 1):.2f} ms/run"
            + (
                ""
                if res.helper_cpu_s is None
                else f", helper {1000 * res.helper_cpu_s / max(res.runs, 1):.2f} ms/run"
            )
        )

    @staticmethod
    def latest(res: Result, ran: list[dict[str, Any]], lines: dict[str, Any]) -> None:
        """The delay of the latest run of each scheduled instant (both sides): with N tasks due
        at the same second, the one the user waits longest for."""
        run_side: dict[float, float] = {}
        master_side: dict[float, float] = {}
        for r in ran:
            at = r["scheduled"]
            master_side[at] = max(master_side.get(at, 0.0), (r["started"] - at) * 1000)
            line = lines.get(r["run_id"])
            if line is not None:
                run_side[at] = max(run_side.get(at, 0.0), (line[2] - line[1]) * 1000)
        res.last_run_side = [run_side[at] for at in sorted(run_side)]
        res.last_master_side = [master_side[at] for at in sorted(master_side)]

    def stop_all(self) -> None:
        for m in self.masters:
            try:
                m.stop()
            except Exception as exc:  # keep stopping the others
                log(f"stopping the master in {m.tmp} failed: {exc!r}")

    def cleanup(self) -> None:
        self.stop_all()
        strays = []
        for p in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if p.status() != psutil.STATUS_ZOMBIE:
                    strays.append(f"{p.pid} {' '.join(p.cmdline())}")
                    p.kill()
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG) != (0, 0):
                pass
        self.info["strays"] = strays
        if strays:
            log(f"killed {len(strays)} stray process(es): {strays[:5]}")
        if self.keep or self.errors:
            log(f"temp files kept in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    # --- report ---------------------------------------------------------------------------------

    def rows(self) -> list[tuple[str, str, str, str]]:
        rows: list[tuple[str, str, str, str]] = []
        for sc in self.scenarios:
            res = self.results.get(sc.key)
            if sc.interval is None:
                pct = None if res is None else 100 * res.cpu_sched_s / res.window_s
                ticks = None if res is None else 100 * res.cpu_stat_s / res.window_s
                rows.append(
                    (
                        f"{sc.title}: master CPU (% of one CPU, {sc.window:g} s)",
                        "n/a" if pct is None else f"{pct:.3f}",
                        "-",
                        "-",
                    )
                )
                rows.append(
                    (
                        "  -- info: same from utime+stime ticks (%)",
                        "n/a" if ticks is None else f"{ticks:.3f}",
                        "-",
                        "-",
                    )
                )
                continue
            rows += self.scenario_rows(sc, res)
        rows.append(
            (
                "-- info: fork+exec of bash from python (ms, median)",
                f"{self.info.get('spawn_floor_ms', math.nan):.1f}",
                "-",
                "-",
            )
        )
        rows.append(
            (
                "-- info: load average (1 min) at start / end",
                f"{self.info['load_start']:.2f} / {self.info.get('load_end', math.nan):.2f}",
                "-",
                "-",
            )
        )
        rows.append(
            ("-- info: stray processes at the end", str(len(self.info.get("strays", []))), "0", "-")
        )
        return rows

    def scenario_rows(self, sc: Scenario, res: Result | None) -> list[tuple[str, str, str, str]]:
        head = f"{sc.title}, {sc.window:g} s"
        if res is None:
            return [(head, "n/a", "-", "-")]
        run_p99 = p99(res.run_side) if res.run_side else None
        last_p99 = p99(res.last_run_side) if res.last_run_side else None
        drift = thirds(res.run_side)
        mdrift = thirds(res.master_side)
        gap = res.missed
        rows = [
            (
                f"{head}: runs / missed / skipped+failed",
                f"{res.runs} / {gap} / {res.skipped + res.failed}",
                "- / 0 / 0",
                "PASS" if gap == 0 and res.skipped + res.failed == 0 else "FAIL",
            ),
            (
                "  start delay, run side (ms, median / p99 / max)",
                summary(res.run_side),
                _goal(sc.target_p99),
                _verdict(run_p99, sc.target_p99),
            ),
            (
                "  start delay, master side (ms, median / p99 / max)",
                summary(res.master_side),
                "-",
                "-",
            ),
            (
                "  drift, run side: median 1st third -> last third (ms)",
                "n/a" if drift is None else f"{drift[0]:.1f} -> {drift[1]:.1f}",
                f"growth < {TARGET_DRIFT_MS:g}",
                "n/a"
                if drift is None
                else ("PASS" if drift[1] - drift[0] < TARGET_DRIFT_MS else "FAIL"),
            ),
            (
                "  -- info: drift, master side (ms)",
                "n/a" if mdrift is None else f"{mdrift[0]:.1f} -> {mdrift[1]:.1f}",
                "-",
                "-",
            ),
            (
                "  master CPU per run (ms, utime+stime)",
                f"{1000 * res.cpu_stat_s / max(res.runs, 1):.2f}",
                "-",
                "-",
            ),
            (
                "  -- info: spawn helper CPU per run (ms, utime+stime)",
                "n/a"
                if res.helper_cpu_s is None
                else f"{1000 * res.helper_cpu_s / max(res.runs, 1):.2f}",
                "-",
                "-",
            ),
            (
                "  -- info: master CPU per run from schedstat (ms)",
                f"{1000 * res.cpu_sched_s / max(res.runs, 1):.2f}",
                "-",
                "-",
            ),
        ]
        if len(sc.schedules) > 1:
            rows += [
                (
                    "  start delay of the last run of an instant, run side (ms, med / p99 / max)",
                    summary(res.last_run_side),
                    _goal(sc.target_last_p99),
                    _verdict(last_p99, sc.target_last_p99),
                ),
                (
                    "  -- info: the same, master side (ms)",
                    summary(res.last_master_side),
                    "-",
                    "-",
                ),
            ]
        if res.fire_spread:
            rows.append(
                (
                    "  -- info: first -> last start of one instant (ms, median / p99 / max)",
                    summary(res.fire_spread),
                    "-",
                    "-",
                )
            )
        return rows

    def table(self) -> str:
        header = ("figure", "value", "target", "pass/fail")
        rows = [header, *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
        lines.insert(1, "-+-".join("-" * w for w in widths))
        return "\n".join(lines)

    def dump(self) -> dict[str, Any]:
        return {
            "results": {k: vars(v) for k, v in self.results.items()},
            "errors": self.errors,
            "info": self.info,
        }


def _goal(target: float | None) -> str:
    return "-" if target is None else f"p99 <= {target:g}"


def _verdict(value: float | None, target: float | None) -> str:
    if value is None or target is None:
        return "-"
    return "PASS" if value <= target else "FAIL"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--minutes", type=float, default=3.0, help="length of the 1-task window (default 3)"
    )
    ap.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="length of the 20-task and 200-task windows (default 60 and 180)",
    )
    ap.add_argument(
        "--only",
        default="",
        help="comma-separated scenarios to run: idle, one, load, every, scale (default: all)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="short windows (about 40 s in all), to check that the bench works",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    args = ap.parse_args()
    interruptible()
    t_start = time.perf_counter()
    subreaper = become_subreaper()
    import procsup

    only = {k for k in args.only.split(",") if k}
    known = {"idle", "one", "load", "every", "scale"}
    if only - known:
        ap.error(f"--only: unknown scenario(s) {', '.join(sorted(only - known))}; use {known}")
    bench = Bench(args.minutes, args.seconds, args.quick, args.keep, only)
    log(
        f"procsup {procsup.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"{bench.bash}, bench subreaper: {subreaper}, temp dir {bench.root}"
    )
    interrupted = False
    try:
        bench.run()
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted; stopping every master")
    except BenchError as exc:
        bench.errors.append(str(exc))
        log(f"FAILED: {exc}")
    finally:
        bench.cleanup()
    table = bench.table()
    print()
    print(table)
    if bench.errors:
        print("\nerrors:")
        for e in bench.errors:
            print(f"  - {e}")
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"tasks-results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"quick": args.quick, **bench.dump(), "table": table}, indent=2))
    print(f"results saved to {path}")
    if interrupted:
        return 130
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
