"""The wording of run-time changes against the file (pure: the time is an argument)."""

from __future__ import annotations

import time

from procsup.engine.desired import (
    RunTimeChanges,
    adhoc_override,
    desired_override,
    kept_lines,
    scaled_override,
)

NOW = time.mktime((2026, 11, 23, 18, 30, 0, 0, 0, -1))
AT = NOW - 29 * 60  # 18:01 the same day


def test_texts_name_what_and_when() -> None:
    assert desired_override(False, AT, NOW).text == "stopped by you 18:01"
    started = desired_override(True, AT, NOW)
    assert (started.kind, started.text) == (
        "started",
        "started by you 18:01 (file: autostart = false)",
    )
    assert desired_override(False, None, NOW).text == "stopped by you"  # an older state file
    assert desired_override(False, AT - 86400, NOW).text == "stopped by you Nov 22 18:01"
    scaled = scaled_override(4, 2, AT)
    assert scaled.text == "scaled to 4, file says 2"
    assert scaled.to_json() == {
        "kind": "scaled",
        "text": "scaled to 4, file says 2",
        "at": AT,
        "numprocs": 4,
        "file_numprocs": 2,
    }
    assert adhoc_override(AT, NOW).text == "added by you 18:01, not in the file"


def test_kept_lines_group_by_program() -> None:
    stop = desired_override(False, AT, NOW)
    scaled = scaled_override(3, 2, AT)
    rows = [
        ("worker:0", "worker", 3, [scaled]),
        ("worker:1", "worker", 3, [scaled, stop]),
        ("worker:2", "worker", 3, [scaled]),
        ("api:0", "api", 2, [stop]),
        ("api:1", "api", 2, [stop]),
        ("web:0", "web", 3, [stop]),
        ("web:2", "web", 3, [stop]),
        ("web:1", "web", 3, []),
    ]
    assert kept_lines(rows) == [
        "worker scaled to 3 (file says 2)",
        "worker:1 stopped by you 18:01",
        "api stopped by you 18:01",  # every instance of it: the program's name alone
        "web:0, web:2 stopped by you 18:01",
    ]
    assert kept_lines([("x:0", "x", 1, [])]) == []


def test_forgetting_instances_and_programs() -> None:
    changes = RunTimeChanges()
    for name in ("worker:0", "worker:3", "worker:12", "workers:0"):
        changes.set_desired(name, False, AT)
    changes.program_at["worker"] = AT
    changes.forget_beyond("worker", 3)
    assert sorted(changes.desired) == ["worker:0", "workers:0"]
    changes.forget_program("worker")
    assert list(changes.desired) == ["workers:0"] and "worker" not in changes.program_at
    assert list(changes.desired_at) == ["workers:0"]


def test_the_date_appears_from_the_next_local_day_on() -> None:
    """The wording is cached per second of `now`: the day changes on a whole second."""
    midnight = time.mktime((2026, 11, 24, 0, 0, 0, 0, 0, -1))
    for now in (midnight - 0.5, midnight - 0.001):
        assert desired_override(False, AT, now).text == "stopped by you 18:01"
    for now in (midnight, midnight + 0.999, midnight + 60):
        assert desired_override(False, AT, now).text == "stopped by you Nov 23 18:01"
