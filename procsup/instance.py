"""One supervised slot (`queue:3`): its state machine, restart backoff and current child.

An Instance knows its program's policy and nothing of sockets or other programs. Every state change
goes through `_set_state`, which checks the transition and publishes the event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from procsup.config import ProgramConfig
from procsup.events import Event
from procsup.logs import LogChunk, LogFile, LogRing, OutputReader, stamp_lines
from procsup.process import INSTANCE_ENV, Child, SpawnSpec, send_signal, spawn, wait_gone
from procsup.proctree import ProcessTable, instance_tree, start_ticks
from procsup.runtime import Runtime
from procsup.states import RUNNING_STATES, State, can_transition

log = logging.getLogger(__name__)

MIN_RETRY_DELAY = 0.1  # even `restart_delay = 0` never spins a CPU
KILL_GRACE = 5.0  # after SIGKILL, how long we wait for the kernel to finish the job


def backoff_delay(failures: int, first: float, cap: float) -> float:
    """Delay before retry number `failures` (1-based): first, 2×first, 4×first … up to cap."""
    first = max(first, MIN_RETRY_DELAY)
    return min(first * 2 ** min(failures - 1, 62), max(cap, first))


@dataclass
class RunInfo:
    """Facts about the current or last run, for `list`."""

    pid: int | None = None
    started_wall: float | None = None
    started_mono: float = 0.0
    last_exit: int | None = None
    last_exit_time: float | None = None
    spawn_error: str | None = None
    start_ticks: int = 0  # kernel start time: tells a leftover of ours from a recycled pid
    restarts: int = 0
    failures: int = 0
    next_try: float | None = None


class Instance:
    """A program instance: spawns, watches, restarts with backoff, stops its whole tree."""

    def __init__(self, config: ProgramConfig, num: int, runtime: Runtime) -> None:
        self.config = config
        self.num = num
        self.name = f"{config.name}:{num}"
        self.rt = runtime
        self.state = State.STOPPED
        self.info = RunInfo()
        self.desired = config.autostart
        self.ring = LogRing(self.name)
        self._child: Child | None = None
        self._readers: list[OutputReader] = []
        self._timer: asyncio.TimerHandle | None = None
        self._exited: asyncio.Future[int] | None = None
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._spawns = 0
        self._logs = self._open_logs()

    @property
    def instance_id(self) -> str:
        """Marks every process of the current spawn (inherited through the environment)."""
        return f"{self.rt.run_id}:{self.name}:{self._spawns}"

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    # --- state ------------------------------------------------------------------------------

    def _set_state(self, new: State, **data: Any) -> None:
        old = self.state
        if old == new:
            return
        if not can_transition(old, new):
            log.error("%s: refusing transition %s -> %s", self.name, old, new)
            return
        self.state = new
        self._changed.set()
        self._changed = asyncio.Event()
        log.info("%s: %s -> %s%s", self.name, old, new, _log_details(data))
        self.rt.publish(
            Event("state", self.name, {"from": old, "to": new, "program": self.config.name, **data})
        )
        self.rt.changed()

    # --- user actions -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start now, clearing any backoff. Running instances are left alone."""
        async with self._lock:
            self.desired = True
            self.info.failures = 0
            if self.state in (State.STARTING, State.RUNNING):
                return
            self._cancel_timer()
            self._spawn()  # STOPPED/EXITED/FATAL/BACKOFF -> STARTING

    async def stop(self) -> None:
        """Stop the whole tree (stop_signal, then SIGKILL after stop_timeout); cancel retries."""
        async with self._lock:
            self.desired = False
            self.info.failures = 0
            self._cancel_timer()
            if self.state == State.BACKOFF:
                self.info.next_try = None
                self._set_state(State.STOPPED)  # BACKOFF -> STOPPED
            elif self.state in RUNNING_STATES:
                await self._terminate()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def wait_running(self, timeout: float) -> bool:
        """Wait until the instance has left STARTING; True if it is RUNNING then."""
        deadline = time.monotonic() + timeout
        while self.state == State.STARTING:
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return self.state == State.RUNNING

    def kill(self, sig: int) -> bool:
        """Send `sig` to the instance's whole tree. False when nothing is running."""
        if self._child is None:
            return False
        pids = self.tree(ProcessTable())
        send_signal(pids, sig, pgid=self._child.pid)
        return True

    def tree(self, table: ProcessTable) -> set[int]:
        return instance_tree(table, self.pid, self.instance_id, self.rt.leaders())

    # --- spawning ---------------------------------------------------------------------------

    def spawn_spec(self) -> SpawnSpec:
        num = str(self.num)
        env = dict(self.rt.base_env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update({k: v.replace("{num}", num) for k, v in self.config.environment.items()})
        env.update(
            {
                "PROCSUP_PROGRAM": self.config.name,
                "PROCSUP_PROCESS_NAME": self.name,
                "PROCSUP_PROCESS_NUM": num,
                INSTANCE_ENV: self.instance_id,
                "PROCSUP_STATE_DIR": self.rt.state_dir,
            }
        )
        cwd = str(self.config.directory) if self.config.directory else self.rt.base_dir
        argv = [arg.replace("{num}", num) for arg in self.config.command]
        return SpawnSpec(argv, env, cwd, self.config.user, self.config.merge_stderr)

    def _spawn(self) -> None:
        self._set_state(State.STARTING)
        self._spawns += 1
        self.info.next_try = None
        try:
            child = spawn(self.spawn_spec())
        except OSError as exc:
            self.info.spawn_error = f"{exc.strerror or exc}: {self.config.command[0]}"
            self.info.last_exit_time = time.time()
            self._emit_output(
                "stderr", f"procsup: spawn failed: {self.info.spawn_error}\n".encode()
            )
            self._after_failure()
            return
        self._child = child
        self.rt.leader_set.add(child.pid)
        self.info.start_ticks = start_ticks(child.pid) or 0
        self.info.spawn_error = None
        self.info.pid = child.pid
        self.info.started_mono = time.monotonic()
        self.info.started_wall = time.time()
        self._attach_output(child)
        self.rt.reaper.watch(child.pid, self._on_exit)
        if self.config.start_seconds <= 0:
            self._set_state(State.RUNNING, pid=child.pid)  # STARTING -> RUNNING
        else:
            self._timer = self.rt.loop.call_later(self.config.start_seconds, self._mark_running)

    def _mark_running(self) -> None:
        self._timer = None
        if self.state == State.STARTING:
            self._set_state(State.RUNNING, pid=self.pid)  # STARTING -> RUNNING

    def _retry(self) -> None:
        self._timer = None
        if self.state == State.BACKOFF and self.desired:
            self.info.restarts += 1
            self._spawn()  # BACKOFF -> STARTING

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- exits ------------------------------------------------------------------------------

    def _on_exit(self, code: int) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        child.mark_reaped(code)
        self.rt.leader_set.discard(child.pid)
        for reader in self._readers:
            reader.drain()
        self._cancel_timer()
        ran = time.monotonic() - self.info.started_mono
        self.info.last_exit = code
        self.info.last_exit_time = time.time()
        if self._exited is not None and not self._exited.done():
            self._exited.set_result(code)
            return
        self._cleanup_leftovers(child.pid, self.instance_id)
        self._decide_after_exit(code, ran)

    def _decide_after_exit(self, code: int, ran: float) -> None:
        """One policy for every unexpected exit: restart at once, back off, or give up."""
        cfg = self.config
        wanted = cfg.autorestart == "always" or (
            cfg.autorestart == "on-failure" and code not in cfg.exit_codes
        )
        if not wanted or not self.desired:
            self._set_state(State.EXITED, code=code)  # STARTING/RUNNING -> EXITED
            return
        if ran >= cfg.min_uptime:
            self.info.failures = 0
            self.info.restarts += 1
            self._spawn()  # RUNNING -> STARTING, no delay for a long-lived daemon
            return
        self._after_failure(code)

    def _after_failure(self, code: int | None = None) -> None:
        cfg = self.config
        self.info.failures += 1
        if cfg.max_restarts and self.info.failures > cfg.max_restarts:
            self._set_state(State.FATAL, code=code, failures=self.info.failures)
            return
        delay = backoff_delay(self.info.failures, cfg.restart_delay, cfg.restart_delay_max)
        self.info.next_try = time.time() + delay
        self._set_state(
            State.BACKOFF, code=code, attempt=self.info.failures, next_try=self.info.next_try
        )  # STARTING/RUNNING -> BACKOFF
        self._timer = self.rt.loop.call_later(delay, self._retry)

    def _cleanup_leftovers(self, pgid: int, spawn_id: str) -> None:
        """Descendants left behind by a leader that died are stopped too, in the background."""
        self.rt.background(self._stop_leftovers(pgid, spawn_id))

    async def _stop_leftovers(self, pgid: int, spawn_id: str) -> None:
        table = await self.rt.tables.fresh()
        pids = instance_tree(table, None, spawn_id, self.rt.leaders())
        if pids or _group_alive(pgid):
            await self._kill_tree(pids, pgid, spawn_id)

    # --- stopping ---------------------------------------------------------------------------

    async def _terminate(self) -> None:
        child = self._child
        if child is None:
            return
        self._cancel_timer()
        self._exited = self.rt.loop.create_future()
        self._set_state(State.STOPPING)  # STARTING/RUNNING -> STOPPING
        try:
            table = await self.rt.tables.fresh()
            await self._kill_tree(self.tree(table), child.pid, self.instance_id, self._exited)
        finally:
            self._exited = None
        self._set_state(State.STOPPED)  # STOPPING -> STOPPED

    async def _kill_tree(
        self,
        pids: set[int],
        pgid: int,
        spawn_id: str,
        leader_exit: asyncio.Future[int] | None = None,
    ) -> None:
        """stop_signal to the group and every pid, wait stop_timeout, then SIGKILL what is left.

        The tree is read again at the deadline, so processes forked during the grace period and
        daemons that escaped to us (subreaper) are killed as well.
        """
        send_signal(pids, self.config.stop_signal, pgid=pgid)
        send_signal(pids, signal.SIGCONT, pgid=pgid)  # a stopped process cannot act on TERM
        left = await wait_gone(pids, self.config.stop_timeout)
        leader_alive = leader_exit is not None and not leader_exit.done()
        left |= instance_tree(
            await self.rt.tables.fresh(),
            pgid if leader_alive else None,
            spawn_id,
            self.rt.leaders(),
        )
        if left or _group_alive(pgid):
            send_signal(left, signal.SIGKILL, pgid=pgid)
            await wait_gone(left, KILL_GRACE)
        if leader_exit is not None:
            try:
                await asyncio.wait_for(asyncio.shield(leader_exit), KILL_GRACE)
            except TimeoutError:
                log.error("%s: pid %d survived SIGKILL for %ss", self.name, pgid, KILL_GRACE)

    # --- output -----------------------------------------------------------------------------

    def _open_logs(self) -> dict[str, LogFile]:
        cfg, num = self.config, str(self.num)
        files = {
            "stdout": LogFile(
                cfg.stdout_log.replace("{num}", num), cfg.log_max_size, cfg.log_backups
            )
        }
        if not cfg.merge_stderr:
            files["stderr"] = LogFile(
                cfg.stderr_log.replace("{num}", num), cfg.log_max_size, cfg.log_backups
            )
        return files

    def _attach_output(self, child: Child) -> None:
        for f in self._logs.values():
            f.open()
        self._readers = [r for r in self._readers if r.fd >= 0]  # old ones finish on their own
        self._readers.append(OutputReader(child.stdout_fd, "stdout", self._emit_output))
        if child.stderr_fd is not None:
            self._readers.append(OutputReader(child.stderr_fd, "stderr", self._emit_output))

    def _emit_output(self, stream: str, data: bytes) -> None:
        now = time.time()
        if self.config.log_timestamps:
            data = stamp_lines(data, now)
        self._logs.get(stream, self._logs["stdout"]).write(data)
        self.ring.append(LogChunk(now, stream, data))

    def log_paths(self) -> dict[str, str]:
        return {stream: f.path for stream, f in self._logs.items()}

    def close(self) -> None:
        """Forget this instance (it must be stopped): release timers and files."""
        self._cancel_timer()
        for reader in self._readers:
            reader.close()
        for f in self._logs.values():
            f.close()

    # --- reporting --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        info = self.info
        running = self.state in RUNNING_STATES
        return {
            "name": self.name,
            "program": self.config.name,
            "num": self.num,
            "state": self.state,
            "pid": self.pid,
            "started": info.started_wall if running else None,
            "uptime": time.monotonic() - info.started_mono if running else None,
            "restarts": info.restarts,
            "attempt": info.failures if self.state == State.BACKOFF else 0,
            "next_try": info.next_try,
            "last_exit": info.last_exit,
            "last_exit_time": info.last_exit_time,
            "spawn_error": info.spawn_error,
            "desired": self.desired,
        }


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _log_details(data: dict[str, Any]) -> str:
    """` code=3 attempt=2 retry in 0.5s` for the master's log."""
    parts = [f"{k}={v}" for k, v in data.items() if v is not None and k != "next_try"]
    if data.get("next_try"):
        parts.append(f"retry in {max(0.0, data['next_try'] - time.time()):.1f}s")
    return "".join(" " + p for p in parts)
