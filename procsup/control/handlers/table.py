"""The command table: every control command by name, listed here explicitly (no registration by
import side effect), so what the master answers to can be read in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from procsup.control.handlers import base, logs, state, tasks

if TYPE_CHECKING:
    from procsup.control.handlers.base import Connection
    from procsup.control.handlers.view import MasterView

Handler = Callable[["MasterView", dict[str, Any], "Connection"], Awaitable[Any]]

COMMANDS: dict[str, Handler] = {
    "hello": base.hello,
    "list": base.list_,
    "start": base.start,
    "stop": state.stop,
    "restart": base.restart,
    "signal": base.signal_,
    "scale": base.scale,
    "add": base.add,
    "remove": base.remove,
    "reload": state.reload,
    "save": base.save,
    "shutdown": base.shutdown,
    "events": base.events,
    "stats": base.stats,
    "logs": logs.logs,
    "tasks": tasks.tasks,
    "run": tasks.run,
    "history": tasks.history,
    "pause": tasks.pause,
    "resume": tasks.resume,
}
