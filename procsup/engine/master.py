"""The master: owns the programs and the state file; startup and shutdown.

It builds no server and knows no tasks module: the control server and the scheduler are made by
the composition outside (control/compose.py) through `parts` (parts.py), and the master only
starts, reloads and closes them at the right moments. Signal handlers only schedule work on the
loop (uvicorn's habit). Startup order matters: pid lock → subreaper → reaper → leftovers of a
killed predecessor → programs → socket → autostart.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import procsup
from procsup.config.load import Config, ConfigError, deprecations, load_config
from procsup.engine import deps, fdlimit, memtrim, spawnhelper
from procsup.engine.cgroups import Tracking
from procsup.engine.cgtree import open_tracking
from procsup.engine.events import Broadcaster, Event
from procsup.engine.leftovers import find_leftovers, stop_predecessors
from procsup.engine.logfile import LogFile
from procsup.engine.logregistry import LOG_FILES
from procsup.engine.memguard import MemoryGuard
from procsup.engine.metrics import Sampler
from procsup.engine.parts import Frontend, Parts, TaskSet
from procsup.engine.pidsignal import send_signal
from procsup.engine.process import Reaper, become_subreaper, quiet_signal_wakeup
from procsup.engine.proctree import ProcessTable
from procsup.engine.registry import Registry
from procsup.engine.runtime import Runtime
from procsup.engine.statefile import (
    SavedState,
    load_output,
    load_state,
    save_output,
    secure_state_dir,
    write_state,
)
from procsup.engine.stopping import KILL_GRACE, stop_orphans

log = logging.getLogger("procsup")

STATE_WRITE_DELAY = 0.1
SHUTDOWN_SLACK = 30.0  # beyond the longest stop_timeout + SIGKILL grace
ORPHAN_GRACE = 2.0  # at shutdown, how long re-parented leftovers get between TERM and KILL
PREDECESSOR_GRACE = 10.0  # how long a killed master's leftovers get between TERM and KILL


class AlreadyRunning(Exception):
    pass


class PidLock:
    """One master per state_dir: an flock on `procsup.pid` held for the master's life."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "procsup.pid"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode().strip() or "?"
            os.close(fd)
            raise AlreadyRunning(
                f"another procsup master (pid {other}) is running for {self.path.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Master:
    def __init__(self, config: Config, parts: Parts[Master]) -> None:
        self.config = config
        self.parts = parts
        self.run_id = os.urandom(6).hex()  # 12 random hex digits, without importing uuid
        self.started = time.time()
        self.events = Broadcaster()
        self.sampler = Sampler()
        self.state_path = config.master.state_dir / "state.json"
        self.output_path = config.master.state_dir / "output.json"
        self.saved = SavedState()
        self.tracking = Tracking("process", "not started")
        self._stop = asyncio.Event()
        self._reloading = asyncio.Lock()
        self._state_timer: asyncio.TimerHandle | None = None
        self._lock = PidLock(config.master.state_dir)
        self._server: Frontend | None = None  # the control server, once started
        self.loop: asyncio.AbstractEventLoop
        self.registry: Registry
        self.scheduler: TaskSet
        self.memguard: MemoryGuard
        self.rt: Runtime

    # --- lifecycle --------------------------------------------------------------------------

    async def run(self) -> int:
        secure_state_dir(self.config.master, self.config.path.parent)
        self._lock.acquire()
        self._raise_fd_limit()
        try:
            return await self._run()
        finally:
            self._lock.release()

    async def _run(self) -> int:
        self.loop = asyncio.get_running_loop()
        if not become_subreaper():
            log.warning("PR_SET_CHILD_SUBREAPER failed: daemonising grandchildren may escape")
        reaper = Reaper(self.loop)
        self.rt = Runtime(
            self.loop,
            reaper,
            self.events,
            self.run_id,
            str(self.config.master.state_dir),
            dict(os.environ),
            str(self.config.path.parent),
            on_change=self._schedule_state_write,
        )
        LOG_FILES.on_status = self._log_status
        self.saved = load_state(self.state_path)
        await self._open_tracking()
        leftovers = find_leftovers(self.saved, self.rt.state_dir, self.run_id)
        await stop_predecessors(leftovers, PREDECESSOR_GRACE)
        self.registry = Registry(self.rt, self.saved, self.config)
        self.memguard = MemoryGuard(self.rt, self.registry.instances)
        self.scheduler = self.parts.tasks(self.rt, self.config, self._planned_restart)
        self.check_fd_need()
        self._restore_output()
        self.saved.clean = False
        self.saved.run_id = self.run_id
        self._write_state()
        server = self._server = self.parts.frontend(self)
        await server.start()
        self._install_signals()
        self.publish_master("started")
        log.info(
            "procsup %s master started (pid %d), %d program(s)",
            procsup.__version__,
            os.getpid(),
            len(self.registry.programs),
        )
        await self.registry.start_wanted()
        memtrim.trim()  # what the start-up burst freed goes back to the system (issue 14)
        self.scheduler.start()
        self.memguard.update()
        await self._stop.wait()
        log.info("shutting down")
        self.memguard.close()
        await server.close_listener()
        await self.scheduler.close()
        await self._stop_everything()
        await self.rt.drain()
        await self._close_tracking()
        self._keep_output()
        self.publish_master("stopped")
        await server.close()
        self.saved.clean = True
        self._write_state()
        reaper.close()
        return 0

    async def _stop_everything(self) -> None:
        """Stop every program. Each stop ends by itself within stop_timeout plus the SIGKILL
        grace; if the whole is not done well after that, a bug holds it up, and every instance's
        tree is killed rather than leaving the master hanging with children behind."""
        longest = max((p.config.stop_timeout for p in self.registry.programs.values()), default=0)
        waves = max(1, len(deps.stop_waves(self.registry.programs)))  # they stop in turn
        try:
            await asyncio.wait_for(
                self.registry.stop_everything(), (longest + KILL_GRACE) * waves + SHUTDOWN_SLACK
            )
        except TimeoutError:
            log.error("shutdown overran its deadline; killing every remaining process tree")
            table = ProcessTable()
            for inst in self.registry.instances():
                if inst.pid is not None:
                    send_signal(inst.tree(table), signal.SIGKILL, pgid=inst.pid)

    async def _open_tracking(self) -> None:
        """cgroups when possible (or required); leaves of a killed predecessor are cleared."""
        tree, self.tracking = await open_tracking(
            self.config.master.tracking, self.rt.state_dir, self.loop
        )
        fell_back = tree is None and self.config.master.tracking == "auto"
        log.log(
            logging.WARNING if fell_back else logging.INFO, "tracking: %s", self.tracking.describe()
        )
        if tree is not None:
            await tree.clear_stale(self.saved.cgroup or None)
            self.saved.cgroup = tree.path
            self._start_spawn_helper()
        self.rt.cgroups = tree

    def _start_spawn_helper(self) -> None:
        """Children are cloned by a small helper process, not by the master (spawnhelper.py);
        without one, the master clones them itself (slower at scale, same behaviour)."""
        try:
            spawnhelper.start()
        except OSError as exc:
            log.warning("cannot start the spawn helper (%s): the master clones children", exc)

    async def _close_tracking(self) -> None:
        """Nothing outlives the master: the spawn helper, leftovers re-parented to us, then the
        cgroup tree."""
        spawnhelper.stop()
        await stop_orphans(self.rt, ORPHAN_GRACE)
        if self.rt.cgroups is not None:
            await self.rt.cgroups.close()

    def _raise_fd_limit(self) -> None:
        """Raise the soft RLIMIT_NOFILE to the hard limit, and say so when even that is below
        what the configuration needs (running out is survived, but instances wait)."""
        before, after = fdlimit.raise_soft_limit()
        if after > before:
            log.info("open-file limit raised from %d to %d (the hard limit)", before, after)
        for warning in deprecations(self.config):
            log.warning("%s", warning)

    def check_fd_need(self) -> None:
        """Warn when the programs as they run now (scaled, ad-hoc) need more than the limit."""
        need = fdlimit.estimate(
            ((p.numprocs, p.config.merge_stderr) for p in self.registry.programs.values()),
            (t.merge_stderr for t in self.config.tasks.values()),
        )
        problem = fdlimit.shortfall_message(need, fdlimit.limits()[0])
        if problem:
            log.warning("%s", problem)

    def _install_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self.request_shutdown)
        self.loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        quiet_signal_wakeup()

    def request_shutdown(self) -> None:
        self._stop.set()

    def _on_sighup(self) -> None:
        self._recreate_socket()
        self.rt.background(self._reload_logged())

    def _recreate_socket(self) -> None:
        """SIGHUP also brings back a control socket file that was deleted."""
        if self._server is None:
            return
        try:
            self._server.ensure_socket()
        except OSError as exc:
            log.error("cannot create the control socket %s again: %s", self._server.path, exc)

    async def _reload_logged(self) -> None:
        try:
            summary = await self.reload()
            log.info("reloaded: %s", summary)
        except ConfigError as exc:
            log.error("reload rejected, running configuration unchanged:\n%s", exc)

    def _log_status(self, f: LogFile) -> None:
        """A log file stopped or started taking output (the master log says so in logfile.py)."""
        self.events.publish(Event("log", f.path, f.status()))

    def publish_master(self, what: str) -> None:
        self.events.publish(Event("master", socket.gethostname(), {"event": what}))

    # --- configuration ----------------------------------------------------------------------

    async def reload(self, reset: bool = False) -> dict[str, list[str]]:
        """Apply a changed config file; raises ConfigError (and changes nothing) if it is bad.
        `reset` also drops what the user changed at run time (registry.apply)."""
        async with self._reloading:  # one reload at a time: the last one asked for wins
            return await self._reload(reset)

    async def _reload(self, reset: bool) -> dict[str, list[str]]:
        new = load_config(self.config.path)
        summary = await self.registry.apply(new, reset)
        summary |= await self.scheduler.apply(new)
        self.memguard.update()
        if new.master != self.config.master:
            summary["needs_restart"] = ["[procsup] settings change on the next master start"]
        self.config = new
        self.check_fd_need()
        return summary

    async def _planned_restart(self, program: str) -> None:
        """`restart_schedule`: a rolling restart of the instances meant to be running."""
        prog = self.registry.programs.get(program)
        if prog is not None:
            await self.registry.restart([i for i in prog if i.desired], rolling=True, by_user=False)

    # --- persistence ------------------------------------------------------------------------

    def _schedule_state_write(self) -> None:
        if self._state_timer is None:
            self._state_timer = self.loop.call_later(STATE_WRITE_DELAY, self._write_state)

    def _write_state(self) -> None:
        self._state_timer = None
        self.registry.export_state(self.saved)
        try:
            write_state(self.state_path, self.saved)
        except OSError as exc:
            log.error("cannot write state file %s: %s", self.state_path, exc)

    def _keep_output(self) -> None:
        rings = {inst.name: inst.ring.chunks() for inst in self.registry.instances()}
        try:
            save_output(self.output_path, rings)
        except OSError as exc:
            log.error("cannot keep recent output in %s: %s", self.output_path, exc)

    def _restore_output(self) -> None:
        kept = load_output(self.output_path)
        for inst in self.registry.instances():
            inst.ring.restore(kept.get(inst.name, []))

    def info(self) -> dict[str, Any]:
        """The master's facts; the control layer adds the protocol version (MasterInfo)."""
        return {
            "version": procsup.__version__,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": self.started,
            "uptime": time.time() - self.started,
            "config": str(self.config.path),
            "state_dir": str(self.config.master.state_dir),
            "tracking": self.tracking.kind,
            "tracking_detail": self.tracking.detail,
        }
