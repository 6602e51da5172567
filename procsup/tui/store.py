"""The dashboard's data: an `events` snapshot, then events and stats applied to it.

Pure and synchronous (no textual, no I/O), so it is unit-testable and snapshot tests can build
the app from a fixed data set. Every change is recorded in `pending` (which rows, which tasks),
and the widgets update just those rows when they `take()` it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]

#: a state event into one of these changes facts the event does not carry (last exit, restarts),
#: so the row is re-read with a `list` of just that instance
REFRESH_AFTER = frozenset({"STARTING", "STOPPED", "EXITED", "BACKOFF", "FATAL"})


@dataclass
class Changes:
    """What changed since the last `take()`."""

    reset: bool = False  # a new snapshot: everything may have changed
    instances: set[str] = field(default_factory=set)  # changed or added rows
    removed: set[str] = field(default_factory=set)
    tasks: set[str] = field(default_factory=set)
    tasks_removed: set[str] = field(default_factory=set)
    master: bool = False
    relist: set[str] = field(default_factory=set)  # programs to re-read with `list`
    refresh: set[str] = field(default_factory=set)  # instances to re-read with `list`

    def __bool__(self) -> bool:
        return bool(
            self.reset
            or self.instances
            or self.removed
            or self.tasks
            or self.tasks_removed
            or self.master
        )


class Store:
    def __init__(self) -> None:
        self.instances: dict[str, Row] = {}
        self.tasks: dict[str, Row] = {}
        self.master: Row = {}
        self.pending = Changes()

    def take(self) -> Changes:
        changes, self.pending = self.pending, Changes()
        return changes

    def apply(self, item: dict[str, Any]) -> None:
        """Apply one item of the `events` stream; unknown types are ignored."""
        handler = getattr(self, "_on_" + str(item.get("type")), None)
        if handler is not None:
            handler(item)

    def _on_snapshot(self, item: dict[str, Any]) -> None:
        # replaced in place: the tables hold references to these dicts
        self.instances.clear()
        self.instances.update((row["name"], row) for row in item.get("instances") or [])
        self.tasks.clear()
        self.tasks.update((row["name"], row) for row in item.get("tasks") or [])
        self.master.clear()
        self.master.update(item.get("master") or {})
        self.pending = Changes(reset=True, master=True)

    def _on_state(self, ev: dict[str, Any]) -> None:
        name, to = ev["name"], ev.get("to")
        row = self.instances.get(name)
        if row is None:
            row = self.instances[name] = _new_row(name, ev.get("program"))
            self.pending.relist.add(row["program"])
        _apply_state(row, ev)
        self.pending.instances.add(name)
        if to in REFRESH_AFTER:
            self.pending.refresh.add(name)

    def _on_program(self, ev: dict[str, Any]) -> None:
        program = ev["name"]
        if ev.get("event") == "removed":
            self.drop_program(program)
        else:
            self.pending.relist.add(program)

    def _on_stats(self, item: dict[str, Any]) -> None:
        stats = item.get("instances") or {}
        for name, row in self.instances.items():
            sample = stats.get(name) or {}
            cpu, rss = sample.get("cpu"), sample.get("rss")
            if row.get("cpu") != cpu or row.get("rss") != rss:
                row["cpu"], row["rss"] = cpu, rss
                self.pending.instances.add(name)

    def _on_task(self, ev: dict[str, Any]) -> None:
        name, row = ev["name"], ev.get("task")
        if isinstance(row, dict):
            self.tasks[name] = row
            self.pending.tasks.add(name)
            self.pending.tasks_removed.discard(name)
        elif row is None and name in self.tasks:  # a reload removed it ("event": "removed")
            del self.tasks[name]
            self.pending.tasks_removed.add(name)
            self.pending.tasks.discard(name)

    def _on_run(self, ev: dict[str, Any]) -> None:
        task, run = self.tasks.get(ev["name"]), ev.get("run") or {}
        if task is None:
            return
        running = [r for r in task.get("running") or [] if r.get("run_id") != run.get("run_id")]
        if ev.get("event") == "start":
            running.append({k: run.get(k) for k in ("run_id", "started", "scheduled", "pid")})
        else:
            task["last"] = run
        task["running"] = running
        self.pending.tasks.add(ev["name"])

    def _on_master(self, ev: dict[str, Any]) -> None:
        self.master["event"] = ev.get("event")
        self.pending.master = True

    def drop_program(self, program: str) -> None:
        for name in [n for n, r in self.instances.items() if r.get("program") == program]:
            del self.instances[name]
            self.pending.removed.add(name)
            self.pending.instances.discard(name)

    def load_program(self, program: str, rows: list[Row]) -> None:
        """A `list` of one program: its rows replace the ones held (a scaled-down one is gone)."""
        keep = {row["name"] for row in rows}
        for name in [n for n, r in self.instances.items() if r.get("program") == program]:
            if name not in keep:
                del self.instances[name]
                self.pending.removed.add(name)
        self.load_rows(rows)

    def load_rows(self, rows: list[Row]) -> None:
        """Fresh rows from a `list` (stats false): keep the CPU/RSS the stats feed gave."""
        for row in rows:
            old = self.instances.get(row["name"]) or {}
            row.setdefault("cpu", old.get("cpu"))
            row.setdefault("rss", old.get("rss"))
            self.instances[row["name"]] = row
            self.pending.instances.add(row["name"])

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.instances.values():
            counts[row["state"]] = counts.get(row["state"], 0) + 1
        return counts


def _new_row(name: str, program: str | None) -> Row:
    prog, _, num = name.rpartition(":")
    return {
        "name": name,
        "program": program or prog,
        "num": int(num) if num.isdigit() else 0,
        "state": "STOPPED",
        "pid": None,
        "started": None,
        "restarts": 0,
        "attempt": 0,
        "next_try": None,
        "last_exit": None,
        "last_exit_time": None,
        "cpu": None,
        "rss": None,
        "overrides": [],
    }


def _apply_state(row: Row, ev: dict[str, Any]) -> None:
    to, when = ev.get("to"), ev.get("time")
    row["state"] = to
    if to == "STARTING":
        row.update(started=when, pid=None, next_try=None)
    elif to == "RUNNING":
        row.update(pid=ev.get("pid", row.get("pid")), attempt=0, next_try=None)
        if row.get("started") is None:
            row["started"] = when
    elif to in ("STOPPED", "EXITED", "BACKOFF", "FATAL"):
        row.update(pid=None, started=None, cpu=None, rss=None)
        if "code" in ev:
            row.update(last_exit=ev["code"], last_exit_time=when)
        if to == "BACKOFF":
            row.update(attempt=ev.get("attempt", row.get("attempt")), next_try=ev.get("next_try"))
