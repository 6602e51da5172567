"""A configured cron task: its schedule, what keeps it from overlapping itself, its runs in
progress, its hooks and what it reports (history, events, the `tasks` row).

Policy lives here; the mechanics of one run (spawn, keeper, lease renewal, timeout) are in
taskrun.py, the timing of fires in scheduler.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from procsup.config.load import TaskConfig
from procsup.core.schema import TaskRow
from procsup.engine import exitinfo
from procsup.engine.child import ChildProc
from procsup.engine.events import Event
from procsup.engine.output import Output
from procsup.engine.pidsignal import send_signal
from procsup.engine.runtime import Runtime
from procsup.tasks.instant import Instant
from procsup.tasks.locallock import LocalLock
from procsup.tasks.runrecord import RunRecord
from procsup.tasks.runspec import Hold, task_spec
from procsup.tasks.schedule import Fire, Schedule
from procsup.tasks.spareleaf import SpareLeaf
from procsup.tasks.taskrun import TaskRun

if TYPE_CHECKING:
    from procsup.tasks.history import History
    from procsup.tasks.redislock import RedisLocks

log = logging.getLogger(__name__)

HOOK_TIMEOUT = 60.0  # a hook still running after this is killed with its process group
FAILED_STATUSES = ("failed", "timeout", "lock-lost")


@dataclass
class TaskServices:
    """What tasks need from the master (a narrow seam, like Runtime for instances)."""

    rt: Runtime
    history: History
    host: str
    state_dir: Path
    redis: Callable[[], RedisLocks]  # the shared Redis client, created on first use
    next_run_id: Callable[[], str]
    #: told of every run that ended (the scheduler starts the tasks chained `after` it)
    run_ended: Callable[[RunRecord], None] = lambda rec: None


class Task:
    def __init__(self, config: TaskConfig, services: TaskServices, anchor: float) -> None:
        self.config = config
        self.sv = services
        self.schedule = Schedule(config.schedule, config.timezone, anchor)
        self.output = _output(config)
        self.runs: dict[str, TaskRun] = {}
        self.retired = False  # removed by a reload: a fire still in its jitter does not run
        self.paused = False  # `procsup pause`: every trigger but a manual run is skipped
        self.next: Fire | None = None
        self.last: RunRecord | None = services.history.last(config.name)
        self.spare = SpareLeaf()  # a cgroup leaf kept from one run for the next
        self.lock_file = LocalLock(services.state_dir, config.name)  # lock = "local"

    @property
    def name(self) -> str:
        return self.config.name

    def reconfigure(self, config: TaskConfig, anchor: float) -> None:
        """New settings from the next run on (a reload); runs in progress keep theirs."""
        self.config = config
        self.schedule = Schedule(config.schedule, config.timezone, anchor)
        output = _output(config)
        if output.paths() == self.output.paths():
            output.close()
        else:
            if not self.runs:
                self.output.close()
            output.ring.restore(self.output.ring.chunks())
            self.output = output

    # --- triggering -------------------------------------------------------------------------

    async def fire(self, fire: Fire) -> None:
        """A scheduled fire: skipped while disabled or paused, else run after the jitter."""
        if not self.config.enabled or self.paused:
            reason = "disabled" if not self.config.enabled else "paused"
            self._skip(self._record("schedule", fire.at), reason)
            return
        if self.config.jitter > 0:
            await asyncio.sleep(random.uniform(0, self.config.jitter))
            if self.retired or not self.config.enabled:  # a reload meanwhile
                return
        await self.launch("schedule", fire.at, fire.note)

    def launch_now(self, fire: Fire, instant: Instant) -> bool:
        """A scheduled fire when nothing in it has to wait (no jitter, no `before` hook, no run
        to replace, no Redis lease): skipped or launched here, the same way `fire` would, its
        spawn overlapped in `instant` with the other fires of the same wake-up. False, having
        done nothing, when the fire has to wait: the caller takes `fire`."""
        cfg = self.config
        if cfg.enabled and not self.paused and self._must_wait():
            return False
        if not cfg.enabled or self.paused:
            why = "disabled" if not cfg.enabled else "paused"
            self._skip(self._record("schedule", fire.at), why)
            return True
        rec = self._record("schedule", fire.at)
        rec.reason = fire.note
        if cfg.overlap == "skip" and self.runs:
            self._skip(rec, "overlap")
            return True
        hold = Hold() if cfg.overlap == "allow" else self._local_lock(rec)
        if hold is not None:
            run = self._new_run(rec, hold, fire.at)
            collect = run.begin()
            instant.add(lambda: self._collect(run, collect))
        return True

    def _must_wait(self) -> bool:
        cfg = self.config
        return bool(
            cfg.jitter > 0
            or cfg.before
            or (cfg.overlap == "replace" and self.runs)
            or (cfg.overlap != "allow" and cfg.lock != "local")
        )

    async def launch(
        self, trigger: str, scheduled: float | None, note: str | None = None
    ) -> TaskRun | RunRecord:
        """Start a run through the task's overlap policy and lock; a skip returns its record."""
        cfg = self.config
        rec = self._record(trigger, scheduled)
        rec.reason = note
        if cfg.overlap == "skip" and self.runs:
            return self._skip(rec, "overlap")
        if self.paused and trigger != "manual":
            return self._skip(rec, "paused")
        if cfg.before:
            failure = await self._before(cfg.before, rec)
            if failure:
                return self._skip(rec, f"before hook failed: {failure}")
        if cfg.overlap == "replace" and self.runs:
            await asyncio.gather(*(run.stop("replaced") for run in list(self.runs.values())))
        hold = Hold() if cfg.overlap == "allow" else await self._take_lock(rec)
        if hold is None:
            return rec  # skipped, recorded by _take_lock
        run = self._new_run(rec, hold, scheduled)
        self._begun(run, run.start())
        return run

    def _new_run(self, rec: RunRecord, hold: Hold, scheduled: float | None) -> TaskRun:
        at = scheduled if scheduled is not None else time.time()
        run = TaskRun(self.config, self.sv.rt, self.output, rec, hold, self.schedule.local_iso(at))
        run.spare = self.spare
        return run

    def _collect(
        self, run: TaskRun, collect: Callable[[], Callable[[], bool]]
    ) -> Callable[[], None]:
        """The rest of a run begun in an instant (launch_now): its spawn's answer now, then
        what the returned function does once every answer of the instant is in."""
        try:
            complete = collect()
        except Exception:  # a bug in one run must not stop the other fires of its instant
            log.exception("task %s: run %s", self.name, run.record.run_id)
            return lambda: None
        return lambda: self._begun(run, complete())  # a bug in it is logged by the Instant

    def _begun(self, run: TaskRun, started: bool) -> None:
        """Book a run whose spawn is complete: running, or ended at once (spawn error)."""
        rec = run.record
        if not started:
            self._ended(run)
            return
        self.runs[rec.run_id] = run
        run.done.add_done_callback(lambda _: self._ended(run))
        self._publish_run("start", rec)
        self.sv.history.record(rec, self.config.history)
        self._changed()
        log.info("task %s: run %s started (pid %s)", self.name, rec.run_id, run.pid)

    async def _take_lock(self, rec: RunRecord) -> Hold | None:
        """The overlap lock, or None when the run is skipped (recorded here)."""
        cfg = self.config
        if cfg.lock == "local":
            return self._local_lock(rec)
        from procsup.tasks.redislock import LockUnavailable

        try:
            locks = self.sv.redis()
            lease = await locks.acquire(self.name, cfg.lock_ttl)
        except LockUnavailable as exc:
            if cfg.on_lock_unavailable == "run":
                log.warning("task %s: running without the lock: %s", self.name, exc)
                self.output.note(f"running without the lock: {exc}")
                rec.reason = f"lock-unavailable, ran anyway: {exc}"
                return Hold()
            self._skip(rec, f"lock-unavailable: {exc}")
            return None
        if lease is None:
            self._skip(rec, "lock-held")
            return None
        rec.fencing_token = lease.fence
        return Hold(lease=lease, locks=locks)

    def _local_lock(self, rec: RunRecord) -> Hold | None:
        """The task's flock, or None when the run is skipped (recorded here)."""
        try:
            fd = self.lock_file.acquire()
        except OSError as exc:  # e.g. a lock file left by a master running as another user
            self._skip(rec, f"lock-error: {exc}")
            return None
        if fd is None:
            self._skip(rec, "lock-held")
            return None
        return Hold(fd=fd)

    def _record(self, trigger: str, scheduled: float | None) -> RunRecord:
        return RunRecord(
            task=self.name,
            run_id=self.sv.next_run_id(),
            trigger=trigger,
            status="running",
            scheduled=scheduled,
            host=self.sv.host,
        )

    def _skip(self, rec: RunRecord, reason: str) -> RunRecord:
        rec.status, rec.reason = "skipped", reason
        log.info("task %s: %s run skipped: %s", self.name, rec.trigger, reason)
        stored = self.sv.history.record_skip(rec, self.config.history)
        self.last = stored
        self._publish_run("skip", stored)
        self._changed()
        if reason.startswith("lock-unavailable"):
            self._run_hook(stored)
        return stored

    # --- the end of a run -------------------------------------------------------------------

    def _ended(self, run: TaskRun) -> None:
        rec = run.record
        self.runs.pop(rec.run_id, None)
        self.sv.history.record(rec, self.config.history)
        self.last = rec
        self._publish_run("end", rec)
        self._changed()
        text = exitinfo.run_sentence(
            self.name, rec.run_id, rec.status, rec.exit_code, rec.duration, rec.reason
        )
        log.log(logging.INFO if rec.status == "ok" else logging.WARNING, "%s", text)
        self.output.mark(text)
        self._run_hook(rec)
        self.sv.run_ended(rec)

    async def _before(self, argv: tuple[str, ...], rec: RunRecord) -> str | None:
        """Run the `before` hook to its end (HOOK_TIMEOUT at most); why it failed, or None."""
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[int] = loop.create_future()
        proc = self._spawn_hook(argv, _about(rec))
        if proc is None:
            return f"{argv[0]} could not be started"

        def ended(code: int) -> None:
            if not exited.done():
                exited.set_result(code)

        proc.watch(ended)
        try:
            code = await asyncio.wait_for(asyncio.shield(exited), HOOK_TIMEOUT)
        except TimeoutError:
            send_signal((), signal.SIGKILL, pgid=proc.pid)
            return f"{argv[0]} still running after {HOOK_TIMEOUT:g}s"
        return None if code == 0 else f"{argv[0]} exited with {code}"

    def _spawn_hook(self, argv: tuple[str, ...], about: dict[str, str]) -> ChildProc | None:
        """A hook's process, its output into the task's log; None (noted) when it cannot start."""
        rt = self.sv.rt
        try:  # a hook is not a leader and gets no cgroup leaf of its own
            proc = ChildProc.spawn(
                rt, task_spec(rt, self.config, argv, about), self.output, leader=False
            )
        except OSError as exc:
            self.output.note(f"hook failed to start: {exc.strerror or exc}: {argv[0]}")
            return None
        try:
            proc.attach()
        except OSError as exc:  # no descriptor for the log: the hook still runs, unheard
            log.error("task %s: hook %s: cannot open the log files: %s", self.name, argv[0], exc)
            proc.close_pipes()
        return proc

    def _run_hook(self, rec: RunRecord) -> None:
        """on_success / on_failure: a command told about the run through its environment."""
        cfg = self.config
        argv = cfg.on_success if rec.status == "ok" else None
        if rec.status in FAILED_STATUSES or rec.status == "skipped":
            argv = cfg.on_failure
        if not argv:
            return
        proc = self._spawn_hook(argv, _about(rec))
        if proc is None:
            return
        kill = self.sv.rt.clock.call_later(
            HOOK_TIMEOUT, lambda: send_signal((), signal.SIGKILL, pgid=proc.pid)
        )

        def exited(code: int) -> None:
            kill.cancel()
            if code != 0:
                self.output.note(f"hook {argv[0]} exited with {code}")

        proc.watch(exited)

    # --- stopping ---------------------------------------------------------------------------

    async def stop_runs(self, reason: str) -> list[RunRecord]:
        """Stop every run in progress (its whole tree); returns their records once ended."""
        runs = list(self.runs.values())
        await asyncio.gather(*(run.stop(reason) for run in runs))
        ended = await asyncio.gather(
            *(asyncio.shield(run.done) for run in runs), return_exceptions=True
        )
        return [rec for rec in ended if isinstance(rec, RunRecord)]

    def close(self) -> None:
        self.output.close()
        self.spare.close()

    # --- reporting --------------------------------------------------------------------------

    def _publish_run(self, what: str, rec: RunRecord) -> None:
        if self.sv.rt.events.listened:  # the row is built only for someone to read
            self.sv.rt.publish(Event("run", self.name, {"event": what, "run": rec.to_json()}))

    def _changed(self) -> None:
        if self.sv.rt.events.listened:
            self.sv.rt.publish(Event("task", self.name, {"task": self.snapshot()}))

    def rescheduled(self, fire: Fire | None) -> None:
        self.next = fire
        self._changed()

    def snapshot(self) -> TaskRow:
        cfg, nxt = self.config, self.next
        return {
            "name": cfg.name,
            "schedule": cfg.schedule,
            "timezone": self.schedule.zone_name,
            "enabled": cfg.enabled,
            "paused": self.paused,
            "after": dict(cfg.after),
            "overlap": cfg.overlap,
            "lock": cfg.lock,
            "next_run": nxt.at if nxt else None,
            "next_run_local": self.schedule.local_iso(nxt.at) if nxt else None,
            "running": [
                {
                    "run_id": run.record.run_id,
                    "pid": run.pid,
                    "started": run.record.started,
                    "scheduled": run.record.scheduled,
                }
                for run in self.runs.values()
            ],
            "last": self.last.to_json() if self.last else None,
        }


def _about(rec: RunRecord) -> dict[str, str]:
    """What a hook is told about the run, through its environment."""
    return {
        "PROCSUP_RUN_ID": rec.run_id,
        "PROCSUP_STATUS": rec.status,
        "PROCSUP_EXIT_CODE": "" if rec.exit_code is None else str(rec.exit_code),
        "PROCSUP_REASON": rec.reason or "",
    }


def _output(config: TaskConfig) -> Output:
    stderr = None if config.merge_stderr else config.stderr_log
    return Output(config.name, config.stdout_log, stderr, config.log_max_size, config.log_backups)


def host_name() -> str:
    return os.uname().nodename
