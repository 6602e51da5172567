"""The wire contract's events: every item of the `events` stream, as typed dicts
(docs/protocol.md), and EVENT_TYPES mapping each `type` to its schema. The rows these events
carry are in core/rows.py; core/schema.py re-exports both, so readers import from there.
"""

from typing import Literal, NotRequired, TypedDict

from procsup.core.rows import FleetStatus, InstanceRow, MasterInfo, RunRow, TaskRow

# no `from __future__ import annotations`: TypedDict reads NotRequired[...] only from real types

# --- events --------------------------------------------------------------------------------------


class ExitFacts(TypedDict):
    """Why a run ended (or could not start) and what happens next: the exit keys of a `state`
    event (engine/exitinfo.py `Ending.fields`)."""

    reason: str
    cause: str
    code: int | None
    exit_code: int | None
    signal: str | None
    expected: bool | None
    uptime: float | None
    next: str
    delay: float | None
    spawn_error: str | None


#: `state`: an instance changed state. `from` is a keyword, hence the functional form.
StateEvent = TypedDict(
    "StateEvent",
    {
        "type": Literal["state"],
        "name": str,
        "time": float,
        "from": str,
        "to": str,
        "program": str,
        "row": InstanceRow,  # the whole row after the change (protocol 1, added)
        "pid": NotRequired[int],  # to RUNNING
        "attempt": NotRequired[int],  # to BACKOFF
        "next_try": NotRequired[float],
        "failures": NotRequired[int],  # to FATAL
        # the exit keys (ExitFacts), when the change ends a run
        "reason": NotRequired[str],
        "cause": NotRequired[str],
        "code": NotRequired[int | None],
        "exit_code": NotRequired[int | None],
        "signal": NotRequired[str | None],
        "expected": NotRequired[bool | None],
        "uptime": NotRequired[float | None],
        "next": NotRequired[str],
        "delay": NotRequired[float | None],
        "spawn_error": NotRequired[str | None],
    },
)


class ProgramEvent(TypedDict):
    """`program`: the set of programs changed (`added`, `removed`, `scaled`, `planned-restart`),
    or an instance's `waiting` note did (`waiting`)."""

    type: Literal["program"]
    name: str
    time: float
    event: str
    numprocs: NotRequired[int]  # `scaled`
    instances: NotRequired[list[InstanceRow]]  # `added`, `scaled`: the program's rows now


class MasterEvent(TypedDict):
    type: Literal["master"]
    name: str  # the host name
    time: float
    event: Literal["started", "stopped", "fleet"] | str
    fleet: NotRequired[FleetStatus]  # only with event "fleet"


class MaxMemoryEvent(TypedDict):
    type: Literal["max_memory"]
    name: str
    time: float
    rss: int
    limit: int


class HungEvent(TypedDict):
    """An instance was found hung (watchdog, max_silence) and is being replaced."""

    type: Literal["hung"]
    name: str
    time: float
    cause: str  # `watchdog: no keep-alive for 3s`
    signal: str  # what it gets first: watchdog_signal (`SIGABRT`)


class HealthEvent(TypedDict):
    """Readiness, the health phase or the program's STATUS= line changed (not on keep-alives)."""

    type: Literal["health"]
    name: str
    time: float
    row: InstanceRow


class TaskEvent(TypedDict):
    type: Literal["task"]
    name: str
    time: float
    task: "TaskRow | None"  # None: a reload removed it
    event: NotRequired[Literal["removed"] | str]


class RunEvent(TypedDict):
    type: Literal["run"]
    name: str
    time: float
    event: Literal["start", "end", "skip"] | str
    run: RunRow


class LogFileStatus(TypedDict):
    """A log file's health (engine/logfile.py): the keys of a `log` event."""

    path: str
    error: str | None
    dropped: int


class LogEvent(TypedDict):
    type: Literal["log"]
    name: str  # the file's path
    time: float
    path: str
    error: str | None
    dropped: int


class StatsSample(TypedDict):
    cpu: float | None
    rss: int | None


class StatsItem(TypedDict):
    """An `events` item every `stats_interval`: CPU% and RSS of every instance with a process."""

    type: Literal["stats"]
    time: float
    instances: dict[str, StatsSample]


class SnapshotItem(TypedDict):
    """The first item of `events`."""

    type: Literal["snapshot"]
    instances: "list[InstanceRow]"
    tasks: "list[TaskRow]"
    master: MasterInfo


Event = (
    StateEvent
    | ProgramEvent
    | MasterEvent
    | MaxMemoryEvent
    | HungEvent
    | HealthEvent
    | TaskEvent
    | RunEvent
    | LogEvent
    | StatsItem
    | SnapshotItem
)

#: every documented event `type` and the schema of its item (tests/unit/test_schema.py)
EVENT_TYPES: dict[str, type] = {
    "state": StateEvent,
    "program": ProgramEvent,
    "master": MasterEvent,
    "max_memory": MaxMemoryEvent,
    "hung": HungEvent,
    "health": HealthEvent,
    "task": TaskEvent,
    "run": RunEvent,
    "log": LogEvent,
    "stats": StatsItem,
    "snapshot": SnapshotItem,
}
