"""The store: a snapshot, then events and stats, recorded as changes per row."""

from __future__ import annotations

from procsup.core.schema import instance_row, run_row
from procsup.tui.store import Store
from tests.tui.fakes import NOW, TASKS, instance, snapshot, state_event


def loaded() -> Store:
    store = Store()
    store.apply(snapshot())
    assert store.take().reset
    return store


def test_state_event_replaces_the_row_with_the_one_it_carries() -> None:
    store = loaded()
    stopping = instance_row("web:0", "STOPPING", pid=4101, started=NOW - 60)
    store.apply(dict(state_event(stopping, "RUNNING")))
    assert store.instances["web:0"]["cpu"] == 2.5  # still running: the stats feed's numbers stay
    stopped = instance_row("web:0", "STOPPED", last_exit=-15, last_exit_time=NOW + 1, restarts=1)
    store.apply(dict(state_event(stopped, "STOPPING", code=-15, signal="SIGTERM")))
    changes = store.take()
    assert changes.instances == {"web:0"} and not changes.removed
    row = store.instances["web:0"]
    # the exit status and restarts come with the event: nothing is re-read with `list`
    assert row["state"] == "STOPPED" and row["pid"] is None and row["cpu"] is None
    assert (row["last_exit"], row["restarts"]) == (-15, 1)


def test_backoff_event_carries_code_and_next_try() -> None:
    store = loaded()
    row = instance_row("queue:1", "BACKOFF", last_exit=2, attempt=4, next_try=NOW + 16)
    store.apply(dict(state_event(row, "STARTING", code=2, attempt=4, next_try=NOW + 16)))
    row = store.instances["queue:1"]
    assert (row["last_exit"], row["attempt"], row["next_try"]) == (2, 4, NOW + 16)


def test_unknown_instance_becomes_a_row() -> None:
    store = loaded()
    store.apply(dict(state_event(instance_row("new:0", "STARTING"), "STOPPED")))
    assert store.instances["new:0"]["state"] == "STARTING"
    assert store.take().instances == {"new:0"}


def test_program_removed_drops_rows_and_scaled_carries_the_rows() -> None:
    store = loaded()
    store.apply({"type": "program", "name": "web", "time": NOW, "event": "removed"})
    store.apply({"type": "program", "name": "queue", "time": NOW, "event": "scaled",
                 "numprocs": 1, "instances": [instance("queue:0", "RUNNING")]})  # fmt: skip
    changes = store.take()
    assert changes.removed == {"web:0", "web:1", "queue:1"} and "web:0" not in store.instances
    assert changes.instances == {"queue:0"} and "queue:1" not in store.instances


def test_program_added_with_stopped_instances_shows_them() -> None:
    store = loaded()
    rows = [instance("idle:0", "STOPPED"), instance("idle:1", "STOPPED")]
    store.apply({"type": "program", "name": "idle", "time": NOW, "event": "added",
                 "instances": rows})  # fmt: skip
    assert store.take().instances == {"idle:0", "idle:1"}


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
    run = run_row("report", "r9", "running", started=NOW)
    store.apply({"type": "run", "name": "report", "time": NOW, "event": "start", "run": run})
    assert store.tasks["report"]["running"][0]["run_id"] == "r9"
    ended = run_row("report", "r9", "ok", started=NOW, ended=NOW + 1.5, duration=1.5)
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
    run = run_row("nosuch", "r1", "ok")
    store.apply({"type": "run", "name": "nosuch", "time": NOW, "event": "end", "run": run})
    assert "nosuch" not in store.tasks


def test_sampled_stats_change_only_the_rows_asked_for() -> None:
    store = loaded()
    sample = {"time": NOW, "instances": {"web:0": {"cpu": 7.5, "rss": 2**20}}}
    store.sampled(sample, ["web:0", "web:1"])  # web:1 asked for, not in the reply: no process
    changes = store.take()
    assert changes.instances == {"web:0", "web:1"}
    assert (store.instances["web:0"]["cpu"], store.instances["web:0"]["rss"]) == (7.5, 2**20)
    assert store.instances["web:1"]["cpu"] is None
    assert store.instances["queue:0"]["cpu"] == 12.4  # not asked for: kept
    store.sampled(sample, ["gone:3"])  # a row that left meanwhile is skipped
    assert not store.take()
