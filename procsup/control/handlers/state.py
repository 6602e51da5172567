"""Control commands about run-time desired state: `stop` (instances, and the runs of tasks) and
`reload` (keeping what the user changed, or `reset` to the file). See base.py for the
conventions)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from procsup.config.load import ConfigError
from procsup.control import protocol
from procsup.control.handlers.args import arg, names
from procsup.control.handlers.base import Connection
from procsup.control.protocol import ProtocolError
from procsup.engine.names import NotFound

if TYPE_CHECKING:
    from procsup.control.handlers.view import MasterView
    from procsup.engine.instance import Instance


async def stop(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Stop the named instances and their whole process trees; cancels pending retries. A
    task's name (or a glob) stops that task's runs in progress; its schedule goes on; `all`
    means every instance (task runs are stopped by name). `everywhere` keeps a `singleton`
    program from being taken over by another master (a plain stop hands it over)."""
    try:
        insts, tasks = view.targets(names(args))
    except NotFound as exc:
        raise ProtocolError(protocol.NOT_FOUND, str(exc)) from None
    if arg(args, "everywhere", bool, False):
        await view.park_singletons(singleton_programs(insts), True)
    _, runs = await asyncio.gather(view.stop(insts), view.stop_task_runs(tasks))
    return {
        "instances": view.rows(insts),
        "tasks": tasks,
        "runs": [rec.to_json() for rec in runs],
    }


def singleton_programs(insts: list[Instance]) -> list[str]:
    return sorted({i.config.name for i in insts if i.config.singleton})


async def reload(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Re-read the config file and apply the difference, keeping what the user changed at run
    time (listed as `kept`); `reset` applies the file exactly as written instead. A bad config
    changes nothing."""
    try:
        return await view.reload(arg(args, "reset", bool, False))
    except ConfigError as exc:
        raise ProtocolError(
            protocol.CONFIG_ERROR,
            f"config rejected, nothing changed: {len(exc.issues)} error(s)",
            [str(i) for i in exc.issues],
        ) from None
