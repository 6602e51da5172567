"""The services an instance needs from the master, grouped so the constructor stays small.

This is the seam between policy (instances, programs, task runs) and the master that owns
everything: the spawner, the reaper and the clock are Protocols (seams.py) with the real ones as
defaults, so a test can build a Runtime with fakes and drive the policy in-process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from procsup.core.schema import InstanceRow
from procsup.engine.events import Broadcaster, Event
from procsup.engine.httprounds import HttpRounds
from procsup.engine.notifyhub import NotifyHub
from procsup.engine.process import spawn
from procsup.engine.proctree import TableSource
from procsup.engine.seams import Clock, ExitWatcher, LoopClock, Spawner, SpawnGate

if TYPE_CHECKING:
    from procsup.engine.cgtree import CgroupTree

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    loop: asyncio.AbstractEventLoop
    reaper: ExitWatcher
    events: Broadcaster
    run_id: str
    state_dir: str
    base_env: dict[str, str]
    base_dir: str  # the config file's folder: where programs without `directory` run
    on_change: Callable[[], None] = lambda: None
    #: pids of every instance's current leader, kept up to date at spawn and exit
    leader_set: set[int] = field(default_factory=set)
    tables: TableSource = field(default_factory=TableSource)
    #: the cgroup subtree every spawn gets a leaf in; None under process tracking
    cgroups: CgroupTree | None = None
    spawner: Spawner = spawn
    clock: Clock = field(default_factory=LoopClock)
    #: an instance's whole protocol row (Registry.row), for the `state` events it publishes
    describe: Callable[[Any], InstanceRow] | None = None
    #: program name -> the gate of a `singleton = true` program, kept by tasks/singleton.py
    gates: dict[str, SpawnGate] = field(default_factory=dict)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _hub: NotifyHub | None = None
    _http: HttpRounds | None = None

    def notify_hub(self) -> NotifyHub:
        """The hub that reads settled notify sockets in coalesced rounds (made on first use)."""
        if self._hub is None:
            self._hub = NotifyHub(self.loop)
        return self._hub

    def http_rounds(self) -> HttpRounds:
        """The plain-HTTP probe checks in flight, looked at in rounds (made on first use)."""
        if self._http is None:
            self._http = HttpRounds(self.loop)
        return self._http

    def publish(self, event: Event) -> None:
        self.events.publish(event)

    def changed(self) -> None:
        """Something worth persisting changed (the master debounces the write)."""
        self.on_change()

    def leaders(self) -> set[int]:
        return self.leader_set

    def background(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a fire-and-forget job, keeping a reference and logging its failure."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background job failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for background jobs (used at shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
