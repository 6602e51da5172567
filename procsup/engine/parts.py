"""The parts of a master that are built outside the engine (composition from the outside: the
control server and the cron scheduler sit in layers above it), as the small Protocols the master
drives them through. control/compose.py supplies the real ones."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from procsup.config.load import Config
    from procsup.engine.runtime import Runtime

#: `restart_schedule`: a rolling restart of one program, by name
PlannedRestart = Callable[[str], Coroutine[Any, Any, None]]

#: the master a Parts serves: a type parameter, so this module never imports master.py
M_contra = TypeVar("M_contra", contravariant=True)


class TaskSet(Protocol):
    """The cron tasks (tasks.scheduler.Scheduler): started after autostart, applied on reload,
    closed first at shutdown."""

    def start(self) -> None: ...

    async def close(self) -> None: ...

    async def apply(self, new: Config) -> dict[str, list[str]]: ...


class Frontend(Protocol):
    """How clients reach the master (control.server.Server)."""

    @property
    def path(self) -> Path: ...

    async def start(self) -> None: ...

    def ensure_socket(self) -> None: ...

    async def close_listener(self) -> None: ...

    async def close(self) -> None: ...


class Parts(Protocol[M_contra]):
    """Builds the outside parts once the master's engine is up; the master passes itself to
    `frontend` (master.py names itself as M_contra, so the import goes one way)."""

    def tasks(self, rt: Runtime, config: Config, restart: PlannedRestart) -> TaskSet: ...

    def frontend(self, master: M_contra) -> Frontend: ...
