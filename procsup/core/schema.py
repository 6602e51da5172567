"""The wire contract: every row and event the master sends, as typed dicts (docs/protocol.md).

A field is added here once and every reader follows: the engine annotates the builders of rows
and events with these types (so mypy checks what it sends), the CLI tables and the TUI read them,
the TUI's test fakes build their rows through `instance_row`/`task_row`/`run_row` (so a renamed
field breaks them), and tests/unit/test_schema.py holds this module and the protocol page to the
same keys. TypedDicts are plain dicts at run time: json.dumps takes them as they are. The rows
are defined here; the events live in events_schema.py and are re-exported from here.

Imports `typing`, which costs `procsup list` 3 ms: modules on that path import this one only
under TYPE_CHECKING.
"""

from typing import Literal, NotRequired, TypedDict, TypeVar

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

# no `from __future__ import annotations`: TypedDict reads NotRequired[...] only from real types

#: the rows defined here and the events of events_schema.py re-exported, so every reader imports
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

# --- objects -------------------------------------------------------------------------------------


class Override(TypedDict):
    """How an instance differs from the config file because of what the user did at run time."""

    kind: Literal["stopped", "started", "scaled", "adhoc"] | str
    text: str
    at: float | None
    numprocs: NotRequired[int]  # only for `scaled`
    file_numprocs: NotRequired[int]


class LogStatus(TypedDict):
    """The instance row's log-file keys (engine/output.py)."""

    log_error: str | None
    log_dropped: int


class InstanceRow(TypedDict):
    """`list`, `start`/`stop`/`restart`/`add` results, the `events` snapshot, `state` events."""

    name: str
    program: str
    num: int
    state: str  # a states.State (a StrEnum: it is its own wire string)
    pid: int | None
    started: float | None
    uptime: float | None
    restarts: int
    attempt: int
    next_try: float | None
    last_exit: int | None
    last_exit_time: float | None
    spawn_error: str | None
    last_exit_reason: str | None
    last_exit_cause: str | None
    desired: bool
    waiting: str | None  # "waiting for db (ready)": a start held back by depends_on
    overrides: list[Override]
    log_error: str | None
    log_dropped: int
    #: a stopped `singleton` instance standing by: the master holding the lease ("" if none)
    standby: str | None
    health: (
        str | None
    )  # `ready`, `not-ready: waiting for READY=1`, `watchdog 2s ago`; None: not set
    ready: bool  # RUNNING and, with notify = true, READY=1 received
    status_text: str | None  # the program's own STATUS= line (sd_notify)
    cpu: NotRequired[float | None]  # only with `stats`
    rss: NotRequired[int | None]


class RunningRun(TypedDict):
    """A run in progress, in a task row's `running`."""

    run_id: str
    pid: int | None
    started: float | None
    scheduled: float | None


class RunRow(TypedDict):
    """One run or skip of a task (`run`, `history`, `run` events, a task row's `last`)."""

    task: str
    run_id: str
    trigger: str  # "schedule" | "manual" | "catch-up" | "after TASK RUN_ID"
    status: str  # tasks/history.py STATUSES
    scheduled: float | None
    started: float | None
    ended: float | None
    duration: float | None
    exit_code: int | None
    reason: str | None
    host: str
    fencing_token: int | None
    count: int
    last_scheduled: float | None


class TaskRow(TypedDict):
    """`tasks`, the `events` snapshot's `tasks`, and `task` events."""

    name: str
    schedule: str
    timezone: str
    enabled: bool
    paused: bool
    after: dict[str, str]
    overlap: str
    lock: str
    next_run: float | None
    next_run_local: str | None
    running: list[RunningRun]
    last: RunRow | None


class FleetStatus(TypedDict):
    """MasterInfo's `fleet`: this master's place in a cluster and whether Redis answers."""

    cluster: str
    node: str
    redis: str  # "connected", or why the last write failed
    remote_control: bool


class MasterInfo(TypedDict):
    """`hello`'s result; also `master` in `list` and in the `events` snapshot."""

    version: str
    protocol: int
    pid: int
    host: str
    started: float
    uptime: float
    config: str
    state_dir: str
    tracking: str
    tracking_detail: str
    fleet: FleetStatus | None  # None without `cluster` in [procsup]


class LogLine(TypedDict):
    """An item of `logs`: one line of output, or procsup's own line about an exit."""

    name: str
    stream: Literal["stdout", "stderr", "procsup"] | str
    time: float
    line: str


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
