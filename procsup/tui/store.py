"""The dashboard's data: an `events` snapshot, then events and stats applied to it.

Pure and synchronous (no textual, no I/O), so it is unit-testable and snapshot tests can build
the app from a fixed data set. Every change is recorded in `pending` (which rows, which tasks),
and the widgets update just those rows when they `take()` it. Events carry whole rows (a `state`
event its instance's row, `program` added/scaled the program's rows, `task` the task row), so
nothing is ever re-read with `list`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from procsup.core.schema import InstanceRow, RunningRun, RunRow, TaskRow
from procsup.core.states import RUNNING_STATES


@dataclass
class Changes:
    """What changed since the last `take()`."""

    reset: bool = False  # a new snapshot: everything may have changed
    instances: set[str] = field(default_factory=set)  # changed or added rows
    removed: set[str] = field(default_factory=set)
    tasks: set[str] = field(default_factory=set)
    tasks_removed: set[str] = field(default_factory=set)
    master: bool = False

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
        self.instances: dict[str, InstanceRow] = {}
        self.tasks: dict[str, TaskRow] = {}
        self.master: dict[str, Any] = {}  # a MasterInfo, and the last `master` event
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
        """The event's row replaces ours, keeping CPU/RSS from the stats feed while it runs."""
        self.load_rows([ev["row"]])

    def _on_health(self, ev: dict[str, Any]) -> None:
        """Readiness or the program's STATUS= changed: the row comes along, as with `state`."""
        self.load_rows([ev["row"]])

    def _on_program(self, ev: dict[str, Any]) -> None:
        program = ev["name"]
        if ev.get("event") == "removed":
            self.drop_program(program)
        elif "instances" in ev:  # added or scaled: the program's rows as they are now
            self.load_program(program, ev["instances"])

    def _on_stats(self, item: dict[str, Any]) -> None:
        """A `stats` item of the feed: every instance's CPU/RSS."""
        self.sampled(item, None)

    def sampled(self, item: dict[str, Any], names: Iterable[str] | None) -> None:
        """CPU/RSS sampled for `names` (None: every instance) take their place in those rows
        (none, for one without a process); the other rows keep theirs."""
        stats = item.get("instances") or {}
        rows = self.instances
        for name in rows if names is None else names:
            row = rows.get(name)
            if row is None:
                continue  # gone since it was asked for
            sample = stats.get(name) or {}
            cpu, rss = sample.get("cpu"), sample.get("rss")
            if row.get("cpu") != cpu or row.get("rss") != rss:
                row["cpu"], row["rss"] = cpu, rss
                self.pending.instances.add(name)

    def _on_task(self, ev: dict[str, Any]) -> None:
        name, row = ev["name"], ev.get("task")
        if row is not None:
            self.tasks[name] = row
            self.pending.tasks.add(name)
            self.pending.tasks_removed.discard(name)
        elif row is None and name in self.tasks:  # a reload removed it ("event": "removed")
            del self.tasks[name]
            self.pending.tasks_removed.add(name)
            self.pending.tasks.discard(name)

    def _on_run(self, ev: dict[str, Any]) -> None:
        task, run = self.tasks.get(ev["name"]), ev["run"]
        if task is None:
            return
        running = [r for r in task["running"] if r["run_id"] != run["run_id"]]
        if ev.get("event") == "start":
            running.append(_running(run))
        else:
            task["last"] = run
        task["running"] = running
        self.pending.tasks.add(ev["name"])

    def _on_master(self, ev: dict[str, Any]) -> None:
        self.master["event"] = ev.get("event")
        if "fleet" in ev:  # the cluster's Redis stopped or started answering
            self.master["fleet"] = ev["fleet"]
        self.pending.master = True

    def drop_program(self, program: str) -> None:
        for name in [n for n, r in self.instances.items() if r.get("program") == program]:
            del self.instances[name]
            self.pending.removed.add(name)
            self.pending.instances.discard(name)

    def load_program(self, program: str, rows: list[InstanceRow]) -> None:
        """A program's rows replace the ones held (a scaled-down one is gone)."""
        keep = {row["name"] for row in rows}
        for name in [n for n, r in self.instances.items() if r.get("program") == program]:
            if name not in keep:
                del self.instances[name]
                self.pending.removed.add(name)
        self.load_rows(rows)

    def load_rows(self, rows: list[InstanceRow]) -> None:
        """Fresh rows (without stats): keep the CPU/RSS the stats feed gave while it runs."""
        for row in rows:
            old = self.instances.get(row["name"])
            running = row["state"] in RUNNING_STATES
            if "cpu" not in row:
                row["cpu"] = old.get("cpu") if old is not None and running else None
            if "rss" not in row:
                row["rss"] = old.get("rss") if old is not None and running else None
            self.instances[row["name"]] = row
            self.pending.instances.add(row["name"])
            self.pending.removed.discard(row["name"])

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.instances.values():
            counts[row["state"]] = counts.get(row["state"], 0) + 1
        return counts


def _running(run: RunRow) -> RunningRun:
    return {
        "run_id": run["run_id"],
        "pid": None,  # a run record has none: the `task` event that follows has it
        "started": run["started"],
        "scheduled": run["scheduled"],
    }
