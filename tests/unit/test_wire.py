"""Pure checks of what crosses the socket and the terminal: request numbers, line splitting,
control-character escaping."""

from __future__ import annotations

import json
import math
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from procsup.cli.logview import escape_controls
from procsup.control.protocol import MAX_INT, ProtocolError, parse_request
from procsup.engine.logs import LogChunk

numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70)
nested = st.recursive(
    numbers | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)


def _bad_numbers(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) > MAX_INT
    if isinstance(value, list):
        return any(_bad_numbers(v) for v in value)
    if isinstance(value, dict):
        return any(_bad_numbers(v) for v in value.values())
    return False


@given(args=st.dictionaries(st.text(max_size=5), nested, max_size=4))
def test_a_request_is_refused_exactly_when_a_number_is_not_finite_or_too_large(args):
    line = json.dumps({"id": 3, "cmd": "x", "args": args}).encode()  # writes NaN, Infinity
    try:
        _, _, parsed = parse_request(line)
    except ProtocolError as exc:
        assert exc.code == "invalid" and exc.req_id == 3, exc.message
        assert _bad_numbers(args), args
        return
    assert not _bad_numbers(args)
    assert parsed == args


def test_deep_nesting_is_bad_json():
    for line in (b"[" * 100_000, b'{"id":1,"cmd":"x","args":{"a":' + b"[" * 50 + b"]" * 50 + b"}}"):
        with pytest.raises(ProtocolError) as err:
            parse_request(line)
        assert err.value.code == "bad_json"


def test_chunk_lines_end_at_newline_only():
    data = "a\rb\x0bc\x0cd\x1ce\x1df\x1eg\x85h\u2028i\u2029j\n\nlast".encode()
    assert LogChunk(0.0, "stdout", data).lines() == [
        "a\rb\x0bc\x0cd\x1ce\x1df\x1eg\x85h\u2028i\u2029j",
        "",
        "last",
    ]
    assert LogChunk(0.0, "stdout", b"one\n").lines() == ["one"]


@given(text=st.text())
def test_escaped_text_has_no_control_character_but_tab(text):
    shown = escape_controls(text)
    assert all(c == "\t" or unicodedata.category(c) != "Cc" for c in shown)


def test_escapes_are_readable():
    assert (
        escape_controls("\x1b]0;t\x07 \x1b[31m\x9b\tok\r")
        == "\\x1b]0;t\\x07 \\x1b[31m\\x9b\tok\\x0d"
    )


@given(data=st.binary(max_size=64) | st.text(alphabet="a\n\r\u2028", max_size=20).map(str.encode))
def test_followers_split_lines_like_chunk_lines(data):
    from procsup.control.handlers.logs import _iter_lines

    chunk = LogChunk(0.0, "stdout", data)
    assert list(_iter_lines(chunk)) == chunk.lines()


@given(data=st.text(alphabet="ab\n", max_size=300).map(str.encode), limit=st.integers(1, 40))
def test_ring_pieces_are_small_and_cut_between_lines_where_they_can(data, limit):
    from procsup.engine.logs import ring_pieces

    pieces = ring_pieces(data, limit)
    assert b"".join(pieces) == data
    assert all(len(p) <= limit for p in pieces)
    for piece in pieces[:-1]:  # a cut inside a line only where the line is over the limit
        assert piece.endswith(b"\n") or (len(piece) == limit and b"\n" not in piece)
