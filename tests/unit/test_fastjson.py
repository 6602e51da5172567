"""core/fastjson gives exactly what json gives: `loads` what json.loads returns (or raises the same
error), `dumps` what json.dumps(obj, separators=(",", ":"), default=...) writes, byte for byte.
The CLI reads every reply and the master writes every line with them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procsup.core import fastjson

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)
SPACE = st.text(alphabet=" \t\n\r", max_size=3)


def outcome(fn: Any, arg: Any) -> tuple[str, str]:
    """What a call gives, comparable across NaN: the repr of the result, or the error."""
    try:
        return "ok", repr(fn(arg))
    except Exception as exc:  # the same error type and message, whatever it is
        return type(exc).__name__, str(exc)


@settings(max_examples=400)
@given(JSON, SPACE, SPACE, st.sampled_from([None, ", ", 2]))
def test_loads_gives_what_json_loads_gives(value: Any, before: str, after: str, how: Any) -> None:
    text = before + json.dumps(value, ensure_ascii=how is None, indent=how) + after
    for doc in (text, text.encode(), bytearray(text.encode())):
        assert outcome(fastjson.loads, doc) == outcome(json.loads, doc)


@settings(max_examples=400)
@given(st.text(max_size=40) | st.binary(max_size=40))
def test_loads_of_anything_fails_or_succeeds_as_json_does(doc: str | bytes) -> None:
    assert outcome(fastjson.loads, doc) == outcome(json.loads, doc)


@pytest.mark.parametrize(
    "doc",
    [
        b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 byte-order mark
        '\ufeff{"a": 1}',
        '{"a": 1}'.encode("utf-16"),
        '{"a": 1}'.encode("utf-16-le"),
        '{"a": 1}'.encode("utf-32"),
        '{"a": 1}'.encode("utf-32-be"),
        b"1",
        b"[]",
        b'{"a": 1} x',
        b'{"a": 1}{}',
        b"",
        b"   ",
        b'"\xff"',
        b'"\xed\xa0\x80"',  # a lone surrogate: json decodes with surrogatepass
        b"[NaN, Infinity, -Infinity, 1e999]",
        b'{"a": [1, 2.5, true, false, null, "\\u00e9\\ud83d\\ude00"]}\n',
        b"[" * 100_000 + b"]" * 100_000,
        12,
    ],
)
def test_loads_edge_cases(doc: Any) -> None:
    assert outcome(fastjson.loads, doc) == outcome(json.loads, doc)


def test_loads_of_a_reply_line() -> None:
    line = b'{"id":1,"ok":true,"result":{"instances":[{"name":"w:0","cpu":0.1}]}}\n'
    assert fastjson.loads(line) == json.loads(line)


class Odd:
    def __str__(self) -> str:
        return "odd é"


@settings(max_examples=400)
@given(JSON)
def test_dumps_writes_what_json_dumps_writes(value: Any) -> None:
    want = outcome(lambda v: json.dumps(v, separators=(",", ":"), default=str), value)
    assert outcome(lambda v: fastjson.dumps(v, default=str), value) == want
    assert outcome(fastjson.dumps, value) == outcome(
        lambda v: json.dumps(v, separators=(",", ":")), value
    )


@pytest.mark.parametrize(
    "value",
    [
        {"a": Odd(), "b": [Odd()], 1: 2, 2.5: "x", None: True, False: None},
        "just a string é",
        float("nan"),
        [float("inf"), -float("inf")],
        {"state": __import__("procsup.core.states").core.states.State.RUNNING},
        (1, 2),
        {"deep": [[[[{"x": ["é\u2028\x00"]}]]]]},
    ],
)
def test_dumps_edge_cases(value: Any) -> None:
    for default in (None, str):
        want = outcome(lambda v, d=default: json.dumps(v, separators=(",", ":"), default=d), value)
        assert outcome(lambda v, d=default: fastjson.dumps(v, default=d), value) == want


def test_circular_data_is_refused_as_json_refuses_it() -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert outcome(fastjson.dumps, loop) == outcome(
        lambda v: json.dumps(v, separators=(",", ":")), loop
    )
