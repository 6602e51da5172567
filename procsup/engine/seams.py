"""The engine's seams (STYLE.md habit 4): what policy needs from the OS and from time, as small
Protocols, so instances and task runs can be driven in-process by a test with a fake spawner and
an explicit clock, while the master passes the real implementations (the defaults in Runtime).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from procsup.engine.process import Child, SpawnSpec


class Spawner(Protocol):
    """Starts one child (process.spawn); raises OSError, KeyError or ValueError on failure."""

    def __call__(self, spec: SpawnSpec) -> Child: ...


class ExitWatcher(Protocol):
    """Tells who asked when a child exits (process.Reaper): `on_exit(code)`, once."""

    def watch(self, pid: int, on_exit: Callable[[int], None]) -> None: ...


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Time as policy sees it: the monotonic clock for durations, the wall clock for what
    people read, and timers on the monotonic clock."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...


class LoopClock:
    """The real clock: time.monotonic/time.time, timers from the running event loop."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(delay, callback)


class SpawnGate(Protocol):
    """What a `singleton = true` program asks before each spawn (tasks/singleton.py supplies
    it): may it run on this master now (it holds the lease), and the spec to run it under the
    lease's keeper. With no gate, a singleton program never runs."""

    def may_run(self) -> bool: ...

    def wrap(self, spec: SpawnSpec, stop_signal: int, stop_timeout: float) -> SpawnSpec: ...

    def standby(self) -> str | None:
        """Who holds the lease while this master stands by (None while it holds it)."""
        ...
