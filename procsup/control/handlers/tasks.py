"""Control commands for cron tasks: `tasks`, `run`, `pause`, `resume` and `history` (see
base.py for the conventions)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from procsup.control import protocol
from procsup.control.handlers.args import arg
from procsup.control.handlers.base import Connection
from procsup.control.protocol import ProtocolError
from procsup.tasks.runrecord import RunRecord
from procsup.tasks.scheduler import UnknownTask

if TYPE_CHECKING:
    from procsup.control.handlers.view import MasterView


async def tasks(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Every task: schedule, time zone, next run (epoch and in its zone), runs in progress and
    the last result."""
    return {"tasks": view.task_rows()}


async def run(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Run a task now, through its overlap policy and lock; `wait` returns when it has ended."""
    name = arg(args, "task", str, None)
    if not name:
        raise ProtocolError(protocol.INVALID, "run needs args.task")
    try:
        started = await view.run_task(name)
    except UnknownTask as exc:
        raise ProtocolError(protocol.NOT_FOUND, str(exc)) from None
    if isinstance(started, RunRecord):  # skipped
        return {"run": started.to_json()}
    if arg(args, "wait", bool, False):
        record = await conn.next_or_leave(asyncio.shield(started.done))
        return {"run": record.to_json()}
    return {"run": started.record.to_json()}


async def pause(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Stop the named tasks' schedules (and chains) until `resume`, kept across restarts; their
    fires are recorded as skipped, `paused`. A manual `run` still runs."""
    return {"changed": _set_paused(view, args, True)}


async def resume(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Let the named paused tasks fire again from their next scheduled time."""
    return {"changed": _set_paused(view, args, False)}


def _set_paused(view: MasterView, args: dict[str, Any], paused: bool) -> list[str]:
    names = arg(args, "tasks", list, None)
    if not names or not all(isinstance(n, str) for n in names):
        raise ProtocolError(protocol.INVALID, "args.tasks must be a list of task names")
    try:
        return view.pause_tasks(names, paused)
    except UnknownTask as exc:
        raise ProtocolError(protocol.NOT_FOUND, str(exc)) from None


async def history(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Recent runs and skips, newest first, of one task (`task`) or of all."""
    name = arg(args, "task", str, None)
    limit = arg(args, "limit", int, 20)
    if name is not None and name not in view.task_names():
        known = view.history(name, 1)
        if not known:
            raise ProtocolError(protocol.NOT_FOUND, f"no task named {name!r} (see `procsup tasks`)")
    if not 1 <= limit <= 100_000:
        raise ProtocolError(protocol.INVALID, "args.limit must be 1..100000")
    runs = view.history(name, limit)
    return {"runs": [r.to_json() for r in runs]}
