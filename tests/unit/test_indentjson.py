"""core/indentjson.dumps writes exactly what json.dumps(obj, indent=2) writes (`list --json` is for
scripts: not one byte may differ), for rows as the master sends them and for any decoded JSON;
rows_text and columns_text (what `list --json` prints from the `columns` reply) write the same;
and `list` with `columns` carries the same rows."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from procsup.cli.tables import rows_of
from procsup.control.rowjson import list_reply
from procsup.core.fastjson import dumps as dumps_compact
from procsup.core.fastjson import loads
from procsup.core.indentjson import columns_text, dumps, rows_text
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


# --- rows_text and columns_text (`list --json` from the `columns` reply) -----------------------

SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats()
    | st.text()
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
KEYS = st.lists(st.text(), min_size=1, max_size=6, unique=True)


@st.composite
def _rows(draw: st.DrawFn) -> list[Any]:
    keys = draw(KEYS)
    same = st.fixed_dictionaries({key: VALUE for key in keys})
    other = st.dictionaries(st.text(), VALUE, max_size=4)
    return draw(st.lists(same if draw(st.booleans()) else same | other, max_size=5))


@settings(max_examples=300, deadline=None)
@given(_rows())
def test_rows_text_writes_what_json_writes(rows: list[Any]) -> None:
    assert rows_text(rows) == json.dumps(rows, indent=2)


@settings(max_examples=300, deadline=None)
@given(
    KEYS.flatmap(
        lambda keys: st.tuples(
            st.just(keys),
            st.lists(st.lists(VALUE, min_size=len(keys), max_size=len(keys)), max_size=5),
        )
    )
)
def test_columns_text_writes_the_rows_they_carry(columns: tuple[list[str], list[Any]]) -> None:
    keys, values = columns
    rows = [dict(zip(keys, row, strict=True)) for row in values]
    assert columns_text(keys, values) == json.dumps(rows, indent=2)


def test_rows_as_the_master_sends_them_in_columns() -> None:
    scaled = {**ROW, "overrides": [{"kind": "scaled", "at": 1.5, "n": [1, True]}]}
    odd = {**ROW, "health": "50% \x00 %s %(x)s"}
    for rows in ([ROW] * 3, [ROW, scaled, odd], [scaled]):
        reply = loads(dumps_compact(list_reply(rows, {"pid": 1}, True)))
        assert columns_text(reply["columns"], reply["rows"]) == json.dumps(rows, indent=2)
    assert columns_text(["a", "a"], [[1, 2]]) == json.dumps([{"a": 2}], indent=2)
    assert columns_text(["%s"], [[1], [{}]]) == json.dumps([{"%s": 1}, {"%s": {}}], indent=2)
    assert columns_text([], []) == rows_text([]) == "[]"
    assert rows_text([{1: "a"}, {"%s": 1}, 3]) == json.dumps([{1: "a"}, {"%s": 1}, 3], indent=2)


def test_columns_carry_the_same_rows() -> None:
    rows = [{**ROW, "state": State.RUNNING}, {**ROW, "name": "worker:8", "cpu": None}]
    reply = loads(dumps_compact(list_reply(rows, {"pid": 1}, True), default=str))
    assert "instances" not in reply and reply["columns"] == list(ROW)
    plain = loads(dumps_compact(list_reply(rows, {"pid": 1}, False), default=str))
    assert rows_of(reply) == rows_of(plain) == plain["instances"]
    mixed = [*rows, {"name": "odd"}]  # rows with other keys: sent as objects
    assert "instances" in list_reply(mixed, {}, True)
    assert list_reply([], {}, True) == {"instances": [], "master": {}}
