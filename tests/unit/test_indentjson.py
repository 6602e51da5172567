"""core/indentjson.dumps writes exactly what json.dumps(obj, indent=2) writes (`list --json` is for
scripts: not one byte may differ), for rows as the master sends them and for any decoded JSON."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from procsup.core.indentjson import dumps

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
