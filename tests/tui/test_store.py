"""The store: a snapshot, then events and stats, recorded as changes per row."""

from __future__ import annotations

from procsup.tui.store import Store
from tests.tui.fakes import NOW, TASKS, instance, snapshot


def loaded() -> Store:
    store = Store()
    store.apply(snapshot())
    assert store.take().reset
    return store


def test_state_event_updates_one_row_and_asks_for_a_refresh() -> None:
    store = loaded()
    store.apply({"type": "state", "name": "web:0", "time": NOW, "from": "RUNNING",
                 "to": "STOPPING", "program": "web"})  # fmt: skip
    store.apply({"type": "state", "name": "web:0", "time": NOW + 1, "from": "STOPPING",
                 "to": "STOPPED", "program": "web"})  # fmt: skip
    changes = store.take()
    assert changes.instances == {"web:0"} and changes.refresh == {"web:0"}
    row = store.instances["web:0"]
    assert row["state"] == "STOPPED" and row["pid"] is None and row["cpu"] is None


def test_backoff_event_carries_code_and_next_try() -> None:
    store = loaded()
    store.apply({"type": "state", "name": "queue:1", "time": NOW, "from": "STARTING",
                 "to": "BACKOFF", "program": "queue", "code": 2, "attempt": 4,
                 "next_try": NOW + 16})  # fmt: skip
    row = store.instances["queue:1"]
    assert (row["last_exit"], row["attempt"], row["next_try"]) == (2, 4, NOW + 16)


def test_unknown_instance_becomes_a_row_and_its_program_is_relisted() -> None:
    store = loaded()
    store.apply({"type": "state", "name": "new:0", "time": NOW, "from": "STOPPED",
                 "to": "STARTING", "program": "new"})  # fmt: skip
    changes = store.take()
    assert store.instances["new:0"]["state"] == "STARTING" and changes.relist == {"new"}


def test_program_removed_drops_rows_and_scaled_is_relisted() -> None:
    store = loaded()
    store.apply({"type": "program", "name": "web", "time": NOW, "event": "removed"})
    store.apply({"type": "program", "name": "queue", "time": NOW, "event": "scaled"})
    changes = store.take()
    assert changes.removed == {"web:0", "web:1"} and "web:0" not in store.instances
    assert changes.relist == {"queue"}
    store.load_program("queue", [instance("queue:0", "RUNNING")])
    assert "queue:1" not in store.instances and store.take().removed == {"queue:1"}


def test_stats_change_only_rows_whose_numbers_moved() -> None:
    store = loaded()
    web0 = store.instances["web:0"]
    same = {"cpu": web0["cpu"], "rss": web0["rss"]}
    stats = {"web:0": same, "web:1": {"cpu": 9.0, "rss": 1}}
    store.apply({"type": "stats", "time": NOW, "instances": stats})
    # web:0 unchanged; queue:0 had numbers and is not in the sample any more: cleared
    assert store.take().instances == {"web:1", "queue:0"}
    assert store.instances["queue:0"]["cpu"] is None


def test_task_and_run_events() -> None:
    store = loaded()
    row = dict(TASKS[0], next_run=NOW + 425)
    store.apply({"type": "task", "name": "report", "time": NOW, "task": row})
    run = {"task": "report", "run_id": "r9", "status": "running", "started": NOW, "pid": 77}
    store.apply({"type": "run", "name": "report", "time": NOW, "event": "start", "run": run})
    assert store.tasks["report"]["running"][0]["run_id"] == "r9"
    ended = dict(run, status="ok", duration=1.5)
    store.apply({"type": "run", "name": "report", "time": NOW, "event": "end", "run": ended})
    task = store.tasks["report"]
    assert task["running"] == [] and task["last"]["status"] == "ok"
    assert store.take().tasks == {"report"}


def test_snapshot_without_tasks_and_unknown_types() -> None:
    store = Store()
    store.apply({"type": "snapshot", "instances": [], "master": {"host": "h"}})
    store.apply({"type": "something-new", "name": "x", "time": NOW})
    assert store.tasks == {} and store.master["host"] == "h"


def test_task_removed_by_a_reload_drops_its_row() -> None:
    store = loaded()
    store.apply({"type": "task", "name": "cleanup", "time": NOW, "task": None,
                 "event": "removed"})  # fmt: skip
    changes = store.take()
    assert "cleanup" not in store.tasks and changes.tasks_removed == {"cleanup"}
    assert not changes.tasks
    # a removed task added back by a later reload is a row again
    store.apply({"type": "task", "name": "cleanup", "time": NOW, "task": dict(TASKS[1])})
    changes = store.take()
    assert "cleanup" in store.tasks and changes.tasks == {"cleanup"}
    # a run event of a task we do not know is ignored
    store.apply({"type": "run", "name": "nosuch", "time": NOW, "event": "end", "run": {}})
    assert "nosuch" not in store.tasks
