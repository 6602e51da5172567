"""The rows of the wire contract (docs/protocol.md): instances, tasks, runs, the master's facts.

Defined apart from the events (events_schema.py), which carry these rows, and from the builders
(schema.py), which re-export both, so the three import one way. Readers import schema.py.
"""

from typing import Literal, NotRequired, TypedDict

# no `from __future__ import annotations`: TypedDict reads NotRequired[...] only from real types

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
