"""core/indentjson.dumps writes exactly what json.dumps(obj, indent=2) writes (`list --json` is for
scripts: not one byte may differ), for rows as the master sends them and for any decoded JSON;
rows_text, the master's layout of the same rows (`list` with `as_text`), writes what the CLI
wrote from the decoded reply; and `list` with `columns` carries the same rows."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from procsup.control.rowjson import list_reply, rows_of
from procsup.core.fastjson import dumps as dumps_compact
from procsup.core.fastjson import loads
from procsup.core.indentjson import dumps, rows_text
from procsup.core.states import State

ROW: dict[str, Any] = {
    "name": "worker:7",
    "program": "worker",
    "num": 7,
    "state": "RUNNING",
    "pid": 5394,
    "started": 1796164638.119284,
    "uptime": 39.763018907000514,
    "next_try": None,
    "desired": True,
    "ready": False,
    "overrides": [],
    "health": 'ready: "job \\"42\\"" é \u2028 \x1b[31m',
    "cpu": 0.0,
    "rss": 1822720,
}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def test_rows_as_the_master_sends_them() -> None:
    scaled = {**ROW, "overrides": [{"kind": "scaled", "text": "scaled to 4", "at": None}]}
    rows = [ROW, scaled, {**ROW, "extra": {"nested": [1, {}, [], {"a": [None]}]}}, {}]
    assert dumps(rows) == json.dumps(rows, indent=2)
    assert dumps([]) == "[]"


def test_special_floats_and_keys_that_are_not_strings() -> None:
    odd = [float("nan"), float("inf"), -float("inf"), -0.0, 1e-7, 2**70]
    assert dumps({"v": odd, "flat": float("nan")}) == json.dumps(
        {"v": odd, "flat": float("nan")}, indent=2
    )
    assert dumps([{1: "a", None: 2, 1.5: 3, False: 4}]) == json.dumps(
        [{1: "a", None: 2, 1.5: 3, False: 4}], indent=2
    )
    assert dumps([(1, 2)]) == json.dumps([(1, 2)], indent=2)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_decoded_json(obj: Any) -> None:
    assert dumps(obj) == json.dumps(obj, indent=2)


# --- the master's side: rows_text (list with `as_text`) and the `columns` shape ---------------

SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats()
    | st.text()
    | st.sampled_from(list(State))
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3).map(tuple)
        | st.lists(inner, max_size=3)
        | st.dictionaries(st.text(), inner, max_size=3)
    ),
    max_leaves=8,
)
KEYS = st.lists(st.text(), min_size=1, max_size=6, unique=True)


def _as_the_cli_prints_them(rows: list[Any]) -> str:
    """What `list --json` printed before the master laid it out: the rows as the protocol
    carries them, decoded, then json.dumps(indent=2)."""
    return json.dumps(loads(dumps_compact(rows, default=str)), indent=2)


@st.composite
def _rows(draw: st.DrawFn) -> list[Any]:
    keys = draw(KEYS)
    same = st.fixed_dictionaries({key: VALUE for key in keys})
    other = st.dictionaries(st.text(), VALUE, max_size=4)
    return draw(st.lists(same if draw(st.booleans()) else same | other, max_size=5))


@settings(max_examples=300, deadline=None)
@given(_rows())
def test_the_master_lays_out_rows_as_the_cli_did(rows: list[Any]) -> None:
    assert rows_text(rows) == _as_the_cli_prints_them(rows)


def test_rows_as_the_master_holds_them() -> None:
    master_row = {**ROW, "state": State.RUNNING, "health": "50% \x00 %s %(x)s"}
    scaled = {**master_row, "overrides": [{"kind": "scaled", "at": 1.5, "n": (1, True)}]}
    for rows in ([master_row] * 3, [master_row, scaled, master_row], [scaled], [{}], [1, "a"]):
        assert rows_text(rows) == _as_the_cli_prints_them(rows)
    assert rows_text([]) == "[]"
    assert rows_text([{1: "a"}, {"%s": 1}]) == _as_the_cli_prints_them([{1: "a"}, {"%s": 1}])


def test_columns_carry_the_same_rows() -> None:
    rows = [{**ROW, "state": State.RUNNING}, {**ROW, "name": "worker:8", "cpu": None}]
    reply = loads(dumps_compact(list_reply(rows, {"pid": 1}, True, False)))
    assert "instances" not in reply and reply["columns"] == list(ROW)
    plain = loads(dumps_compact(list_reply(rows, {"pid": 1}, False, False)))
    assert rows_of(reply) == rows_of(plain) == plain["instances"]
    mixed = [*rows, {"name": "odd"}]  # rows with other keys: sent as objects
    assert "instances" in list_reply(mixed, {}, True, False)
    assert list_reply([], {}, True, False) == {"instances": [], "master": {}}
