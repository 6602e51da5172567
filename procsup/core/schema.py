"""The wire contract: every row and event the master sends, as typed dicts (docs/protocol.md).

A field is added here once and every reader follows: the engine annotates the builders of rows
and events with these types (so mypy checks what it sends), the CLI tables and the TUI read them,
the TUI's test fakes build their rows through `instance_row`/`task_row`/`run_row` (so a renamed
field breaks them), and tests/unit/test_schema.py holds this module and the protocol page to the
same keys. TypedDicts are plain dicts at run time: json.dumps takes them as they are. The rows
live in rows.py and the events in events_schema.py; both are re-exported from here.

Imports `typing`, which costs `procsup list` 3 ms: modules on that path import this one only
under TYPE_CHECKING.
"""

from typing import TypeVar

from procsup.core.events_schema import (
    EVENT_TYPES,
    Event,
    ExitFacts,
    HealthEvent,
    HungEvent,
    LogEvent,
    LogFileStatus,
    MasterEvent,
    MaxMemoryEvent,
    ProgramEvent,
    RunEvent,
    SnapshotItem,
    StateEvent,
    StatsItem,
    StatsSample,
    TaskEvent,
)
from procsup.core.rows import (
    FleetStatus,
    InstanceRow,
    LogLine,
    LogStatus,
    MasterInfo,
    Override,
    RunningRun,
    RunRow,
    TaskRow,
)

# no `from __future__ import annotations`: TypedDict reads NotRequired[...] only from real types

#: the rows of rows.py and the events of events_schema.py re-exported, so every reader imports
#: the whole wire contract from this one module
__all__ = [
    "EVENT_TYPES",
    "Event",
    "ExitFacts",
    "FleetStatus",
    "HealthEvent",
    "HungEvent",
    "InstanceRow",
    "LogEvent",
    "LogFileStatus",
    "LogLine",
    "LogStatus",
    "MasterEvent",
    "MasterInfo",
    "MaxMemoryEvent",
    "Override",
    "ProgramEvent",
    "RunEvent",
    "RunRow",
    "RunningRun",
    "SnapshotItem",
    "StateEvent",
    "StatsItem",
    "StatsSample",
    "TaskEvent",
    "TaskRow",
    "fields",
    "instance_row",
    "run_row",
    "task_row",
]

T = TypeVar("T")


def fields(schema: type) -> frozenset[str]:
    """Every key a TypedDict of this module may hold, required or not."""
    keys: frozenset[str] = schema.__required_keys__ | schema.__optional_keys__  # type: ignore[attr-defined]
    return keys


# --- builders (what tests and fakes use, so a renamed field breaks them) ------------------------


def instance_row(name: str, state: str, **extra: object) -> InstanceRow:
    """A complete instance row with every key at its resting value, `extra` on top; a key that
    is not in InstanceRow is refused."""
    program, _, num = name.rpartition(":")
    row: InstanceRow = {
        "name": name,
        "program": program or name,
        "num": int(num) if num.isdigit() else 0,
        "state": state,
        "pid": None,
        "started": None,
        "uptime": None,
        "restarts": 0,
        "attempt": 0,
        "next_try": None,
        "last_exit": None,
        "last_exit_time": None,
        "spawn_error": None,
        "last_exit_reason": None,
        "last_exit_cause": None,
        "desired": state != "STOPPED",
        "waiting": None,
        "overrides": [],
        "log_error": None,
        "log_dropped": 0,
        "standby": None,
        "health": None,
        "ready": state == "RUNNING",
        "status_text": None,
    }
    return _with(row, InstanceRow, extra)


def run_row(task: str, run_id: str, status: str, **extra: object) -> RunRow:
    row: RunRow = {
        "task": task,
        "run_id": run_id,
        "trigger": "schedule",
        "status": status,
        "scheduled": None,
        "started": None,
        "ended": None,
        "duration": None,
        "exit_code": None,
        "reason": None,
        "host": "",
        "fencing_token": None,
        "count": 1,
        "last_scheduled": None,
    }
    return _with(row, RunRow, extra)


def task_row(name: str, schedule: str, **extra: object) -> TaskRow:
    row: TaskRow = {
        "name": name,
        "schedule": schedule,
        "timezone": "UTC",
        "enabled": True,
        "paused": False,
        "after": {},
        "overlap": "skip",
        "lock": "local",
        "next_run": None,
        "next_run_local": None,
        "running": [],
        "last": None,
    }
    return _with(row, TaskRow, extra)


def _with(row: T, schema: type, extra: dict[str, object]) -> T:
    unknown = set(extra) - fields(schema)
    if unknown:
        raise KeyError(f"{schema.__name__} has no field {sorted(unknown)}")
    row.update(extra)  # type: ignore[attr-defined]
    return row
