"""The CLI's aligned table: padding, two-space gaps, no trailing blanks, the state coloured only
on a terminal (the padded cell wrapped, so columns stay aligned)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procsup.cli.tables import table

HEADERS = ["NAME", "STATE", "INFO"]
ROWS = [["web:0", "RUNNING", ""], ["queue:12", "FATAL", "exit 1"], ["x", "ODD", "-"]]


def test_plain_table() -> None:
    assert table(HEADERS, ROWS, colour_col=1) == (
        "NAME      STATE    INFO\n"
        "web:0     RUNNING\n"
        "queue:12  FATAL    exit 1\n"
        "x         ODD      -"
    )


def test_coloured_state_column() -> None:
    assert table(HEADERS, ROWS, colour_col=1, colour=True).splitlines() == [
        "NAME      STATE    INFO",
        "web:0     \033[32mRUNNING\033[0m",
        "queue:12  \033[31mFATAL  \033[0m  exit 1",
        "x         ODD      -",  # an unknown word is shown plain
    ]


def test_headers_alone_and_ragged_rows() -> None:
    assert table(["A", "BB"], []) == "A  BB"
    with pytest.raises(ValueError):
        table(HEADERS, [["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError):
        table(HEADERS, [["a", "b", "c"], ["d"]])


OPTIONAL_TEXT = st.none() | st.sampled_from(
    ["", "x", "watchdog: no keep-alive for 10s", "worker:0 exited"]
)


@settings(max_examples=300)
@given(
    state=st.sampled_from(
        ["RUNNING", "STARTING", "STOPPING", "STOPPED", "EXITED", "FATAL", "BACKOFF"]
    ),
    health=OPTIONAL_TEXT,
    status=OPTIONAL_TEXT,
    waiting=OPTIONAL_TEXT,
    cause=OPTIONAL_TEXT,
    reason=OPTIONAL_TEXT,
    spawn_error=OPTIONAL_TEXT,
    log_error=OPTIONAL_TEXT,
    dropped=st.sampled_from([0, 10]),
    overrides=st.sampled_from([[], [{"kind": "stopped", "text": "stopped by you", "at": None}]]),
)
def test_info_text_of_a_quiet_row_is_what_its_parts_say(**f: Any) -> None:
    """info_text skips building the parts of a row with nothing to say: never a different text."""
    from procsup.cli.tables import health_note, info_text, instance_note, log_note

    row: Any = {
        "name": "worker:0",
        "state": f["state"],
        "health": f["health"],
        "status_text": f["status"],
        "waiting": f["waiting"],
        "last_exit_cause": f["cause"],
        "last_exit_reason": f["reason"],
        "spawn_error": f["spawn_error"],
        "log_error": f["log_error"],
        "log_dropped": f["dropped"],
        "overrides": f["overrides"],
        "last_exit": 1,
        "last_exit_time": 1000.0,
        "next_try": 1010.0,
        "attempt": 2,
    }
    parts = (health_note(row), instance_note(row, 1005.0), log_note(row))
    assert info_text(row, 1005.0) == "; ".join(p for p in parts if p)
