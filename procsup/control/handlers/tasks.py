"""Control commands for cron tasks: `tasks`, `run` and `history` (see base.py for the
conventions; these register into the same table)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from procsup.control import protocol
from procsup.control.handlers.base import Connection, _arg, command
from procsup.control.protocol import ProtocolError
from procsup.tasks.history import RunRecord
from procsup.tasks.scheduler import UnknownTask

if TYPE_CHECKING:
    from procsup.engine.master import Master


@command("tasks")
async def tasks(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Every task: schedule, time zone, next run (epoch and in its zone), runs in progress and
    the last result."""
    return {"tasks": master.scheduler.rows()}


@command("run")
async def run(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Run a task now, through its overlap policy and lock; `wait` returns when it has ended."""
    name = _arg(args, "task", str, None)
    if not name:
        raise ProtocolError(protocol.INVALID, "run needs args.task")
    try:
        started = await master.scheduler.run_now(name)
    except UnknownTask as exc:
        raise ProtocolError(protocol.NOT_FOUND, str(exc)) from None
    if isinstance(started, RunRecord):  # skipped
        return {"run": started.to_json()}
    if _arg(args, "wait", bool, False):
        record = await conn.next_or_leave(asyncio.shield(started.done))
        return {"run": record.to_json()}
    return {"run": started.record.to_json()}


@command("history")
async def history(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Recent runs and skips, newest first, of one task (`task`) or of all."""
    name = _arg(args, "task", str, None)
    limit = _arg(args, "limit", int, 20)
    if name is not None and name not in master.scheduler.tasks:
        known = master.scheduler.history.recent(name, 1)
        if not known:
            raise ProtocolError(protocol.NOT_FOUND, f"no task named {name!r} (see `procsup tasks`)")
    if not 1 <= limit <= 100_000:
        raise ProtocolError(protocol.INVALID, "args.limit must be 1..100000")
    runs = master.scheduler.history.recent(name, limit)
    return {"runs": [r.to_json() for r in runs]}
