"""The master's clock for cron: when each task fires next, catch-up at start, reload as a
difference, `run` now, and the planned restarts of programs (`restart_schedule`).

One WallTimers drives every fire from its absolute wall-clock instant. The fires due at one
wake-up that have nothing to wait for are launched right there, their spawns side by side
(Task.launch_now); the others (jitter, a `before` hook, a run to replace, a Redis lease) are
handled in the background, so a run never blocks the master or another task.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from procsup.config.load import Config, TaskConfig
from procsup.core.schema import TaskRow
from procsup.engine.events import Event
from procsup.engine.runtime import Runtime
from procsup.tasks.chains import chain_meets, index_chains
from procsup.tasks.deferredhistory import DeferredHistory
from procsup.tasks.instant import Instant
from procsup.tasks.paused import load_paused, save_paused
from procsup.tasks.runrecord import RunRecord
from procsup.tasks.schedule import Fire, Schedule, Skipped
from procsup.tasks.task import Task, TaskServices, host_name
from procsup.tasks.taskrun import TaskRun
from procsup.tasks.timers import WallTimers

if TYPE_CHECKING:
    from procsup.tasks.history import History
    from procsup.tasks.redislock import RedisLocks

log = logging.getLogger(__name__)

#: the reason recorded in the history for a run stopped with `procsup stop TASK`
STOPPED_BY_USER = "by user"
#: the timeout of one Redis call, from the shortest lease: a call must not eat the lease
REDIS_TIMEOUT_SHARE, REDIS_TIMEOUT_MAX = 0.2, 1.0
#: spawn requests out at a time for the fires of one instant: every request of 20 tasks goes
#: out before the master waits for the first answer (~2 KiB a request: well within the
#: socket's buffer, which the helper drains as the requests come)
INSTANT_DEPTH = 64


class UnknownTask(Exception):
    pass


class Scheduler:
    def __init__(
        self,
        rt: Runtime,
        config: Config,
        restart_program: Callable[[str], Coroutine[Any, Any, None]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rt = rt
        self.config = config
        self.host = config.master.node_name or host_name()  # the fleet name, when set
        #: opened on first use (deferredhistory.py): a master without tasks never loads SQLite
        self.history = cast(
            "History", DeferredHistory(Path(rt.state_dir), self.host, rt.loop.call_later)
        )
        self._restart_program = restart_program
        self._clock = clock  # wall-clock epoch seconds; a seam for tests of DST nights
        self._timers = WallTimers(rt.loop, clock, self._instant)
        #: the spawns of the fires due at one wake-up, overlapped (Task.launch_now)
        self._batch: Instant | None = None
        self._redis: RedisLocks | None = None
        self._seq = itertools.count(1)
        self.services = TaskServices(
            rt,
            self.history,
            self.host,
            Path(rt.state_dir),
            self._redis_locks,
            self._run_id,
            self._run_ended,
        )
        #: tasks paused with `procsup pause`, kept in state_dir across master restarts
        self.paused = load_paused(Path(rt.state_dir))
        self.tasks: dict[str, Task] = {}
        self._restarts: dict[str, Schedule] = {}
        #: fires waiting out their jitter or a lock: cancelled at shutdown, not waited for
        self._firing: set[asyncio.Task[object]] = set()
        self._closing = False
        #: fires launched whose bookkeeping waits for _book_fired (task, fire, when it fired)
        self._booking: list[tuple[Task, Fire, float]] = []
        #: name -> the tasks chained `after` it, so a run's end looks only at those
        self._chained: dict[str, list[Task]] = {}

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule every task (catching up where asked) and every planned program restart."""
        now = self._clock()
        for cfg in self.config.tasks.values():
            task = self._add(cfg, now)
            self._catch_up(task, now)
        self._plan_restarts(self.config)
        self._chained = index_chains(self.tasks.values())
        redis_tasks = [t for t in self.tasks.values() if t.config.lock == "redis"]
        if redis_tasks:
            self.rt.background(self._warm_up_redis(redis_tasks[0].name))

    def clock_changed(self) -> None:
        """Fire what is due by the clock now (a wall-clock step; tests of DST nights). Without
        it, a step is noticed within a minute."""
        self._timers.wake()

    async def _warm_up_redis(self, name: str) -> None:
        """Import redis-py and connect now, so the first run is not late by that."""
        from procsup.tasks.redislock import LockUnavailable

        try:
            await self._redis_locks().holder(name)
        except LockUnavailable as exc:
            log.warning("redis for task locks: %s (runs will retry)", exc)

    async def close(self) -> None:
        """Stop firing; stop runs in progress (their tree, stop_timeout) and record them."""
        self._closing = True
        self._timers.close()
        for pending in list(self._firing):
            pending.cancel()
        await asyncio.gather(*self._firing, return_exceptions=True)
        await asyncio.gather(*(t.stop_runs("shutdown") for t in self.tasks.values()))
        await self.rt.drain()  # lease releases happen in the background
        for task in self.tasks.values():
            task.close()
        if self._redis is not None:
            await self._redis.close()
        self._book_fired()
        self.history.close()

    # --- services ---------------------------------------------------------------------------

    def _run_id(self) -> str:
        return f"{self.rt.run_id[:8]}-{next(self._seq)}"

    def _redis_locks(self) -> RedisLocks:
        if self._redis is None:
            from procsup.tasks.redislock import RedisLocks

            url = self.config.master.redis_url
            assert url, "config validation requires redis_url for lock = redis"
            ttls = [t.lock_ttl for t in self.config.tasks.values() if t.lock == "redis"]
            timeout = min(REDIS_TIMEOUT_MAX, min(ttls, default=5.0) * REDIS_TIMEOUT_SHARE)
            self._redis = RedisLocks(url, op_timeout=timeout)
        return self._redis

    # --- tasks ------------------------------------------------------------------------------

    def _add(self, cfg: TaskConfig, anchor: float) -> Task:
        task = Task(cfg, self.services, anchor)
        task.paused = cfg.name in self.paused
        self.tasks[cfg.name] = task
        self._arm(task, anchor)
        return task

    def _arm(self, task: Task, after: float) -> None:
        fire, skipped = task.schedule.next_after(after)
        self._plan(task, fire, skipped)

    def _plan(self, task: Task, fire: Fire, skipped: list[Skipped]) -> None:
        """Wake at the next fire, or earlier at the first skipped occurrence before it: a skip
        is recorded when it happens (the second 02:30 of a fall-back night), not only when the
        next run comes a day later, or never if the master stops in between."""
        at = min(fire.at, skipped[0].at) if skipped else fire.at
        key = ("task", task.name)
        self._timers.set(key, at, lambda: self._due(task, fire, skipped, self._clock()))
        task.rescheduled(fire)

    def _due(self, task: Task, fire: Fire, skipped: list[Skipped], now: float) -> None:
        """The timer of `task` went off at `now`: record the skips that have passed, and run the
        fire if it is due too."""
        if self.tasks.get(task.name) is not task:
            return  # removed or replaced by a reload meanwhile
        passed = [s for s in skipped if s.at <= now]
        for skip in passed:  # a second-level job skips a whole hour's gap: one log line
            self._record_dst_skip(task, skip)
        if passed:
            log.info("task %s: %d run(s) skipped (%s)", task.name, len(passed), passed[0].reason)
            self.history.mark_fired(task.name, passed[-1].at)
        if fire.at > now:
            self._plan(task, fire, skipped[len(passed) :])
            return
        # Launch first, book after: with many tasks due at once, every run's spawn is on its
        # way before the history and the next fire times of the others are dealt with
        if not self._launch_now(task, fire):
            self._launch(task.fire(fire))
        if not self._booking:
            # a timer of 0 s runs after the callbacks ready now: the fires' first steps
            self.rt.loop.call_later(0, self._book_fired)
        self._booking.append((task, fire, now))

    def _launch_now(self, task: Task, fire: Fire) -> bool:
        """Task.launch_now in the wake-up's batch; False when the fire must go the async way.
        A failure is logged as a failed fire is, and the task is still re-armed."""
        if self._batch is None:
            return False
        try:
            return task.launch_now(fire, self._batch)
        except Exception:
            log.exception("a task fire failed")
            return True

    @contextlib.contextmanager
    def _instant(self) -> Iterator[None]:
        """Around the timer callbacks of one wake-up: the fires due then that need not wait
        are launched in one go, their spawns overlapped (instant.py), with no await until
        every child is watched."""
        with Instant(INSTANT_DEPTH) as batch:
            self._batch = batch
            try:
                yield
            finally:
                self._batch = None

    def _book_fired(self) -> None:
        """Record the fires just launched (one history transaction) and arm their tasks again.
        Fires missed while the master stood still (suspend, a clock jump) are not made up."""
        booking, self._booking = self._booking, []
        self.history.mark_fired_many([(task.name, fire.at) for task, fire, _ in booking])
        for task, fire, now in booking:
            if self.tasks.get(task.name) is task and not self._closing:
                self._arm(task, max(fire.at, now))

    def _launch(self, coro: Coroutine[Any, Any, object]) -> None:
        """Run a fire in the background, tracked so that shutdown can cancel it."""
        job = self.rt.loop.create_task(coro)
        self._firing.add(job)
        job.add_done_callback(self._fire_done)

    def _fire_done(self, job: asyncio.Task[object]) -> None:
        self._firing.discard(job)
        if not job.cancelled() and job.exception() is not None:
            log.error("a task fire failed", exc_info=job.exception())

    def _record_dst_skip(self, task: Task, skip: Skipped) -> None:
        rec = RunRecord(
            task=task.name,
            run_id=self._run_id(),
            trigger="schedule",
            status="skipped",
            scheduled=skip.at,
            reason=skip.reason,
            host=self.host,
        )
        task.last = self.history.record_skip(rec, task.config.history)

    def _catch_up(self, task: Task, now: float) -> None:
        """After the master was down over a due time, run once at start (`catch_up = true`)."""
        last = self.history.last_fired(task.name)
        if not task.config.catch_up or not task.config.enabled or last is None:
            return
        missed, _ = task.schedule.next_after(last)
        if missed.at < now:
            log.info("task %s: catching up the run due at %s", task.name, missed.nominal)
            self.history.mark_fired(task.name, missed.at)
            self._launch(task.launch("catch-up", missed.at))

    def task(self, name: str) -> Task:
        try:
            return self.tasks[name]
        except KeyError:
            raise UnknownTask(f"no task named {name!r} (see `procsup tasks`)") from None

    async def run_now(self, name: str) -> TaskRun | RunRecord:
        """`procsup run TASK`: a manual run through the same overlap policy and lock."""
        return await self.task(name).launch("manual", None)

    async def stop_runs(self, names: list[str]) -> list[RunRecord]:
        """`procsup stop TASK`: stop the named tasks' runs in progress, recorded as stopped by
        the user. The schedule goes on: the next fire runs as usual."""
        tasks = [self.task(n) for n in names]  # every name checked before anything stops
        stopped = await asyncio.gather(*(t.stop_runs(STOPPED_BY_USER) for t in tasks))
        return [rec for records in stopped for rec in records]

    def set_paused(self, names: list[str], paused: bool) -> list[str]:
        """`procsup pause` / `resume`: skip (or run again) the named tasks' scheduled and
        chained fires; a manual `run` still runs. Returns the names whose state changed."""
        tasks = [self.task(n) for n in names]  # every name checked before anything changes
        changed = [t.name for t in tasks if t.paused != paused]
        for task in tasks:
            task.paused = paused
            task.rescheduled(task.next)  # publishes the new row
        self.paused = (self.paused | set(changed)) if paused else (self.paused - set(changed))
        save_paused(Path(self.rt.state_dir), self.paused)
        for name in changed:
            log.info("task %s: %s", name, "paused" if paused else "resumed")
        return changed

    def _run_ended(self, rec: RunRecord) -> None:
        """Start the tasks chained `after` this one whose condition the run's end meets."""
        if self._closing:
            return  # shutting down: nothing new starts
        for task in list(self._chained.get(rec.task, ())):
            if self.tasks.get(task.name) is not task:
                continue  # removed or replaced by a reload in progress
            if chain_meets(task.config.after.get(rec.task), rec.status):
                log.info(
                    "task %s: after %s run %s (%s)", task.name, rec.task, rec.run_id, rec.status
                )
                self._launch(task.launch(f"after {rec.task} {rec.run_id}", None))

    def rows(self) -> list[TaskRow]:
        return [task.snapshot() for task in self.tasks.values()]

    # --- reload -----------------------------------------------------------------------------

    async def apply(self, new: Config) -> dict[str, list[str]]:
        """New tasks are scheduled, removed ones stop (with their runs), changed ones take the
        new settings from their next run on; a run in progress finishes under the old ones."""
        old = self.tasks
        added = [n for n in new.tasks if n not in old]
        removed = [n for n in old if n not in new.tasks]
        changed = [n for n in old if n in new.tasks and old[n].config != new.tasks[n]]
        self.config = new
        if self._redis is not None and _redis_changed(old, new):
            await self._redis.close()
            self._redis = None
        for name in removed:
            task = self.tasks.pop(name)
            task.retired = True
            self._timers.cancel(("task", name))
            await task.stop_runs("removed by reload")
            task.close()
            self.rt.publish(Event("task", name, {"task": None, "event": "removed"}))
        now = self._clock()
        for name in changed:
            self._replace(old[name], new.tasks[name], now)
        for name in added:
            self._add(new.tasks[name], now)
        self._plan_restarts(new)
        self._chained = index_chains(self.tasks.values())
        return {
            "tasks_added": sorted(added),
            "tasks_removed": sorted(removed),
            "tasks_changed": sorted(changed),
        }

    def _replace(self, task: Task, cfg: TaskConfig, now: float) -> None:
        """A changed task keeps its runs in progress (under their old settings), its output
        when the log files stay the same, and its @every rhythm when the schedule does."""
        same_schedule = (task.config.schedule, task.config.timezone) == (cfg.schedule, cfg.timezone)
        task.reconfigure(cfg, task.schedule.anchor if same_schedule else now)
        self._arm(task, now)

    # --- planned restarts of programs -------------------------------------------------------

    def _plan_restarts(self, config: Config) -> None:
        wanted = {n: p.restart_schedule for n, p in config.programs.items() if p.restart_schedule}
        for name in set(self._restarts) - set(wanted):
            self._timers.cancel(("restart", name))
            del self._restarts[name]
        now = self._clock()
        for name, expr in wanted.items():
            current = self._restarts.get(name)
            if current is None or current.expr != expr:
                self._restarts[name] = Schedule(expr, None, now)
                self._arm_restart(name, now)

    def _arm_restart(self, name: str, after: float) -> None:
        fire, _ = self._restarts[name].next_after(after)
        self._timers.set(("restart", name), fire.at, lambda: self._restart_due(name, fire))

    def _restart_due(self, name: str, fire: Fire) -> None:
        if name not in self._restarts:
            return
        self._arm_restart(name, max(fire.at, self._clock()))
        log.info("program %s: planned restart (restart_schedule)", name)
        self.rt.publish(Event("program", name, {"event": "planned-restart"}))
        self.rt.background(self._restart_program(name))


def _redis_changed(old: dict[str, Task], new: Config) -> bool:
    """The Redis client's timeout is made for the shortest lease; remake it if leases change.
    (A new redis_url, like every [procsup] setting, takes effect on the next master start.)"""
    before = sorted(t.config.lock_ttl for t in old.values() if t.config.lock == "redis")
    after = sorted(t.lock_ttl for t in new.tasks.values() if t.lock == "redis")
    return before != after
