"""procsup.tasks.history on real SQLite files in tmp_path."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from procsup.tasks import history as history_mod
from procsup.tasks.history import ABANDONED_REASON, History, RunRecord, open_history


@pytest.fixture
def hist(tmp_path: Path) -> Iterator[History]:
    h = open_history(tmp_path)
    yield h
    h.close()


def run(task: str, run_id: str, status: str = "ok", **kw: object) -> RunRecord:
    rec = RunRecord(task=task, run_id=run_id, trigger="schedule", status=status)
    for key, value in kw.items():
        setattr(rec, key, value)
    return rec


def skip(task: str, run_id: str, reason: str, scheduled: float, **kw: object) -> RunRecord:
    return run(task, run_id, "skipped", reason=reason, scheduled=scheduled, **kw)


def ids(recs: list[RunRecord]) -> list[str]:
    return [r.run_id for r in recs]


def test_round_trip_of_every_field(hist: History) -> None:
    rec = RunRecord(
        task="backup",
        run_id="r-1",
        trigger="catch-up",
        status="failed",
        scheduled=1_700_000_000.0,
        started=1_700_000_000.25,
        ended=1_700_000_012.75,
        exit_code=-9,
        reason="spawn failed: No such file or directory: foo",
        host="web-1",
        fencing_token=42,
        count=3,
        last_scheduled=1_700_000_060.0,
    )
    hist.record(rec, keep=10)
    (got,) = hist.recent("backup")
    assert got == rec
    data = got.to_json()
    assert data == {
        "task": "backup",
        "run_id": "r-1",
        "trigger": "catch-up",
        "status": "failed",
        "scheduled": 1_700_000_000.0,
        "started": 1_700_000_000.25,
        "ended": 1_700_000_012.75,
        "exit_code": -9,
        "reason": "spawn failed: No such file or directory: foo",
        "host": "web-1",
        "fencing_token": 42,
        "count": 3,
        "last_scheduled": 1_700_000_060.0,
        "duration": 12.5,
    }
    assert json.loads(json.dumps(data)) == data


def test_defaults_round_trip_and_duration_unknown(hist: History) -> None:
    rec = RunRecord(task="t", run_id="m-1", trigger="manual", status="running", started=5.0)
    hist.record(rec, keep=10)
    (got,) = hist.recent()
    assert got == rec
    assert got.duration is None
    assert got.to_json()["duration"] is None
    assert got.to_json()["scheduled"] is None


def test_update_by_run_id(hist: History) -> None:
    hist.record(run("t", "a", "running", started=10.0), keep=10)
    hist.record(run("t", "b", "ok", started=11.0, ended=12.0), keep=10)
    hist.record(run("t", "a", "ok", started=10.0, ended=15.0, exit_code=0), keep=10)
    recs = hist.recent("t")
    assert ids(recs) == ["b", "a"]  # the update keeps the row's place
    assert recs[1].status == "ok"
    assert recs[1].exit_code == 0
    assert recs[1].duration == 5.0


def test_unknown_status_is_refused(hist: History) -> None:
    with pytest.raises(ValueError, match="unknown run status 'done'"):
        hist.record(run("t", "a", "done"), keep=10)


def test_prune_keeps_newest_n_of_that_task_only(hist: History) -> None:
    for i in range(5):
        hist.record(run("other", f"o{i}"), keep=100)
    for i in range(12):
        hist.record(run("t", f"t{i}"), keep=4)
    assert ids(hist.recent("t", limit=100)) == ["t11", "t10", "t9", "t8"]
    assert ids(hist.recent("other", limit=100)) == ["o4", "o3", "o2", "o1", "o0"]


def test_prune_never_drops_running_rows(hist: History) -> None:
    hist.record(run("t", "long", "running"), keep=2)
    for i in range(4):
        hist.record(run("t", f"t{i}"), keep=2)
    assert ids(hist.recent("t")) == ["t3", "t2", "long"]
    hist.record(run("t", "long", "ok"), keep=2)
    assert ids(hist.recent("t")) == ["t3", "t2", "long"]
    hist.record(run("t", "t4"), keep=2)
    assert ids(hist.recent("t")) == ["t4", "t3"]


def test_lower_keep_applies_on_next_insert(hist: History) -> None:
    for i in range(10):
        hist.record(run("t", f"t{i}"), keep=10)
    hist.record(run("t", "t10"), keep=3)
    assert ids(hist.recent("t")) == ["t10", "t9", "t8"]


def test_skip_same_reason_coalesces(hist: History) -> None:
    first = hist.record_skip(skip("t", "s1", "overlap", 100.0), keep=10)
    assert first.count == 1
    again = hist.record_skip(skip("t", "s2", "overlap", 160.0), keep=10)
    third = hist.record_skip(skip("t", "s3", "overlap", 220.0), keep=10)
    assert again.run_id == third.run_id == "s1"
    assert (third.count, third.scheduled, third.last_scheduled) == (3, 100.0, 220.0)
    assert hist.recent("t") == [third]


def test_skip_different_reason_does_not_coalesce(hist: History) -> None:
    hist.record_skip(skip("t", "s1", "overlap", 100.0), keep=10)
    got = hist.record_skip(skip("t", "s2", "lock-held", 160.0), keep=10)
    assert (got.run_id, got.count) == ("s2", 1)
    assert ids(hist.recent("t")) == ["s2", "s1"]


def test_skip_after_intervening_run_does_not_coalesce(hist: History) -> None:
    hist.record_skip(skip("t", "s1", "overlap", 100.0), keep=10)
    hist.record(run("t", "r1", "ok"), keep=10)
    got = hist.record_skip(skip("t", "s2", "overlap", 160.0), keep=10)
    assert got.count == 1
    assert ids(hist.recent("t")) == ["s2", "r1", "s1"]


def test_skip_of_other_task_or_trigger_does_not_coalesce(hist: History) -> None:
    hist.record_skip(skip("t", "s1", "overlap", 100.0), keep=10)
    hist.record_skip(skip("u", "u1", "overlap", 110.0), keep=10)
    manual = skip("t", "m1", "overlap", 120.0, trigger="manual")
    assert hist.record_skip(manual, keep=10).count == 1
    assert hist.record_skip(skip("t", "s2", "overlap", 160.0), keep=10).count == 1


def test_record_skip_refuses_other_statuses(hist: History) -> None:
    with pytest.raises(ValueError, match="record_skip"):
        hist.record_skip(run("t", "a", "ok"), keep=10)


def test_coalesced_skip_rows_are_pruned_like_others(hist: History) -> None:
    hist.record_skip(skip("t", "s0", "disabled", 1.0), keep=2)
    hist.record(run("t", "r1"), keep=2)
    hist.record_skip(skip("t", "s2", "disabled", 2.0), keep=2)
    hist.record_skip(skip("t", "s3", "disabled", 3.0), keep=2)
    assert [(r.run_id, r.count) for r in hist.recent("t")] == [("s2", 2), ("r1", 1)]


def test_recent_order_and_limit(hist: History) -> None:
    for i in range(6):
        hist.record(run("a" if i % 2 else "b", f"r{i}"), keep=10)
    assert ids(hist.recent()) == ["r5", "r4", "r3", "r2", "r1", "r0"]
    assert ids(hist.recent(limit=2)) == ["r5", "r4"]
    assert ids(hist.recent("a")) == ["r5", "r3", "r1"]
    assert ids(hist.recent("b", limit=1)) == ["r4"]
    assert hist.recent("nope") == []


def test_last_ignores_running(hist: History) -> None:
    assert hist.last("t") is None
    hist.record(run("t", "a", "failed"), keep=10)
    hist.record(run("t", "b", "running"), keep=10)
    last = hist.last("t")
    assert last is not None and last.run_id == "a"
    hist.record(run("t", "b", "timeout"), keep=10)
    last = hist.last("t")
    assert last is not None and (last.run_id, last.status) == ("b", "timeout")


def test_running_lists_running_rows_oldest_first(hist: History) -> None:
    hist.record(run("a", "a1", "running"), keep=10)
    hist.record(run("b", "b1", "ok"), keep=10)
    hist.record(run("b", "b2", "running"), keep=10)
    assert ids(hist.running()) == ["a1", "b2"]


def test_mark_abandoned_only_touches_running_rows_of_that_host(hist: History) -> None:
    hist.record(run("t", "mine1", "running", host="h1"), keep=10)
    hist.record(run("t", "mine2", "running", host="h1"), keep=10)
    hist.record(run("t", "done", "ok", host="h1"), keep=10)
    hist.record(run("t", "theirs", "running", host="h2"), keep=10)
    assert hist.mark_abandoned("h1") == 2
    assert hist.mark_abandoned("h1") == 0
    by_id = {r.run_id: r for r in hist.recent("t")}
    assert (by_id["mine1"].status, by_id["mine1"].reason) == ("unknown", ABANDONED_REASON)
    assert by_id["mine2"].status == "unknown"
    assert (by_id["done"].status, by_id["done"].reason) == ("ok", None)
    assert by_id["theirs"].status == "running"
    assert ids(hist.running()) == ["theirs"]


def test_mark_fired_keeps_the_newest_per_task(hist: History) -> None:
    assert hist.last_fired("t") is None
    hist.mark_fired("t", 100.0)
    hist.mark_fired("u", 50.0)
    hist.mark_fired("t", 200.5)
    hist.mark_fired("t", 150.0)  # an older one never moves it back
    assert hist.last_fired("t") == 200.5
    assert hist.last_fired("u") == 50.0


def test_wal_mode_and_settings(tmp_path: Path, hist: History) -> None:
    other = sqlite3.connect(tmp_path / "history.sqlite3")
    try:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        other.close()
    conn = hist._conn
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (2000,)


def test_reader_sees_writes_while_open(tmp_path: Path, hist: History) -> None:
    reader = History(tmp_path / "history.sqlite3")
    try:
        hist.record(run("t", "a", "running"), keep=10)
        assert ids(reader.running()) == ["a"]
    finally:
        reader.close()


def test_reopen_keeps_data(tmp_path: Path) -> None:
    h = open_history(tmp_path)
    h.record(run("t", "a", "ok", started=1.0, ended=2.0), keep=10)
    h.record_skip(skip("t", "s", "overlap", 5.0), keep=10)
    h.record_skip(skip("t", "s2", "overlap", 6.0), keep=10)
    h.mark_fired("t", 6.0)
    h.close()
    h = open_history(tmp_path)
    try:
        assert [(r.run_id, r.count) for r in h.recent("t")] == [("s", 2), ("a", 1)]
        assert h.last_fired("t") == 6.0
        h.record(run("t", "b"), keep=10)
        assert ids(h.recent("t")) == ["b", "s", "a"]
    finally:
        h.close()


def test_corrupt_file_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "history.sqlite3"
    garbage = b"this is not a database\x00\xff" * 200
    path.write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="procsup.tasks.history"):
        h = open_history(tmp_path)
    try:
        (aside,) = tmp_path.glob("history.corrupt-*")
        assert aside.read_bytes() == garbage
        assert "moved it to" in caplog.text and str(aside) in caplog.text
        h.record(run("t", "a"), keep=10)
        assert ids(h.recent()) == ["a"]
        assert h._conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        h.close()


def test_newer_schema_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    h = History(path)
    try:
        assert len(list(tmp_path.glob("history.corrupt-*"))) == 1
        assert h.recent() == []
    finally:
        h.close()


def test_unopenable_path_falls_back_to_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"garbage" * 100)

    def cannot_move(p: Path) -> Path:
        raise PermissionError(f"cannot rename {p}")

    monkeypatch.setattr(history_mod, "_move_aside", cannot_move)
    h = History(path)
    try:
        h.record(run("t", "a"), keep=10)
        assert ids(h.recent()) == ["a"]
    finally:
        h.close()


def test_write_after_close_is_logged_not_raised(
    hist: History, caplog: pytest.LogCaptureFixture
) -> None:
    hist.close()
    with caplog.at_level(logging.WARNING, logger="procsup.tasks.history"):
        hist.record(run("t", "a"), keep=10)
        rec = skip("t", "s", "overlap", 1.0)
        assert hist.record_skip(rec, keep=10) is rec
        hist.mark_fired("t", 1.0)
        assert hist.mark_abandoned("h") == 0
    assert caplog.text.count("was not saved") == 4


@pytest.mark.parametrize(
    "sql",
    [
        history_mod._PRUNE,
        history_mod._NEWEST,
        history_mod._UPDATE,
        f'{history_mod._SELECT} WHERE "task" = ? AND "status" != \'running\' ORDER BY id DESC',
        f"{history_mod._SELECT} WHERE \"status\" = 'running' ORDER BY id",
        history_mod._ABANDON,
    ],
)
def test_hot_statements_use_an_index(hist: History, sql: str) -> None:
    nparams = 2 if "?2" in sql else sql.count("?")
    plan = hist._conn.execute(f"EXPLAIN QUERY PLAN {sql}", [None] * nparams).fetchall()
    details = [row[3] for row in plan]
    assert not [d for d in details if d.startswith("SCAN runs") and "INDEX" not in d], details


def test_many_records_leave_exactly_keep_rows(hist: History) -> None:
    n, keep = 5000, 100
    t0 = time.perf_counter()
    for i in range(n):
        hist.record(run("busy", f"r{i}", "running", started=float(i)), keep=keep)
        hist.record(run("busy", f"r{i}", "ok", started=float(i), ended=i + 0.5), keep=keep)
    elapsed = time.perf_counter() - t0
    print(f"\nhistory.record: {elapsed / (2 * n) * 1e6:.1f} µs per call ({2 * n} calls)")
    (count,) = hist._conn.execute("SELECT count(*) FROM runs").fetchone()
    assert count == keep
    assert ids(hist.recent("busy", limit=1)) == [f"r{n - 1}"]
    t0 = time.perf_counter()
    for _ in range(1000):
        hist.recent("busy", limit=20)
        hist.last("busy")
    print(f"history.recent+last: {(time.perf_counter() - t0) / 1000 * 1e6:.1f} µs per pair")


def test_gathered_writes_are_read_at_once_and_committed_by_the_timer(tmp_path: Path) -> None:
    """commit_within: the master's own reads see a write at once; another connection sees it
    once the scheduled commit has run, and a failed write is undone alone."""
    timers: list[tuple[float, object]] = []
    h = open_history(tmp_path)
    h.commit_within(0.01, lambda delay, cb: timers.append((delay, cb)))
    reader = History(tmp_path / "history.sqlite3")
    try:
        h.record(run("t", "r1", "running", started=1.0), keep=10)
        h.mark_fired_many([("t", 5.0), ("u", 6.0)])
        h.record(run("t", "r1", "ok", started=1.0, ended=2.0), keep=10)
        assert [r.status for r in h.recent("t")] == ["ok"]
        assert h.last_fired("u") == 6.0
        assert reader.recent("t") == [] and reader.last_fired("t") is None
        assert len(timers) == 1 and timers[0][0] == 0.01  # one commit for the three writes
        with pytest.raises(ValueError):
            h.record(run("t", "bad", "nonsense"), keep=10)
        timers[0][1]()  # type: ignore[operator]
        assert [r.status for r in reader.recent("t")] == ["ok"]
        assert reader.last_fired("t") == 5.0
        h.record(run("t", "r2", "running"), keep=10)
        assert len(timers) == 2  # the next write opens the next transaction
    finally:
        reader.close()
        h.close()
    after = open_history(tmp_path)
    try:  # close() committed the last write
        assert ids(after.recent("t")) == ["r2", "r1"]
    finally:
        after.close()
