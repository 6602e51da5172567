"""A fixed data set and an in-memory Source: the dashboard without a master, deterministic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC
from typing import Any

from procsup.core import schema
from procsup.core.schema import InstanceRow, RunRow, TaskRow
from procsup.tui.app import ProcsupApp
from procsup.tui.fmt import Clock

NOW = 1795427575.0  # 2026-11-23 09:52:55 UTC
CLOCK = Clock(now=lambda: NOW, tz=UTC)


def instance(name: str, state: str, **extra: Any) -> InstanceRow:
    """A row built through the schema: a key InstanceRow does not have fails here."""
    return schema.instance_row(name, state, **({"cpu": None, "rss": None} | extra))


def running(name: str, pid: int, up: float, cpu: float, rss: int, **extra: Any) -> InstanceRow:
    return instance(name, "RUNNING", pid=pid, started=NOW - up, cpu=cpu, rss=rss, **extra)


SCALED: schema.Override = {"kind": "scaled", "text": "scaled to 2, file says 1",
                           "at": NOW - 700, "numprocs": 2, "file_numprocs": 1}  # fmt: skip
INSTANCES = [
    running("web:0", 4101, 3 * 3600 + 125, 2.5, 48 * 2**20),
    running("web:1", 4102, 3 * 3600 + 125, 1.0, 47 * 2**20),
    running("queue:0", 4230, 605, 12.4, 96 * 2**20, restarts=3, last_exit=1,
            last_exit_time=NOW - 606, overrides=[SCALED], health="ready, watchdog 1s ago",
            status_text="job 42"),
    instance("queue:1", "STARTING", pid=4388, started=NOW - 0.5, overrides=[SCALED],
             health="not-ready: waiting for READY=1", ready=False),
    instance("mailer:0", "BACKOFF", restarts=5, attempt=3, next_try=NOW + 8, last_exit=1,
             last_exit_time=NOW - 4),
    instance("legacy:0", "FATAL", restarts=3, last_exit=127, last_exit_time=NOW - 7200),
    instance("batch:0", "EXITED", last_exit=0, last_exit_time=NOW - 1800),
    instance("spare:0", "STOPPED", last_exit=-15, last_exit_time=NOW - 86400,
             overrides=[{"kind": "stopped", "text": "stopped by you 09:52", "at": NOW - 86400}]),
]  # fmt: skip


def run(task: str, status: str, started: float, duration: float | None, **extra: Any) -> RunRow:
    fields: dict[str, Any] = {
        "scheduled": started,
        "started": started,
        "ended": None if duration is None else started + duration,
        "duration": duration,
        "exit_code": None if status == "running" else (0 if status == "ok" else None),
        "host": "vm",
    }
    return schema.run_row(task, f"{task}-1", status, **(fields | extra))


def task(
    name: str,
    schedule: str,
    tz: str,
    next_run: float | None,
    local: str | None,
    last: RunRow | None,
    running: list[schema.RunningRun] | None = None,
) -> TaskRow:
    return schema.task_row(name, schedule, timezone=tz, next_run=next_run,
                           next_run_local=local, running=running or [], last=last)  # fmt: skip


TASKS = [
    task("report", "*/5 * * * *", "Europe/Berlin", NOW + 125, "2026-11-23T10:55:00+01:00",
         run("report", "ok", NOW - 175, 2.4)),
    task("cleanup", "@daily", "UTC", NOW + 50825, "2026-11-24T00:00:00+00:00",
         run("cleanup", "failed", NOW - 35575, 12.0, exit_code=2)),
    task("sync", "@every 30s", "UTC", NOW + 20, "2026-11-23T09:53:15+00:00",
         run("sync", "skipped", NOW - 10, None, reason="overlap"),
         running=[{"run_id": "sync-7", "pid": 5123, "started": NOW - 40, "scheduled": NOW - 40}]),
]  # fmt: skip

MASTER: schema.MasterInfo = {"version": "0.1.0", "protocol": 1, "pid": 4000, "host": "vm",
          "started": NOW - 3 * 3600 - 130, "uptime": 3 * 3600 + 130,
          "config": "/srv/app/procsup.toml", "state_dir": "/srv/app/run",
          "tracking": "process", "tracking_detail": "fake"}  # fmt: skip


def log(name: str, t: float, stream: str, line: str) -> schema.LogLine:
    return {"name": name, "stream": stream, "time": t, "line": line}


LOGS = {
    "batch:0": [
        log("batch:0", NOW - 1860, "stdout", "batch starting: 1200 invoices"),
        log("batch:0", NOW - 1850, "stdout", "invoices 1-400 done"),
        log("batch:0", NOW - 1840, "stderr", "warning: invoice 512 has no customer, skipped"),
        log("batch:0", NOW - 1830, "stdout", "invoices 401-1200 done"),
        log("batch:0", NOW - 1800, "stdout", "batch finished in 60s"),
    ]
}


def snapshot(instances: list[InstanceRow] | None = None) -> schema.SnapshotItem:
    rows = INSTANCES if instances is None else instances
    return {
        "type": "snapshot",
        "instances": [InstanceRow(**r) for r in rows],  # copies: the store changes its rows
        "tasks": [TaskRow(**t) for t in TASKS],
        "master": schema.MasterInfo(**MASTER),
    }


def state_event(row: InstanceRow, old: str, **facts: Any) -> schema.StateEvent:
    """A `state` event as the master sends it: into `row`'s state, carrying the whole row."""
    event: schema.StateEvent = {
        "type": "state",
        "name": row["name"],
        "time": NOW,
        "from": old,
        "to": row["state"],
        "program": row["program"],
        "row": row,
    }
    unknown = set(facts) - schema.fields(schema.StateEvent)
    assert not unknown, f"not a state event key: {unknown}"
    event.update(facts)  # type: ignore[typeddict-item]
    return event


class FakeSource:
    """A Source that serves a fixed snapshot, then whatever the test pushes."""

    address = "/srv/app/run/procsup.sock"
    stats_interval = 2.0
    stats_feed = True  # stats arrive as items the test pushes, as a master's feed sends them

    def __init__(self, snap: schema.SnapshotItem | None = None) -> None:
        self.snap = snapshot() if snap is None else snap
        self.queue: asyncio.Queue[schema.Event] = asyncio.Queue()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.closed = False

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        yield dict(self.snap)
        while True:
            yield dict(await self.queue.get())

    async def logs(self, name: str, lines: int) -> AsyncIterator[dict[str, Any]]:
        for item in LOGS.get(name, []):
            yield dict(item)
        await asyncio.Event().wait()  # following: nothing more arrives

    async def call(self, cmd: str, args: dict[str, Any]) -> Any:
        self.calls.append((cmd, args))
        return {"instances": []}

    def close(self) -> None:
        self.closed = True


def fixed_app(source: FakeSource | None = None) -> ProcsupApp:
    return ProcsupApp(source or FakeSource(), clock=CLOCK)


async def until(pilot: Any, predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    """Let the app run until `predicate()` holds, at most `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        await pilot.pause(0.05)
