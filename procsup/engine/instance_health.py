"""The health glue of one instance: its NOTIFY_SOCKET, its liveness and readiness probers, and
what their verdicts do (READY=1 ends STARTING, a hang replaces the run).

It drives its instance through `Owner`, the few things it needs of instance.Instance, so the
import goes one way (instance.py owns one of these)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from procsup.config.load import ProgramConfig
from procsup.core.schema import InstanceRow
from procsup.core.states import State
from procsup.engine.events import Event
from procsup.engine.health import Health
from procsup.engine.instenv import INSTANCE_ENV
from procsup.engine.notify import KEEPALIVE, NotifySocket, in_tree, socket_path
from procsup.engine.output import Output
from procsup.engine.probes import Prober
from procsup.engine.process import SpawnSpec
from procsup.engine.runtime import Runtime

log = logging.getLogger("procsup.engine.instance")


class Owner(Protocol):
    """What the health glue needs of its instance (instance.Instance)."""

    name: str
    config: ProgramConfig
    num: int
    rt: Runtime
    state: State
    output: Output
    on_state: Callable[[Any], None] | None
    _hung: str | None

    @property
    def pid(self) -> int | None: ...

    @property
    def instance_id(self) -> str: ...

    def spawn_spec(self) -> SpawnSpec: ...

    def snapshot(self) -> InstanceRow: ...

    def _set_state(self, new: State, **data: Any) -> None: ...

    def _replace_hung(self, cause: str) -> Coroutine[Any, Any, None]: ...


class InstanceHealth:
    """The instance's Health record fed by sd_notify datagrams and probes, and the reactions."""

    def __init__(self, inst: Owner) -> None:
        self.inst = inst
        config, rt = inst.config, inst.rt
        self.health = Health(config, rt.clock, self.on_hung)
        inst.output.on_data = self.health.output if config.max_silence else None
        self._notify: NotifySocket | None = None
        self._probes = [
            Prober(probe, inst.num, rt, inst.spawn_spec, inst.output, on_change)
            for probe, on_change in (
                (config.liveness, self._on_liveness),
                (config.readiness, self._on_readiness),
            )
            if probe is not None
        ]

    def begin(self) -> None:
        """A new run: deadlines and probes start over; its READY=1 is read at once."""
        self.health.begin()
        if self._notify is not None:
            self._notify.pool(False)
        for prober in self._probes:
            prober.begin()

    def end(self) -> None:
        self.health.end()
        for prober in self._probes:
            prober.end()

    def close(self) -> None:
        """The instance is forgotten: release its socket too."""
        self.end()
        if self._notify is not None:
            self._notify.close()
            self._notify = None

    def notify_socket(self) -> NotifySocket:
        """This instance's NOTIFY_SOCKET, opened at its first spawn and kept until close()."""
        if self._notify is None:
            inst = self.inst
            path = socket_path(inst.rt.state_dir, inst.name, abstract=inst.config.user is not None)
            hub = inst.rt.notify_hub()
            self._notify = NotifySocket(path, inst.rt.loop, self._on_notify, self._sender_ok, hub)
            self.health.pending = self._notify.drain
        return self._notify

    def _sender_ok(self, pid: int) -> bool:
        inst = self.inst
        current = inst.pid
        if current is None:
            return False
        leader = self.health.main_pid or current
        if pid == leader:  # the common case, without building the mark
            return True
        return in_tree(pid, leader, f"{INSTANCE_ENV}={inst.instance_id}")

    def _on_notify(self, fields: dict[str, str]) -> None:
        """One sd_notify(3) datagram from the instance's tree."""
        if fields is KEEPALIVE:  # the common case, 500 a second in bench/bench_health.py
            self.health.keepalive()
            return
        changed = self.health.apply(fields)
        if fields.get("READY") == "1":
            self._became_ready()
            if self.inst.config.watchdog and self._notify is not None:
                self._notify.pool(True)  # keep-alives from now on: read in coalesced rounds
        if fields.get("WATCHDOG") == "trigger":
            self.on_hung("watchdog: triggered by the program (WATCHDOG=trigger)")
        if changed:
            self._health_changed()

    def _became_ready(self) -> None:
        inst = self.inst
        if inst.state == State.STARTING and self.health.is_ready():
            inst._set_state(State.RUNNING, pid=inst.pid)  # STARTING -> RUNNING

    def _on_readiness(self, ok: bool, detail: str) -> None:
        """Readiness changes what the row says (and ends STARTING); it never restarts."""
        self.health.probe_ready, self.health.probe_detail = ok, detail
        if ok:
            self._became_ready()
        else:
            log.warning("%s: not ready: %s", self.inst.name, detail)
        self._health_changed()

    def _health_changed(self) -> None:
        """Tell live views (a `health` event with the row); state changes say it themselves.
        Readiness may flip without a state change: instances waiting on `depends_on = { x =
        "ready" }` are told too."""
        inst = self.inst
        row = inst.rt.describe(inst) if inst.rt.describe else inst.snapshot()
        inst.rt.publish(Event("health", inst.name, {"row": row}))
        if inst.on_state is not None:
            inst.on_state(inst)

    def _on_liveness(self, ok: bool, detail: str) -> None:
        if not ok:
            self.on_hung(f"liveness: {detail}")

    def on_hung(self, cause: str) -> None:
        """A deadline passed or liveness failed: replace the run, in the background."""
        inst = self.inst
        busy = inst._hung is not None or inst.state not in (State.STARTING, State.RUNNING)
        if inst.pid is None or busy:
            return
        signal = inst.config.watchdog_signal.name
        log.warning("%s: hung (%s): %s, then a restart", inst.name, cause, signal)
        inst.rt.publish(Event("hung", inst.name, {"cause": cause, "signal": signal}))
        inst.rt.background(inst._replace_hung(cause))
