#!/usr/bin/env python3
"""procsup vs supervisord 4.x, side by side, in one run.

    python bench/bench_core.py [--quick] [--no-supervisord] [--keep]

Figures (see bench/README.md for the method of each):
  1. time to bring up 500 instances of `sleep 3600` until all are RUNNING
  2. master RSS with those 500 instances
  3. master CPU while idle with 500 instances (% of one core)
  4. `list` latency with 10 programs: the full CLI as a subprocess, median of 20
  5. log throughput: a program `cat`s a 200 MB (100 MB with --quick) file to stdout, vs plain cat
  6. restart latency of a daemon that crashes after running longer than start_seconds / startsecs
  7. restart latency of a 2-second runner (exits 0 by itself) under the defaults; pm2 as well when
     it is installed (bench/out/pm2: `npm install --prefix bench/out/pm2 pm2@5`)
  8. CPU (master + its reaped children) spent on a program that exits at once, under the defaults

supervisord is installed into bench/out/venv-supervisor (kept across runs). Every master runs in
a short temp dir under /tmp (unix socket paths must stay < 108 bytes) and is stopped at the end,
also on Ctrl-C or an error. Only unix sockets are used; nothing goes over the network except the
one-time pip install of supervisor.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
VENV = OUT / "venv-supervisor"
CRASHY = BENCH / "crashy.sh"
RUNNER2S = BENCH / "runner2s.sh"
PM2 = OUT / "pm2" / "node_modules" / ".bin" / "pm2"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from procsup.control.client import Client, ClientError, NoMaster  # noqa: E402

N_INSTANCES = 500
LIST_PROGRAMS = 10
LIST_RUNS = 20
RESTART_TRIALS = 10
LOG_REPS = 5
MIN_UPTIME = 1.0  # procsup start_seconds = 1 s; supervisord startsecs = 1
RUNNER_RESTARTS = 5  # restarts of the 2-second runner measured per supervisor
RUNAWAY_WINDOW = 30.0  # s of an instantly exiting program measured (15 s with --quick)
POLL = 0.02

TARGETS = {
    "up": 1.5,  # s
    "idle_cpu": 0.1,  # % of one core
    "list": 40.0,  # ms
    "logs": 0.5,  # × plain cat
    "logs_pipe": 0.8,  # × `cat | cat > file` (issue 9: a relay against a relay)
    "restart": 20.0,  # ms (median)
    "restart_max": 100.0,  # ms: a crashed daemon is back in under 100 ms
    "runner": 5.0,  # ms (median), a 2-second runner under the defaults (issue 9, item 13)
    "runaway": 0.1,  # % of a core for a program that exits at once (issue 9, item 13)
}


class BenchError(Exception):
    pass


PYCACHE = OUT / "pycache"


def py_env(kind: str) -> dict[str, str]:
    """Environment for every python the bench starts: bytecode caching on, as after a normal
    `pip install`. procsup runs from an editable checkout without __pycache__ (and some boxes set
    PYTHONDONTWRITEBYTECODE=1), which would recompile every module on each start; its .pyc files
    go to bench/out/pycache (PYTHONPYCACHEPREFIX) so nothing is written outside bench/.
    supervisord's venv was byte-compiled by pip."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    if kind == "procsup":
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def warm_bytecode() -> None:
    """Import every procsup module once so its .pyc (and the stdlib's) exist in PYCACHE."""
    code = (
        "import importlib, pkgutil, procsup\n"
        "for m in pkgutil.walk_packages(procsup.__path__, 'procsup.'):\n"
        "    if m.name.endswith('__main__'): continue\n"
        "    try: importlib.import_module(m.name)\n"
        "    except Exception: pass\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        env=py_env("procsup"),
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "import procsup.cli.main, procsup.config.load, procsup.cli.tables",
            str(REPO),
        ],
        env=py_env("procsup"),
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def become_subreaper() -> bool:
    """PR_SET_CHILD_SUBREAPER on the bench: whatever a stopped master leaves behind is
    re-parented to us, so cleanup() can find and kill it (and report it as a leftover)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER = 36
    except (OSError, AttributeError):
        return False


def cpu_seconds(pid: int) -> float:
    """On-CPU time of every thread of `pid`, in ns precision from /proc/PID/task/*/schedstat
    (psutil's cpu_times() counts 10 ms ticks: too coarse for a 0.1 % target over 5 s)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        raise BenchError(f"process {pid} is gone") from None
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended meanwhile
    return total / 1e9


def cpu_with_children(pid: int) -> float:
    """cpu_seconds(pid) plus the CPU of its children it has reaped (cutime + cstime, in clock
    ticks: coarse, but a spawn loop adds up)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except FileNotFoundError:
        raise BenchError(f"process {pid} is gone") from None
    ticks = int(fields[13]) + int(fields[14])  # cutime, cstime (fields 16 and 17 of stat)
    return cpu_seconds(pid) + ticks / os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wait_for(pred: Callable[[], Any], timeout: float, interval: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


# --- supervisord install ----------------------------------------------------------------------


def ensure_supervisord() -> str:
    """Create bench/out/venv-supervisor with supervisor 4.x once; return its version."""
    sv = VENV / "bin" / "supervisord"
    if sv.exists():
        ok = subprocess.run([str(sv), "--version"], capture_output=True, text=True)
        if ok.returncode == 0 and ok.stdout.startswith("4."):
            return ok.stdout.strip()
        shutil.rmtree(VENV)
    log(f"installing supervisor 4.x into {VENV} (once; cached for later runs)")
    OUT.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [
            str(VENV / "bin" / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            "supervisor>=4,<5",
        ],
        check=True,
    )
    ok = subprocess.run([str(sv), "--version"], capture_output=True, text=True, check=True)
    return ok.stdout.strip()


# --- XML-RPC over supervisord's unix socket ---------------------------------------------------


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path: str, timeout: float = 60.0) -> None:
        super().__init__()
        self._path = path
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        cached = self._connection[1]
        if cached is not None and host == self._connection[0]:
            return cached
        conn = _UnixHTTPConnection(self._path, self._timeout)
        self._connection = host, conn
        return conn


# --- the two supervisors ----------------------------------------------------------------------


class Runner:
    """One master in its own temp dir; `states()` → {instance: (state, pid)}."""

    kind = ""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None
        self.errlog = tmp / "master.err"
        self.leftovers: list[str] = []
        self.stop_seconds: float | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _popen(self, argv: list[str]) -> float:
        with open(self.errlog, "ab") as err:
            t0 = time.perf_counter()
            # own session: Ctrl-C in the terminal reaches only the bench, which stops it in order
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                start_new_session=True,
                close_fds=True,
                env=py_env(self.kind),
            )
        return t0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(
                f"{self.kind} master exited with status {self.proc.returncode}; "
                f"tail of {self.errlog}:\n{tail(self.errlog)}"
            )

    def count_running(self) -> int:
        return sum(1 for state, _ in self.states().values() if state == "RUNNING")

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            self.check_alive()
            try:
                self.states()
                return True
            except (OSError, NoMaster, http.client.HTTPException, xmlrpc.client.Fault):
                return False

        wait_for(ready, timeout, POLL, f"the {self.kind} master to answer")

    def stop(self) -> None:
        """Stop the master and everything under it; record leftovers; idempotent."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            tree = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        t0 = time.perf_counter()
        if proc.poll() is None:
            try:
                self._request_stop(proc)
            except Exception as exc:  # fall back to SIGTERM below
                log(f"{self.kind}: graceful stop failed ({exc!r}); sending SIGTERM")
                _signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                log(f"{self.kind}: master {proc.pid} still alive after 60 s; SIGKILL")
                _signal(proc, signal.SIGKILL)
                proc.wait()
            self.stop_seconds = time.perf_counter() - t0
        time.sleep(0.2)
        for p in tree:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    self.leftovers.append(f"{p.pid} {' '.join(p.cmdline())}")
                    p.kill()
            except psutil.Error:
                pass
        if self.leftovers:
            log(
                f"{self.kind}: {len(self.leftovers)} process(es) survived the master's stop "
                f"and were killed by the bench: {self.leftovers[:5]}"
            )

    # subclass API
    def launch(self) -> float:
        raise NotImplementedError

    def states(self) -> dict[str, tuple[str, int]]:
        raise NotImplementedError

    def start_program(self, name: str) -> None:
        raise NotImplementedError

    def list_cmd(self) -> list[str]:
        raise NotImplementedError

    def _request_stop(self, proc: subprocess.Popen[bytes]) -> None:
        raise NotImplementedError


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)


PROCSUP_VENV = OUT / "venv-procsup"


def procsup_cli() -> str:
    """The `procsup` console script of a regular (not editable) install of this checkout in its
    own venv, as a user gets from `pip install .`, so `list` is measured the way it runs for
    users; supervisorctl gets the same treatment (its own venv). The CLI needs only the stdlib,
    so the install skips dependencies; it is redone on every run to match the checkout."""
    script = PROCSUP_VENV / "bin" / "procsup"
    if not getattr(procsup_cli, "done", False):
        if not (PROCSUP_VENV / "bin" / "pip").exists():
            subprocess.run([sys.executable, "-m", "venv", str(PROCSUP_VENV)], check=True)
        subprocess.run(
            [
                str(PROCSUP_VENV / "bin" / "pip"),
                "install",
                "-q",
                "--no-deps",
                "--force-reinstall",
                "--disable-pip-version-check",
                str(REPO),
            ],
            check=True,
            env=py_env("supervisord"),
            stdout=subprocess.DEVNULL,
        )
        procsup_cli.done = True  # type: ignore[attr-defined]
    return str(script)


class Procsup(Runner):
    kind = "procsup"

    def __init__(self, tmp: Path, programs: dict[str, dict[str, Any]]) -> None:
        super().__init__(tmp)
        self.config = tmp / "procsup.toml"
        self.socket = str(tmp / "ps.sock")
        lines = [
            "[procsup]",
            f'socket = "{self.socket}"',
            f'state_dir = "{tmp / "st"}"',
            f'log_dir = "{tmp / "logs"}"',
            "",
        ]
        for name, opts in programs.items():
            lines.append(f"[programs.{name}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in opts.items()]
            lines.append("")
        self.config.write_text("\n".join(lines))
        self._client: Client | None = None

    def launch(self) -> float:
        return self._popen(
            [sys.executable, "-m", "procsup", "-c", str(self.config), "daemon", "-f"]
        )

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        try:
            return self._call(cmd, args)
        except ClientError as exc:
            if exc.code != "timeout":  # the master closes a connection idle past idle_timeout
                raise
            return self._call(cmd, args)

    def _call(self, cmd: str, args: dict[str, Any] | None) -> Any:
        if self._client is None:
            self._client = Client(self.socket, timeout=60).connect()
        try:
            return self._client.call(cmd, args)
        except (OSError, NoMaster, ClientError):
            self._client.close()
            self._client = None
            raise

    def states(self) -> dict[str, tuple[str, int]]:
        result = self.call("list", {"stats": False})
        return {r["name"]: (r["state"], r["pid"]) for r in result["instances"]}

    def start_program(self, name: str) -> None:
        self.call("start", {"names": [name]})

    def list_cmd(self) -> list[str]:
        return [procsup_cli(), "-c", str(self.config), "list"]

    def _request_stop(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            self.call("shutdown")
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None


class Supervisord(Runner):
    kind = "supervisord"

    def __init__(self, tmp: Path, programs: dict[str, dict[str, Any]]) -> None:
        super().__init__(tmp)
        self.config = tmp / "supervisord.conf"
        self.socket = str(tmp / "sv.sock")
        (tmp / "svlogs").mkdir(exist_ok=True)
        lines = [
            "[unix_http_server]",
            f"file={self.socket}",
            "chmod=0700",
            "",
            "[supervisord]",
            f"logfile={tmp / 'supervisord.log'}",
            f"pidfile={tmp / 'supervisord.pid'}",
            f"childlogdir={tmp / 'svlogs'}",
            "nodaemon=true",
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
            "[supervisorctl]",
            f"serverurl=unix://{self.socket}",
            "",
        ]
        for name, opts in programs.items():
            lines.append(f"[program:{name}]")
            lines += [f"{k}={v}" for k, v in opts.items()]
            lines.append("")
        self.config.write_text("\n".join(lines))
        self.rpc = xmlrpc.client.ServerProxy(
            "http://localhost", transport=_UnixTransport(self.socket)
        )

    def launch(self) -> float:
        return self._popen([str(VENV / "bin" / "supervisord"), "-n", "-c", str(self.config)])

    def states(self) -> dict[str, tuple[str, int]]:
        infos: list[dict[str, Any]] = self.rpc.supervisor.getAllProcessInfo()  # type: ignore[assignment]
        return {f"{i['group']}:{i['name']}": (i["statename"], i["pid"]) for i in infos}

    def start_program(self, name: str) -> None:
        self.rpc.supervisor.startProcess(name, False)

    def list_cmd(self) -> list[str]:
        return [str(VENV / "bin" / "supervisorctl"), "-c", str(self.config), "status"]

    def _request_stop(self, proc: subprocess.Popen[bytes]) -> None:
        _signal(proc, signal.SIGTERM)


def short(cmd: list[str]) -> str:
    return " ".join([Path(cmd[0]).name, *cmd[1:]])


def tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError as exc:
        return f"(cannot read {path}: {exc})"


# --- the bench --------------------------------------------------------------------------------


class Bench:
    def __init__(
        self, quick: bool, with_supervisord: bool, keep: bool, only: str | None = None
    ) -> None:
        self.quick = quick
        self.only = only
        self.kinds = ["procsup", "supervisord"] if with_supervisord else ["procsup"]
        self.keep = keep
        self.idle_window = 5.0 if quick else 10.0
        self.log_mb = 100 if quick else 200
        self.root = Path(tempfile.mkdtemp(prefix="pb-", dir="/tmp"))
        self.runners: list[Runner] = []
        self.results: dict[str, dict[str, Any]] = {
            k: {} for k in ["procsup", "supervisord", "pm2", "cat", "cat|cat"]
        }
        self.errors: list[str] = []
        self.info: dict[str, Any] = {}

    # helpers
    def new_dir(self, name: str) -> Path:
        d, n = self.root / name, 1
        while d.exists():
            n += 1
            d = self.root / f"{name}{n}"
        d.mkdir()
        return d

    def runner(
        self, kind: str, tag: str, ps: dict[str, dict[str, Any]], sv: dict[str, dict[str, Any]]
    ) -> Runner:
        tmp = self.new_dir(f"{tag}-{kind[:2]}")
        r: Runner = Procsup(tmp, ps) if kind == "procsup" else Supervisord(tmp, sv)
        self.runners.append(r)
        return r

    def stage(self, name: str, kind: str, fn: Callable[[str], None]) -> None:
        log(f"{name}: {kind}")
        try:
            fn(kind)
        except BenchError as exc:
            self.errors.append(f"{name} / {kind}: {exc}")
            log(f"  FAILED: {exc}")
            self.show_master_logs()
        except Exception as exc:  # one broken figure must not cost the others
            self.errors.append(f"{name} / {kind}: {exc!r}")
            log(f"  FAILED: {exc!r}\n{traceback.format_exc()}")
            self.show_master_logs()
        finally:
            for r in self.runners:
                if r.proc is not None and r.proc.poll() not in (None, 0):
                    self.errors.append(
                        f"{name} / {r.kind}: master exited with status "
                        f"{r.proc.returncode}; see {r.errlog}"
                    )
                if r.alive() or r.proc is not None:
                    r.stop()

    def show_master_logs(self) -> None:
        for r in self.runners:
            if r.proc is not None:
                log(
                    f"  tail of {r.errlog} (pid {r.pid}, "
                    f"{'alive' if r.alive() else f'exit status {r.proc.returncode}'}):\n"
                    f"{tail(r.errlog)}"
                )

    def stop_all(self) -> None:
        for r in self.runners:
            try:
                r.stop()
            except Exception as exc:  # keep stopping the others
                log(f"stopping {r.kind} in {r.tmp} failed: {exc!r}")

    # 1-3: 500 instances: bring-up time, RSS, idle CPU
    def many(self, kind: str) -> None:
        n = N_INSTANCES
        ps = {"sl": {"command": "sleep 3600", "numprocs": n, "start_seconds": 0}}
        tmp_logs = "%(here)s/svlogs"
        sv = {
            "sl": {
                "command": "sleep 3600",
                "numprocs": n,
                "process_name": "%(program_name)s_%(process_num)d",
                "startsecs": 0,
                "autorestart": "true",
                "stdout_logfile": f"{tmp_logs}/sl-%(process_num)d.out.log",
                "stderr_logfile": f"{tmp_logs}/sl-%(process_num)d.err.log",
            }
        }
        r = self.runner(kind, "many", ps, sv)
        res = self.results[kind]
        t0 = r.launch()
        polls = 0
        seen = 0

        def all_up() -> bool:
            nonlocal polls, seen
            r.check_alive()
            polls += 1
            try:
                seen = r.count_running()
            except (OSError, NoMaster, http.client.HTTPException):
                return False
            return seen >= n

        try:
            wait_for(all_up, 120, POLL, f"{n} instances RUNNING")
        except BenchError as exc:
            raise BenchError(f"{exc} (last poll: {seen} RUNNING)") from None
        res["up_s"] = time.perf_counter() - t0
        res["up_polls"] = polls
        master = psutil.Process(r.pid)
        res["rss_up_mb"] = master.memory_info().rss / 1e6
        log(
            f"  {n} RUNNING after {res['up_s']:.3f} s ({polls} polls); "
            f"RSS {res['rss_up_mb']:.1f} MB"
        )
        time.sleep(1.0)  # settle
        c0, t0c = cpu_seconds(r.pid), master.cpu_times()
        w0 = time.perf_counter()
        time.sleep(self.idle_window)
        c1, t1c = cpu_seconds(r.pid), master.cpu_times()
        w1 = time.perf_counter()
        r.check_alive()
        res["idle_cpu_pct"] = 100.0 * (c1 - c0) / (w1 - w0)
        ticks = (t1c.user + t1c.system) - (t0c.user + t0c.system)
        res["idle_cpu_pct_psutil"] = 100.0 * ticks / (w1 - w0)
        res["rss_mb"] = master.memory_info().rss / 1e6
        res["running_after_idle"] = r.count_running()
        log(
            f"  idle CPU {res['idle_cpu_pct']:.3f} % of a core over {w1 - w0:.1f} s; "
            f"RSS {res['rss_mb']:.1f} MB; still RUNNING: {res['running_after_idle']}"
        )
        r.stop()
        res["stop500_s"] = r.stop_seconds
        res["leftovers500"] = len(r.leftovers)
        log(f"  stopped in {r.stop_seconds:.2f} s; leftovers: {len(r.leftovers)}")

    # 4: list latency with 10 programs
    def list_latency(self, kind: str) -> None:
        ps = {f"p{i}": {"command": "sleep 3600", "start_seconds": 0} for i in range(LIST_PROGRAMS)}
        sv = {
            f"p{i}": {
                "command": "sleep 3600",
                "startsecs": 0,
                "stdout_logfile": f"%(here)s/svlogs/p{i}.out.log",
                "stderr_logfile": f"%(here)s/svlogs/p{i}.err.log",
            }
            for i in range(LIST_PROGRAMS)
        }
        r = self.runner(kind, "list", ps, sv)
        r.launch()
        r.wait_ready()
        wait_for(lambda: r.count_running() >= LIST_PROGRAMS, 30, POLL, "10 programs RUNNING")
        res = self.results[kind]
        cmd = r.list_cmd()
        res["list_ms"], lo, hi = self.time_cli(cmd, LIST_RUNS, "RUNNING", py_env(kind))
        log(f"  `{short(cmd)}`: median {res['list_ms']:.1f} ms (min {lo:.1f}, max {hi:.1f})")
        if kind == "procsup":
            # the same CLI with `python -S`: no site-packages .pth hooks (this box's editable
            # install finder and any sandbox hooks), i.e. procsup's own cost over a bare python
            bare = [
                sys.executable,
                "-S",
                "-c",
                "import sys; sys.path.insert(0, sys.argv.pop(1)); "
                "from procsup.cli.main import main; sys.exit(main())",
                str(REPO),
                *cmd[1:],
            ]
            res["list_ms_bare"], lo, hi = self.time_cli(bare, LIST_RUNS, "RUNNING", py_env(kind))
            log(
                f"  same via `python -S` (no site hooks): median {res['list_ms_bare']:.1f} ms "
                f"(min {lo:.1f}, max {hi:.1f})"
            )
            # and as this checkout runs without the bench's help: no .pyc, every module compiled
            nopyc = {**py_env(kind), "PYTHONDONTWRITEBYTECODE": "1"}
            nopyc.pop("PYTHONPYCACHEPREFIX")
            res["list_ms_nopyc"], lo, hi = self.time_cli(cmd, LIST_RUNS, "RUNNING", nopyc)
            log(
                f"  same without a bytecode cache: median {res['list_ms_nopyc']:.1f} ms "
                f"(min {lo:.1f}, max {hi:.1f})"
            )
        r.stop()

    @staticmethod
    def time_cli(
        cmd: list[str], runs: int, expect: str = "", env: dict[str, str] | None = None
    ) -> tuple[float, float, float]:
        """Median, min, max wall time in ms of `runs` runs (after one warm-up run)."""
        times = []
        for i in range(runs + 1):
            t0 = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            dt = (time.perf_counter() - t0) * 1000
            if out.returncode != 0 or (expect and out.stdout.count(expect) != LIST_PROGRAMS):
                raise BenchError(
                    f"`{' '.join(cmd)}` exited {out.returncode}; "
                    f"stdout={out.stdout!r} stderr={out.stderr!r}"
                )
            if i:  # the first run warms the page cache
                times.append(dt)
        return statistics.median(times), min(times), max(times)

    # 5: log throughput
    def make_bigfile(self) -> Path:
        path = self.root / "big.txt"
        line = b"%09d the quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnop\n"
        block = b"".join(line % i for i in range(12_000))  # ~1 MB of lines
        target = self.log_mb * 1_000_000
        with open(path, "wb") as f:
            written = 0
            while written < target:
                f.write(block)
                written += len(block)
        return path

    def wait_size(self, path: Path, size: int, r: Runner | None, timeout: float = 180) -> None:
        last = [0, time.monotonic()]

        def full() -> bool:
            try:
                got = os.path.getsize(path)
            except FileNotFoundError:
                got = 0
            if got != last[0]:
                last[0], last[1] = got, time.monotonic()
            elif time.monotonic() - last[1] > 20:
                raise BenchError(f"{path} stuck at {got} of {size} bytes for 20 s")
            if got > size:
                raise BenchError(f"{path} holds {got} bytes, more than the {size} written")
            if r is not None:
                r.check_alive()
            return got == size

        wait_for(full, timeout, 0.002, f"{path} to hold {size} bytes")

    def logs(self, _: str) -> None:
        """Every variant LOG_REPS times, interleaved (cat, cat|cat, procsup, supervisord, cat, …)
        so that a burst of load on the box hits them alike; the median of each is reported.
        Supervisors: one master each, the program started once per round, its log file appended
        to (log_max_size = 0 / maxbytes = 0: no rotation); a run is timed from the start request
        until the file has grown by the whole size."""
        big = self.info["bigfile"]
        size = big.stat().st_size
        runners: dict[str, tuple[Runner, Path]] = {}
        for kind in self.kinds:
            tmp = self.root / f"logs-{kind[:2]}"
            out, err = tmp / "cat.out.log", tmp / "cat.err.log"
            ps = {
                "cat": {
                    "command": f"cat {big}",
                    "autostart": False,
                    "autorestart": "never",
                    "start_seconds": 0,
                    "log_max_size": 0,
                    "stdout_log": str(out),
                    "stderr_log": str(err),
                }
            }
            sv = {
                "cat": {
                    "command": f"cat {big}",
                    "autostart": "false",
                    "autorestart": "false",
                    "startsecs": 0,
                    "stdout_logfile": str(out),
                    "stdout_logfile_maxbytes": 0,
                    "stdout_logfile_backups": 0,
                    "stderr_logfile": str(err),
                    "stderr_logfile_maxbytes": 0,
                }
            }
            r = self.runner(kind, "logs", ps, sv)
            r.launch()
            r.wait_ready()
            runners[kind] = (r, out)
        times: dict[str, list[float]] = {k: [] for k in ["cat", "cat|cat", *runners]}
        failed: set[str] = set()
        for rep in range(1, LOG_REPS + 1):
            for kind in times:
                if kind in failed:
                    continue
                try:
                    times[kind].append(self.one_log_run(kind, rep, size, big, runners))
                except (
                    BenchError,
                    OSError,
                    ClientError,
                    NoMaster,
                    xmlrpc.client.Fault,
                    http.client.HTTPException,
                    subprocess.CalledProcessError,
                ) as exc:
                    failed.add(kind)
                    self.errors.append(f"log throughput / {kind}: {exc!r}")
                    log(f"  {kind}: FAILED: {exc!r}")
        for r, out in runners.values():
            r.stop()
            out.unlink(missing_ok=True)
        for kind, ts in times.items():
            if kind in failed or not ts:
                continue
            dt = statistics.median(ts)
            res = self.results[kind]
            res["logs_mbps"] = size / 1e6 / dt
            res["logs_s_all"] = [round(t, 3) for t in ts]
            res["logs_mbps_best"] = size / 1e6 / min(ts)
            log(
                f"  {kind:12s} {size / 1e6:.0f} MB: median {dt:.3f} s = "
                f"{res['logs_mbps']:.0f} MB/s (runs: {', '.join(f'{t:.3f}' for t in ts)} s)"
            )

    def one_log_run(
        self, kind: str, rep: int, size: int, big: Path, runners: dict[str, tuple[Runner, Path]]
    ) -> float:
        if kind in ("cat", "cat|cat"):
            shell = 'cat "$1" > "$2"' if kind == "cat" else 'cat "$1" | cat > "$2"'
            out = self.root / "cat.out"
            t0 = time.perf_counter()
            subprocess.run(["sh", "-c", shell, "sh", str(big), str(out)], check=True)
            dt = time.perf_counter() - t0
            if out.stat().st_size != size:
                raise BenchError(f"{kind} wrote {out.stat().st_size} bytes, not {size}")
            out.unlink()
            return dt
        r, out = runners[kind]
        wait_for(
            lambda: all(st in ("STOPPED", "EXITED") for st, _ in r.states().values()),
            30,
            POLL,
            "the cat program to be stopped/exited before a run",
        )
        t0 = time.perf_counter()
        r.start_program("cat")
        self.wait_size(out, rep * size, r)
        return time.perf_counter() - t0

    # 6: restart latency
    def restart(self, kind: str) -> None:
        times_file = self.root / f"restart-{kind[:2]}.times"
        times_file.touch()
        cmd = f"{CRASHY} {times_file}"
        ps = {
            "crash": {
                "command": cmd,
                "autorestart": "always",
                "start_seconds": MIN_UPTIME,
            }
        }
        sv = {
            "crash": {
                "command": cmd,
                "autorestart": "true",
                "startsecs": int(MIN_UPTIME),
                "stdout_logfile": "%(here)s/svlogs/crash.out.log",
                "stderr_logfile": "%(here)s/svlogs/crash.err.log",
            }
        }
        r = self.runner(kind, "restart", ps, sv)
        r.launch()
        r.wait_ready()

        def entries() -> list[tuple[str, int, float]]:
            rows = []
            for ln in times_file.read_text().splitlines():
                parts = ln.split()
                if len(parts) == 3:
                    rows.append((parts[0], int(parts[1]), float(parts[2])))
            return rows

        def newest_start(seen: set[int]) -> tuple[int, float] | None:
            r.check_alive()
            for what, pid, t in entries():
                if what == "start" and pid not in seen:
                    return pid, t
            return None

        seen: set[int] = set()
        latencies = []
        pid, started = wait_for(lambda: newest_start(seen), 15, 0.002, "the first start")
        for _ in range(RESTART_TRIALS):
            seen.add(pid)

            def long_running(pid: int = pid, started: float = started) -> bool:
                if time.time() < started + MIN_UPTIME + 0.5:
                    return False
                return any(st == "RUNNING" and p == pid for st, p in r.states().values())

            wait_for(long_running, 15, POLL, f"pid {pid} RUNNING for {MIN_UPTIME + 0.5:g} s")
            os.kill(pid, signal.SIGUSR1)
            new_pid, new_start = wait_for(
                lambda: newest_start(seen), 15, 0.002, f"a new instance after pid {pid} exited"
            )
            exits = [t for what, p, t in entries() if what == "exit" and p == pid]
            if not exits:
                raise BenchError(f"pid {pid} did not record its exit")
            latencies.append((new_start - exits[0]) * 1000)
            pid, started = new_pid, new_start
        res = self.results[kind]
        res["restart_ms"] = statistics.median(latencies)
        res["restart_ms_max"] = max(latencies)
        res["restart_ms_all"] = [round(x, 2) for x in latencies]
        log(
            f"  exit → new instance: median {res['restart_ms']:.1f} ms, max "
            f"{res['restart_ms_max']:.1f} ms; all: {res['restart_ms_all']}"
        )
        r.stop()

    # 7: restart latency of a 2-second runner under the defaults
    def runner_restart(self, kind: str) -> None:
        """procsup with nothing but `command`; supervisord with `autorestart=true` (its default
        restarts only unexpected exits; Laravel's recipe sets true); pm2 with its defaults."""
        times = self.root / f"runner-{kind}.times"
        times.touch()
        cmd = f"{RUNNER2S} {times}"
        if kind == "pm2":
            latencies = self.pm2_latencies(times)
        else:
            sv = {
                "batch": {
                    "command": cmd,
                    "autorestart": "true",
                    "stdout_logfile": "%(here)s/svlogs/batch.out.log",
                    "stderr_logfile": "%(here)s/svlogs/batch.err.log",
                }
            }
            r = self.runner(kind, "runner", {"batch": {"command": cmd}}, sv)
            r.launch()
            r.wait_ready()
            latencies = runner_latencies(times, r.check_alive)
            r.stop()
        res = self.results[kind]
        res["runner_ms"] = statistics.median(latencies)
        res["runner_ms_max"] = max(latencies)
        res["runner_ms_all"] = [round(x, 2) for x in latencies]
        log(
            f"  2 s runner exit → next start: median {res['runner_ms']:.1f} ms, max "
            f"{res['runner_ms_max']:.1f} ms; all: {res['runner_ms_all']}"
        )

    # 8: a program that exits at once, under the defaults
    def runaway(self, kind: str) -> None:
        """procsup backs off (1 s, 2 s, 4 s …) for ever; supervisord retries startretries=3
        times and gives up (FATAL), so its figure is low for a reason users dislike."""
        cmd = "sh -c 'exit 1'"
        sv = {
            "quick": {
                "command": cmd,
                "autorestart": "true",
                "stdout_logfile": "%(here)s/svlogs/quick.out.log",
                "stderr_logfile": "%(here)s/svlogs/quick.err.log",
            }
        }
        r = self.runner(kind, "runaway", {"quick": {"command": cmd}}, sv)
        r.launch()
        r.wait_ready()
        window = RUNAWAY_WINDOW / 2 if self.quick else RUNAWAY_WINDOW
        c0, w0 = cpu_with_children(r.pid), time.monotonic()
        time.sleep(window)  # the figure is what happens meanwhile
        c1, w1 = cpu_with_children(r.pid), time.monotonic()
        res = self.results[kind]
        res["runaway_cpu_pct"] = 100.0 * (c1 - c0) / (w1 - w0)
        res["runaway_state"] = next(iter(r.states().values()))[0]
        log(
            f"  {res['runaway_cpu_pct']:.3f} % of a core over {w1 - w0:.1f} s; "
            f"state at the end: {res['runaway_state']}"
        )
        r.stop()

    def pm2_latencies(self, times: Path) -> list[float]:
        home = self.new_dir("pm2home")
        env = {**os.environ, "PM2_HOME": str(home)}
        quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        argv = [str(PM2), "start", str(RUNNER2S), "--name", "batch", "--interpreter", "bash"]
        subprocess.run([*argv, "--", str(times)], check=True, timeout=60, **quiet)  # type: ignore[call-overload]
        try:
            return runner_latencies(times, lambda: None)
        finally:
            subprocess.run([str(PM2), "kill"], timeout=60, **quiet)  # type: ignore[call-overload]

    def spawn_floor(self) -> None:
        """What fork+exec of crashy.sh costs on this box with no supervisor in between."""
        f = self.root / "floor.times"
        f.touch()
        floor = []
        for _ in range(5):
            t0 = time.time()
            p = subprocess.Popen(
                [str(CRASHY), str(f)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                tag = f"start {p.pid} "

                def started(tag: str = tag) -> list[str]:
                    return [ln for ln in f.read_text().splitlines() if ln.startswith(tag)]

                line = wait_for(started, 10, 0.0005, "crashy.sh to start")
                floor.append((float(line[0].split()[2]) - t0) * 1000)
            finally:
                p.send_signal(signal.SIGUSR1)
                p.wait()
        self.info["spawn_floor_ms"] = statistics.median(floor)
        log(
            f"spawn floor (python Popen → crashy.sh's first line): "
            f"median {self.info['spawn_floor_ms']:.1f} ms"
        )

    def python_floor(self) -> None:
        """Interpreter start-up alone, for reading the `list` figures."""
        floors = {
            "python_floor_ms": ("procsup", [sys.executable, "-c", "pass"]),
            "python_S_floor_ms": ("procsup", [sys.executable, "-S", "-c", "pass"]),
        }
        if "supervisord" in self.kinds:
            floors["venv_python_floor_ms"] = (
                "supervisord",
                [str(VENV / "bin" / "python"), "-c", "pass"],
            )
        for key, (kind, cmd) in floors.items():
            self.info[key] = self.time_cli(cmd, LIST_RUNS, env=py_env(kind))[0]
            log(f"interpreter floor `{short(cmd)}`: median {self.info[key]:.1f} ms")

    def run(self) -> None:
        log(
            f"temp root {self.root}; quick={self.quick}; idle window {self.idle_window:g} s; "
            f"log file {self.log_mb} MB; cpus={os.cpu_count()}"
        )
        warm_bytecode()
        self.python_floor()
        self.spawn_floor()
        if self.only != "restarts":
            self.run_heavy()
        for kind in self.kinds:
            self.stage("restart latency", kind, self.restart)
        for kind in [*self.kinds, *(["pm2"] if PM2.exists() else [])]:
            self.stage("2 s runner restart latency", kind, self.runner_restart)
        for kind in self.kinds:
            self.stage("a program that exits at once", kind, self.runaway)

    def run_heavy(self) -> None:
        """Figures 1-5: 500 instances, `list`, log throughput."""
        for kind in self.kinds:
            self.stage(f"{N_INSTANCES} instances", kind, self.many)
        for kind in self.kinds:
            self.stage(f"list, {LIST_PROGRAMS} programs", kind, self.list_latency)
        log(f"writing a {self.log_mb} MB text file")
        self.info["bigfile"] = self.make_bigfile()
        self.stage("log throughput", " / ".join(["cat", "cat|cat", *self.kinds]), self.logs)
        self.info["bigfile"].unlink()

    def cleanup(self) -> None:
        self.stop_all()
        # with the bench a subreaper, anything a master left behind is now our child
        time.sleep(0.2)
        strays = []
        for p in psutil.Process().children(recursive=True):
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    strays.append(f"{p.pid} {' '.join(p.cmdline())}")
                    p.kill()
            except psutil.Error:
                pass
        for _ in range(50):  # reap what we killed (and zombies re-parented to us)
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    break
            except ChildProcessError:
                break
        self.info["strays_at_end"] = strays
        if strays:
            log(f"killed {len(strays)} stray process(es) at the end: {strays[:5]}")
        if self.keep or self.errors:
            log(f"temp files kept in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    # --- report -----------------------------------------------------------------------------

    def leftovers(self, kind: str) -> int | None:
        runners = [r for r in self.runners if r.kind == kind]
        return sum(len(r.leftovers) for r in runners) if runners else None

    def table(self) -> str:
        p, s, c = self.results["procsup"], self.results["supervisord"], self.results["cat"]
        t = TARGETS

        def fmt(v: Any, spec: str) -> str:
            return "n/a" if v is None else format(v, spec)

        def verdict(v: Any, ok: Callable[[float], bool]) -> str:
            return "n/a" if v is None else ("PASS" if ok(v) else "FAIL")

        cat = c.get("logs_mbps")
        catcat = self.results["cat|cat"].get("logs_mbps")

        def vs_pipe(res: dict[str, Any]) -> float | None:
            mbps = res.get("logs_mbps")
            return None if mbps is None or not catcat else mbps / catcat

        def medbest(res: dict[str, Any]) -> str:
            if res.get("logs_mbps") is None:
                return "n/a"
            return f"{res['logs_mbps']:.0f} / {res['logs_mbps_best']:.0f}"

        rows = [
            (
                "500 instances up (s)",
                fmt(p.get("up_s"), ".3f"),
                fmt(s.get("up_s"), ".3f"),
                f"< {t['up']:g} s",
                verdict(p.get("up_s"), lambda v: v < t["up"]),
            ),
            (
                "master RSS, 500 instances (MB)",
                fmt(p.get("rss_mb"), ".1f"),
                fmt(s.get("rss_mb"), ".1f"),
                "-",
                "-",
            ),
            (
                f"idle master CPU, 500 inst. (% core, {self.idle_window:g} s)",
                fmt(p.get("idle_cpu_pct"), ".3f"),
                fmt(s.get("idle_cpu_pct"), ".3f"),
                f"< {t['idle_cpu']:g} %",
                verdict(p.get("idle_cpu_pct"), lambda v: v < t["idle_cpu"]),
            ),
            (
                f"list CLI, {LIST_PROGRAMS} programs (ms, median of {LIST_RUNS})",
                fmt(p.get("list_ms"), ".1f"),
                fmt(s.get("list_ms"), ".1f"),
                f"< {t['list']:g} ms",
                verdict(p.get("list_ms"), lambda v: v < t["list"]),
            ),
            (
                f"log throughput, {self.log_mb} MB (MB/s)",
                fmt(p.get("logs_mbps"), ".0f"),
                fmt(s.get("logs_mbps"), ".0f"),
                f">= {t['logs'] * cat:.0f} (0.5 x cat {cat:.0f})" if cat else ">= 0.5 x cat",
                verdict(p.get("logs_mbps"), lambda v: cat is not None and v >= t["logs"] * cat),
            ),
            (
                "log throughput / `cat big | cat > file` (x)",
                fmt(vs_pipe(p), ".2f"),
                fmt(vs_pipe(s), ".2f"),
                f">= {t['logs_pipe']:g} x",
                verdict(vs_pipe(p), lambda v: v >= t["logs_pipe"]),
            ),
            (
                f"restart latency median (ms, {RESTART_TRIALS} trials)",
                fmt(p.get("restart_ms"), ".1f"),
                fmt(s.get("restart_ms"), ".1f"),
                f"< {t['restart']:g} ms",
                verdict(p.get("restart_ms"), lambda v: v < t["restart"]),
            ),
            (
                "restart latency max (ms)",
                fmt(p.get("restart_ms_max"), ".1f"),
                fmt(s.get("restart_ms_max"), ".1f"),
                f"< {t['restart_max']:g} ms",
                verdict(p.get("restart_ms_max"), lambda v: v < t["restart_max"]),
            ),
            (
                f"2 s runner restart median (ms, {RUNNER_RESTARTS} restarts, defaults)",
                fmt(p.get("runner_ms"), ".1f"),
                fmt(s.get("runner_ms"), ".1f"),
                f"< {t['runner']:g} ms",
                verdict(p.get("runner_ms"), lambda v: v < t["runner"]),
            ),
            (
                "2 s runner restart max (ms)",
                fmt(p.get("runner_ms_max"), ".1f"),
                fmt(s.get("runner_ms_max"), ".1f"),
                "-",
                "-",
            ),
            (
                "instantly exiting program, defaults (% core)",
                fmt(p.get("runaway_cpu_pct"), ".3f"),
                fmt(s.get("runaway_cpu_pct"), ".3f"),
                f"< {t['runaway']:g} %",
                verdict(p.get("runaway_cpu_pct"), lambda v: v < t["runaway"]),
            ),
            (
                "-- info: its state at the end (STARTING: a retry)",
                p.get("runaway_state") or "n/a",
                s.get("runaway_state") or "n/a",
                "not FATAL",
                "-",
            ),
            (
                "-- info: pm2 5, 2 s runner restart median / max (ms)",
                pm2_cell(self.results["pm2"]),
                "",
                "-",
                "-",
            ),
            (
                "-- info: stop 500 instances (s)",
                fmt(p.get("stop500_s"), ".2f"),
                fmt(s.get("stop500_s"), ".2f"),
                "-",
                "-",
            ),
            (
                "-- info: leftovers after stop of 500",
                fmt(p.get("leftovers500"), "d"),
                fmt(s.get("leftovers500"), "d"),
                "0",
                "-",
            ),
            (
                "-- info: leftovers after every stop",
                fmt(self.leftovers("procsup"), "d"),
                fmt(self.leftovers("supervisord"), "d"),
                "0",
                "-",
            ),
            ("-- info: `cat big > file` (MB/s, median/best)", medbest(c), "", "-", "-"),
            (
                "-- info: `cat big | cat > file` (MB/s, median/best)",
                medbest(self.results["cat|cat"]),
                "",
                "-",
                "-",
            ),
            ("-- info: log throughput (MB/s, median/best)", medbest(p), medbest(s), "-", "-"),
            (
                "-- info: idle CPU from psutil ticks (%)",
                fmt(p.get("idle_cpu_pct_psutil"), ".3f"),
                fmt(s.get("idle_cpu_pct_psutil"), ".3f"),
                "-",
                "-",
            ),
            (
                "-- info: stray processes at the end",
                fmt(len(self.info.get("strays_at_end", [])), "d"),
                "",
                "0",
                "-",
            ),
            (
                "-- info: list CLI via `python -S` (ms)",
                fmt(p.get("list_ms_bare"), ".1f"),
                "",
                "-",
                "-",
            ),
            (
                "-- info: list CLI without .pyc cache (ms)",
                fmt(p.get("list_ms_nopyc"), ".1f"),
                "",
                "-",
                "-",
            ),
            (
                "-- info: `python -c pass` (ms)",
                fmt(self.info.get("python_floor_ms"), ".1f"),
                fmt(self.info.get("venv_python_floor_ms"), ".1f"),
                "-",
                "-",
            ),
            (
                "-- info: `python -S -c pass` (ms)",
                fmt(self.info.get("python_S_floor_ms"), ".1f"),
                "",
                "-",
                "-",
            ),
            (
                "-- info: fork+exec of crashy.sh (ms)",
                fmt(self.info.get("spawn_floor_ms"), ".1f"),
                "",
                "-",
                "-",
            ),
        ]
        header = ("figure", "procsup", "supervisord", "target (procsup)", "pass/fail")
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(5)]
        lines = [
            " | ".join(str(v).ljust(w) for v, w in zip(header, widths, strict=True)),
            "-+-".join("-" * w for w in widths),
        ]
        lines += [
            " | ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows
        ]
        return "\n".join(lines)


def runner_latencies(times: Path, check_alive: Callable[[], None]) -> list[float]:
    """From a runner2s.sh times file: each start's delay after the previous run's exit (ms),
    once RUNNER_RESTARTS restarts have happened."""

    def rows() -> list[tuple[str, float]]:
        check_alive()
        found = []
        for ln in times.read_text().splitlines():
            parts = ln.split()
            if len(parts) == 3:
                found.append((parts[0], float(parts[2])))
        return found

    def enough() -> list[tuple[str, float]]:
        got = rows()
        return got if sum(1 for what, _ in got if what == "start") > RUNNER_RESTARTS else []

    # each run lasts 2 s, and a supervisor that polls may take a second or more to restart it
    events = wait_for(enough, (RUNNER_RESTARTS + 1) * 5 + 10, POLL, "the 2 s runner's restarts")
    latencies, last_exit = [], None
    for what, t in events:
        if what == "exit":
            last_exit = t
        elif last_exit is not None:
            latencies.append((t - last_exit) * 1000)
            last_exit = None
    return latencies[:RUNNER_RESTARTS]


def pm2_cell(res: dict[str, Any]) -> str:
    if res.get("runner_ms") is None:
        return "n/a (not installed)" if not PM2.exists() else "n/a"
    return f"{res['runner_ms']:.1f} / {res['runner_ms_max']:.1f}"


def interruptible() -> None:
    """Ctrl-C, SIGTERM and SIGHUP all end a bench through its cleanup (KeyboardInterrupt)."""

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="5 s idle window and a 100 MB log file (about 1-2 minutes in all)",
    )
    ap.add_argument("--no-supervisord", action="store_true", help="measure procsup only")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs (configs, logs)")
    ap.add_argument("--only", choices=["restarts"], help="only figures 6-8 (restarts and backoff)")
    args = ap.parse_args()
    interruptible()
    t_start = time.perf_counter()
    subreaper = become_subreaper()
    sv_version = None
    if not args.no_supervisord:
        sv_version = ensure_supervisord()
    import procsup

    bench = Bench(args.quick, not args.no_supervisord, args.keep, args.only)
    bench.info["versions"] = {
        "procsup": procsup.__version__,
        "supervisord": sv_version,
        "python": sys.version.split()[0],
    }
    log(
        f"procsup {procsup.__version__}, supervisord {sv_version}, python "
        f"{sys.version.split()[0]}, list CLI {procsup_cli()}, bench subreaper: {subreaper}"
    )
    interrupted = False
    try:
        bench.run()
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted; stopping every master")
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
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dump = {
        "quick": args.quick,
        "results": bench.results,
        "errors": bench.errors,
        "info": {k: v for k, v in bench.info.items() if k != "bigfile"},
        "table": table,
    }
    (OUT / f"results-{stamp}.json").write_text(json.dumps(dump, indent=2, default=str))
    print(f"results saved to {OUT / f'results-{stamp}.json'}")
    if interrupted:
        return 130
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
