"""The CLI's aligned table: padding, two-space gaps, no trailing blanks, the state coloured only
on a terminal (the padded cell wrapped, so columns stay aligned)."""

from __future__ import annotations

import pytest

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
