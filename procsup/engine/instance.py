"""One supervised slot (`queue:3`): its state machine, restart backoff and current child.

An Instance knows its program's policy and nothing of sockets or other programs. Every state change
goes through `_set_state`, which checks the transition and publishes the event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from procsup.config.load import ProgramConfig
from procsup.core.schema import ExitFacts, InstanceRow
from procsup.core.states import RUNNING_STATES, State, can_transition
from procsup.engine import exitinfo, exitpolicy
from procsup.engine import instance_row as rows
from procsup.engine.backoff import RunInfo, backoff_delay
from procsup.engine.child import SPAWN_ERRORS, ChildProc
from procsup.engine.events import Event
from procsup.engine.exitinfo import Ending
from procsup.engine.instance_health import InstanceHealth
from procsup.engine.process import SpawnSpec
from procsup.engine.proctree import ProcessTable, instance_tree, start_ticks, tree_stats
from procsup.engine.runtime import Runtime
from procsup.engine.seams import Timer
from procsup.engine.spawnbatch import Batch
from procsup.engine.stopping import StopPolicy, retire_leaf
from procsup.engine.turns import Turns

log = logging.getLogger(__name__)


class Instance:
    """A program instance: spawns, watches, restarts with backoff, stops its whole tree.

    Everything it needs from the OS and from time comes through `runtime` (its spawner, reaper
    and clock are seams), so the policy can be driven in-process with fakes."""

    def __init__(self, config: ProgramConfig, num: int, runtime: Runtime) -> None:
        self.config = config
        self.num = num
        self.name = f"{config.name}:{num}"
        self.rt = runtime
        self.state = State.STOPPED
        self.info = RunInfo()
        self.desired = config.autostart
        self.output = rows.make_output(config, num, self.name)
        self.ring = self.output.ring
        self._proc: ChildProc | None = None  # the current spawn (with its cgroup leaf)
        self._timer: Timer | None = None
        self._exited: asyncio.Future[int] | None = None
        self._turns = Turns()  # its lock, and the waiters for its next state change
        self._spawns = 0
        self._stop_facts: ExitFacts | None = None
        self._stop_why = exitpolicy.STOP_REQUESTED
        self._hung: str | None = None  # why the run being stopped was found hung
        #: notify socket, probes and hang handling (instance_health.py)
        self._watch = InstanceHealth(self)
        self.health = self._watch.health
        #: the registry's `depends_on` check, called with the instance: the first unmet
        #: condition ("db (ready)") or None
        self.gate: Callable[[Instance], str | None] | None = None
        #: told after every state change (the registry releases instances waiting on this one)
        self.on_state: Callable[[Instance], None] | None = None
        #: told when `waiting` changes (the registry publishes the program's rows)
        self.on_waiting: Callable[[Instance], None] | None = None
        self.waiting: str | None = None  # the unmet dependency a start waits for

    @property
    def ready(self) -> bool:
        """Whether the instance serves: what `depends_on = { x = "ready" }` waits for. RUNNING,
        and with notify/readiness probes, READY=1 received and the probe passing."""
        return self.state == State.RUNNING and self.health.is_ready()

    @property
    def completed(self) -> bool:
        """Exited by itself with code 0 (`depends_on = { migrate = "completed" }`)."""
        return self.state == State.EXITED and self.info.last_exit == 0

    @property
    def instance_id(self) -> str:
        """Marks every process of the current spawn (inherited through the environment)."""
        return f"{self.rt.run_id}:{self.name}:{self._spawns}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    # --- state ------------------------------------------------------------------------------

    def _set_state(self, new: State, **data: Any) -> None:
        old = self.state
        if old == new:
            return
        if not can_transition(old, new):
            log.error("%s: refusing transition %s -> %s", self.name, old, new)
            return
        self.state = new
        self._turns.changed()
        pid = f" pid={data['pid']}" if data.get("pid") else ""  # why it ended was logged before
        log.info("%s: %s -> %s%s", self.name, old, new, pid)
        if self.rt.events.listening:
            row = self.rt.describe(self) if self.rt.describe else self.snapshot()  # after it
            facts = {"from": old, "to": new, "program": self.config.name, "row": row, **data}
            self.rt.publish(Event("state", self.name, facts))
        self.rt.changed()
        if self.on_state is not None:
            self.on_state(self)

    # --- user actions -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start now, clearing any backoff. Running instances are left alone."""
        async with self._turns.lock():
            self.start_now()

    def start_now(self, batch: Batch | None = None) -> None:
        """`start` for a caller that holds the lock, or knows nobody does: the master's
        autostart, whose spawns overlap in `batch` (spawnbatch.py)."""
        self.desired = True
        self.info.failures = 0
        if self.state in (State.STARTING, State.RUNNING) or self.standing_by():
            return
        self._cancel_timer()
        unmet = self.gate(self) if self.gate is not None else None
        self._set_waiting(unmet)
        if unmet is None:
            self._spawn(batch=batch)  # STOPPED/EXITED/FATAL/BACKOFF -> STARTING

    def busy(self) -> bool:
        """Someone holds the instance (a start, stop or restart is under way)."""
        return self._turns.busy()

    def _set_waiting(self, unmet: str | None) -> None:
        """Note the dependency a start waits for (shown in `list`); the registry starts the
        instance again once it is met."""
        if unmet == self.waiting:
            return
        self.waiting = unmet
        self.info.next_try = None
        if unmet is not None:
            log.info("%s: waiting for %s", self.name, unmet)
        if self.on_waiting is not None:
            self.on_waiting(self)

    async def stop(self, why: str = "stop requested", then: str = exitinfo.STOPPED) -> None:
        """Stop the whole tree (stop_signal, then SIGKILL after stop_timeout); cancel retries.
        `why` and `then` (what follows: STOPPED, or RESTART) go into the exit sentence."""
        async with self._turns.lock():
            self._stop_why = (why, then)
            self.desired = False
            self._set_waiting(None)
            self.info.failures = 0
            self._cancel_timer()
            if self.state == State.BACKOFF:
                self.info.next_try = None
                self._set_state(State.STOPPED)  # BACKOFF -> STOPPED
            elif self.state in RUNNING_STATES:
                await self._terminate()

    async def restart(self, why: str = "restart requested") -> None:
        await self.stop(why, exitinfo.RESTART)
        await self.start()

    async def wait_running(self, timeout: float) -> bool:
        """Wait until the instance has left STARTING; True if it is RUNNING then."""
        deadline = time.monotonic() + timeout
        while self.state == State.STARTING:
            if not await self._turns.next_change(deadline - time.monotonic()):
                break
        return self.state == State.RUNNING

    def start_timeout(self) -> float:
        """How long `start --wait` and a rolling restart wait for it to leave STARTING."""
        return rows.start_timeout(self.config)

    def kill(self, sig: int) -> bool:
        """Send `sig` to the instance's whole tree. False when nothing is running."""
        if self._proc is None:
            return False
        self._proc.signal(sig)
        return True

    def tree(self, table: ProcessTable) -> set[int]:
        """The current spawn's processes; with no child, what the last one left behind."""
        if self._proc is not None:
            return self._proc.tree(table)
        return instance_tree(table, None, self.instance_id, self.rt.leaders())

    def usage(self, table: ProcessTable) -> tuple[float, int]:
        """CPU seconds and memory bytes of the whole tree (its cgroup's, when it has one)."""
        if self._proc is not None:
            return self._proc.usage(table)
        return tree_stats(table, self.tree(table))

    # --- spawning ---------------------------------------------------------------------------

    def spawn_spec(self) -> SpawnSpec:
        notify = self._watch.notify_socket().path if self.config.notify else None
        return rows.spawn_spec(self.config, self.num, self.rt, self.instance_id, notify)

    def standing_by(self) -> bool:
        """A singleton runs only while this master holds its lease (tasks/singleton.py)."""
        if not self.config.singleton:
            return False
        gate = self.rt.gates.get(self.config.name)
        return gate is None or not gate.may_run()

    def _spawn(self, *, batch: Batch | None = None, **exit_facts: Any) -> None:
        """Start a new child; `exit_facts` describe the run it replaces (for the event). In a
        `batch`, the spawn's second half (and what follows it here) runs when the batch says."""
        self._set_state(State.STARTING, **exit_facts)
        self._spawns += 1
        self.info.next_try = None
        spec = self.spawn_spec()
        try:
            gate = self.rt.gates.get(self.config.name) if self.config.singleton else None
            if gate is not None:  # under the lease's keeper, with its fencing token
                spec = gate.wrap(spec, int(self.config.stop_signal), self.config.stop_timeout)
            if batch is not None:
                finish = ChildProc.submit(self.rt, spec, self.output, self.instance_id, "inst")
                batch.add(lambda: self._finish_spawn(spec, finish))
                return
            proc = ChildProc.spawn(self.rt, spec, self.output, self.instance_id, "inst")
        except SPAWN_ERRORS as exc:
            self._spawn_failed(exitinfo.spawn_error_text(exc, spec.argv[0], spec.cwd))
            return
        self._spawned(proc)

    def _finish_spawn(self, spec: SpawnSpec, finish: Callable[[], ChildProc]) -> None:
        try:
            proc = finish()
        except SPAWN_ERRORS as exc:
            self._spawn_failed(exitinfo.spawn_error_text(exc, spec.argv[0], spec.cwd))
            return
        self._spawned(proc)

    def _spawned(self, proc: ChildProc) -> None:
        """The child runs: feed its output, watch it, and go RUNNING when the config says."""
        try:
            proc.attach()
        except OSError as exc:  # out of descriptors for its log files: give the child up
            proc.abandon()
            self._spawn_failed(f"cannot open its log files: {exc.strerror or exc}")
            return
        self._proc = proc
        clock = self.rt.clock
        self.info.start_ticks = start_ticks(proc.pid) or 0
        self.info.spawn_error = None
        self.info.started_mono = clock.monotonic()
        self.info.started_wall = clock.time()
        proc.watch(self._on_exit)
        self._watch.begin()
        if self.config.notify or self.config.readiness:
            return  # STARTING until READY=1 and the readiness probe pass (_became_ready)
        if self.config.start_seconds <= 0:
            self._set_state(State.RUNNING, pid=proc.pid)  # STARTING -> RUNNING
        else:
            self._timer = clock.call_later(self.config.start_seconds, self._mark_running)

    def _spawn_failed(self, error: str) -> None:
        self.info.spawn_error = error
        self.info.last_exit_time = self.rt.clock.time()
        self._after_failure(Ending(exitinfo.spawn_cause(error), spawn_error=error))

    def _mark_running(self) -> None:
        self._timer = None
        if self.state == State.STARTING:
            self._set_state(State.RUNNING, pid=self.pid)  # STARTING -> RUNNING

    def _retry(self) -> None:
        self._timer = None
        if self.state == State.BACKOFF and self.standing_by():
            self.info.next_try = None
            self._set_state(State.STOPPED)  # BACKOFF -> STOPPED: the lease went elsewhere
        elif self.state == State.BACKOFF and self.desired:
            self.info.restarts += 1
            self._spawn()  # BACKOFF -> STARTING

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- exits ------------------------------------------------------------------------------

    def _on_exit(self, code: int) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        self._cancel_timer()
        self._watch.end()
        ran = self.rt.clock.monotonic() - self.info.started_mono
        self.info.last_exit = code
        self.info.last_exit_time = self.rt.clock.time()
        if self._exited is not None and not self._exited.done():
            ending = exitpolicy.stop_ending(self.config, code, ran, self._hung, self._stop_why[0])
            self._stop_facts = self._report(ending, self._stop_why[1])
            self._exited.set_result(code)
            return
        # descendants left behind by a leader that died are stopped too, in the background
        self.rt.background(proc.stop_leftovers(self._stop_policy()))
        self._decide_after_exit(code, ran)

    def _decide_after_exit(self, code: int, ran: float) -> None:
        """One policy for every unexpected exit: restart at once, back off, or leave it.

        A run that got going (exitpolicy.got_going) is restarted at once and clears the
        backoff; a shorter one is a failed start and waits a doubling delay."""
        cfg = self.config
        expected, wanted = exitpolicy.restart_wanted(cfg, code)
        ending = Ending.of(code, ran, expected)
        if not wanted or not self.desired or self.standing_by():
            why = exitpolicy.left_exited_why(cfg, self.desired, wanted)
            facts = self._report(ending, exitinfo.EXITED, why=why)
            self._set_state(State.EXITED, **facts)  # STARTING/RUNNING -> EXITED
            return
        if exitpolicy.got_going(cfg, self.state, ran):
            self.info.failures = 0
            self.info.restarts += 1
            self._spawn(**self._report(ending, exitinfo.RESTART))  # RUNNING -> STARTING at once
            return
        self._after_failure(ending)

    def _after_failure(self, ending: Ending) -> None:
        """A failed start (a quick exit or a spawn error): back off, or give up (FATAL)."""
        cfg = self.config
        self.info.failures += 1
        attempt = self.info.failures
        if cfg.max_restarts and attempt > cfg.max_restarts:
            facts = self._report(
                ending, exitinfo.FATAL, attempt=attempt, max_restarts=cfg.max_restarts
            )
            self._set_state(State.FATAL, failures=attempt, **facts)  # -> FATAL
            return
        delay = backoff_delay(attempt, cfg.restart_delay, cfg.restart_delay_max)
        self.info.next_try = self.rt.clock.time() + delay
        quick = ending.code is not None
        facts = self._report(ending, exitinfo.RETRY, delay=delay, attempt=attempt, quick=quick)
        self._set_state(State.BACKOFF, attempt=attempt, next_try=self.info.next_try, **facts)
        self._timer = self.rt.clock.call_later(delay, self._retry)  # STARTING/RUNNING -> BACKOFF

    def _report(self, ending: Ending, what: str, **step: Any) -> ExitFacts:
        return exitpolicy.report(self.name, self.info, self.output, ending, what, **step)

    def _stop_policy(self) -> StopPolicy:
        return exitpolicy.stop_policy(self.config, self.name, self._hung is not None)

    # --- hangs (found by instance_health.py) ------------------------------------------------

    async def _replace_hung(self, cause: str) -> None:
        """Stop the hung run with watchdog_signal, then start a new one if still wanted."""
        async with self._turns.lock():
            if self._proc is None or self.state not in (State.STARTING, State.RUNNING):
                return
            self._hung = cause
            self._stop_why = (cause, exitinfo.RESTART)
            try:
                await self._terminate()
            finally:
                self._hung = None
            if self.desired:
                self.info.restarts += 1
                self._spawn()  # STOPPED -> STARTING

    # --- stopping ---------------------------------------------------------------------------

    async def _terminate(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._cancel_timer()
        self._exited = self.rt.loop.create_future()
        self._set_state(State.STOPPING)  # STARTING/RUNNING -> STOPPING
        try:
            await proc.stop(self._stop_policy(), self._exited)
        finally:
            self._exited = None
            if proc.cgroup is not None:  # removed after the reply (cgretire.py)
                retire_leaf(self.rt, proc.cgroup)
        facts, self._stop_facts = self._stop_facts, None
        if facts is None:
            self._set_state(State.STOPPED)  # STOPPING -> STOPPED
        else:
            self._set_state(State.STOPPED, **facts)  # STOPPING -> STOPPED

    # --- closing and reporting -------------------------------------------------------------

    def close(self) -> None:
        """Forget this instance (it must be stopped): release timers, files and its socket."""
        self._cancel_timer()
        self._watch.close()
        self.output.close()

    def snapshot(self) -> InstanceRow:
        """The instance row without `overrides` (the registry knows those: Registry.row)."""
        return rows.instance_row(self)
