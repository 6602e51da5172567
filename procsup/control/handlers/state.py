"""Control commands about run-time desired state: `stop` (instances, and the runs of tasks) and
`reload` (keeping what the user changed, or `reset` to the file). See base.py for the
conventions; these register into the same table."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from procsup.config.load import ConfigError
from procsup.control import protocol
from procsup.control.handlers.base import (
    Connection,
    _arg,
    _names,
    _no_match,
    _rows,
    _tasks_matching,
    command,
)
from procsup.control.protocol import ProtocolError
from procsup.engine.instance import Instance
from procsup.engine.registry import NotFound

if TYPE_CHECKING:
    from procsup.engine.master import Master


@command("stop")
async def stop(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Stop the named instances and their whole process trees; cancels pending retries. A
    task's name (or a glob) stops that task's runs in progress; its schedule goes on."""
    insts, tasks = _stop_targets(master, _names(args))
    _, runs = await asyncio.gather(master.registry.stop(insts), master.scheduler.stop_runs(tasks))
    return {
        "instances": _rows(master, insts),
        "tasks": tasks,
        "runs": [rec.to_json() for rec in runs],
    }


def _stop_targets(master: Master, names: list[str]) -> tuple[list[Instance], list[str]]:
    """Instances and tasks named; `all` means every instance (task runs are stopped by name)."""
    insts: dict[str, Instance] = {}
    tasks: dict[str, None] = {}
    for name in names:
        matched = _tasks_matching(master, name) if name != "all" else []
        tasks.update(dict.fromkeys(matched))
        try:
            insts.update((i.name, i) for i in master.registry.resolve([name]))
        except NotFound:
            if not matched:
                raise ProtocolError(protocol.NOT_FOUND, _no_match(name)) from None
    return list(insts.values()), list(tasks)


@command("reload")
async def reload(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Re-read the config file and apply the difference, keeping what the user changed at run
    time (listed as `kept`); `reset` applies the file exactly as written instead. A bad config
    changes nothing."""
    try:
        return await master.reload(_arg(args, "reset", bool, False))
    except ConfigError as exc:
        raise ProtocolError(
            protocol.CONFIG_ERROR,
            f"config rejected, nothing changed: {len(exc.issues)} error(s)",
            [str(i) for i in exc.issues],
        ) from None
