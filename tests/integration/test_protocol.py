"""The control protocol over a raw socket: framing, errors, limits, garbage, streams, peers.

These tests speak the wire format directly (no procsup.control.client), as another tool would.
"""

from __future__ import annotations

import contextlib
import grp
import json
import math
import os
import socket
import stat
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import procsup
from procsup.control.protocol import MAX_LINE, PROTOCOL_VERSION
from tests.harness import MasterProc, child, short_tmpdir, wait_for

NUMBER_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ERROR_CODES = {
    "bad_json",
    "bad_request",
    "too_large",
    "unknown_command",
    "not_found",
    "invalid",
    "config_error",
    "failed",
    "forbidden",
    "busy",
    "timeout",
    "internal",
}
#: Commands the garbage may use: everything but `shutdown` (destructive) and `events` (a stream).
GARBAGE_COMMANDS = [
    "hello",
    "list",
    "start",
    "stop",
    "restart",
    "signal",
    "scale",
    "add",
    "remove",
    "reload",
    "save",
    "logs",
]
ARG_KEYS = [
    "names",
    "stats",
    "rolling",
    "signal",
    "program",
    "numprocs",
    "name",
    "lines",
    "stream",
    "since",
    "follow",
    "wait",
]


class Conn:
    """One raw connection: send bytes, read reply lines with a deadline."""

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1000

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, cmd: str, args: Any = None, req_id: Any = None) -> None:
        if req_id is None:
            self.next_id += 1
            req_id = self.next_id
        req: dict[str, Any] = {"id": req_id, "cmd": cmd}
        if args is not None:
            req["args"] = args
        self.send(json.dumps(req).encode() + b"\n")

    def line(self) -> bytes:
        """The next reply line; b"" when the master closed the connection."""
        while b"\n" not in self.buf:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                rest, self.buf = self.buf, b""
                return rest
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def reply(self) -> dict[str, Any]:
        line = self.line()
        assert line, "the master closed the connection instead of replying"
        msg = json.loads(line)
        assert isinstance(msg, dict), msg
        return msg

    def call(self, cmd: str, args: Any = None) -> dict[str, Any]:
        self.request(cmd, args)
        msg = self.reply()
        assert msg["id"] == self.next_id, msg
        return msg

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def assert_error(msg: dict[str, Any], code: str, req_id: Any = None) -> None:
    assert msg["ok"] is False, msg
    assert msg["id"] == req_id, msg
    assert msg["error"]["code"] == code, msg
    assert isinstance(msg["error"]["message"], str) and msg["error"]["message"], msg
    assert "\n" not in msg["error"]["message"]


def assert_answers(m: MasterProc) -> None:
    """The master is alive and answers `hello` on a fresh connection."""
    assert m.proc is not None and m.proc.poll() is None, m.log()
    with Conn(m.socket) as c:
        assert c.call("hello")["ok"] is True


@pytest.fixture(scope="module")
def master() -> Iterator[MasterProc]:
    """One master for the whole module; its only program is a harmless sleeper."""
    m = MasterProc(
        short_tmpdir(),
        f"""
        [programs.h]
        command = "{child("sleeper.py")}"
        start_seconds = 0
        restart_delay = "100ms"
        restart_delay_max = "200ms"
        stop_timeout = "1s"
        """,
    )
    try:
        m.start()
        yield m
    finally:
        m.cleanup()


# --- basics -----------------------------------------------------------------------------------


def test_socket_is_created_with_mode_0600(master):
    st_ = os.stat(master.socket)
    assert stat.S_ISSOCK(st_.st_mode)
    assert stat.S_IMODE(st_.st_mode) == 0o600


def test_hello_carries_versions(master):
    with Conn(master.socket) as c:
        c.send(b'{"id": "abc", "cmd": "hello", "args": {"client": "test", "protocol": 1}}\n')
        msg = c.reply()
    assert msg["id"] == "abc" and msg["ok"] is True
    info = msg["result"]
    assert info["version"] == procsup.__version__
    assert info["protocol"] == PROTOCOL_VERSION
    assert info["pid"] == master.proc.pid
    for key in ("host", "started", "uptime", "config", "state_dir"):
        assert key in info


def test_requests_on_one_connection_are_answered_in_order(master):
    with Conn(master.socket) as c:
        c.send(
            b'{"id": 1, "cmd": "hello"}\n'
            b"\n"  # blank lines are ignored
            b'{"id": 2, "cmd": "nope"}\n'
            b'{"id": 3, "cmd": "list", "args": {"stats": false}}\n'
        )
        replies = [c.reply() for _ in range(3)]
    assert [r["id"] for r in replies] == [1, 2, 3]
    assert [r["ok"] for r in replies] == [True, False, True]
    assert [i["name"] for i in replies[2]["result"]["instances"]] == ["h:0"]


# --- malformed requests -----------------------------------------------------------------------

MALFORMED = [
    (b"this is not json", "bad_json", None),
    (b"\xff\xfe\x00garbage", "bad_json", None),
    (b'{"id": 1, "cmd": "hello"', "bad_json", None),
    (b"[1, 2, 3]", "bad_request", None),
    (b'"hello"', "bad_request", None),
    (b"42", "bad_request", None),
    (b"null", "bad_request", None),
    (b"{}", "bad_request", None),
    (b'{"id": 5}', "bad_request", 5),
    (b'{"id": 5, "cmd": 17}', "bad_request", 5),
    (b'{"id": 5, "cmd": null}', "bad_request", 5),
    (b'{"id": true, "cmd": "hello"}', "bad_request", None),
    (b'{"id": 1.5, "cmd": "hello"}', "bad_request", None),
    (b'{"id": [1], "cmd": "hello"}', "bad_request", None),
    (b'{"id": 6, "cmd": "hello", "args": "x"}', "bad_request", 6),
    (b'{"id": 6, "cmd": "hello", "args": [1]}', "bad_request", 6),
    (b'{"id": 7, "cmd": "frobnicate"}', "unknown_command", 7),
    (b'{"id": "seven", "cmd": "HELLO"}', "unknown_command", "seven"),
]


@pytest.mark.parametrize(("line", "code", "req_id"), MALFORMED)
def test_malformed_request_gets_an_error_and_the_master_keeps_answering(master, line, code, req_id):
    with Conn(master.socket) as c:
        c.send(line + b"\n")
        assert_error(c.reply(), code, req_id)
        assert c.call("hello")["ok"] is True  # the same connection still works
    assert_answers(master)


def test_unknown_command_lists_the_known_ones(master):
    with Conn(master.socket) as c:
        msg = c.call("frobnicate")
    assert_error(msg, "unknown_command", msg["id"])
    for known in ("hello", "list", "logs", "events"):
        assert known in msg["error"]["message"]


@pytest.mark.parametrize("args", [[], 0, False, ""])
def test_falsy_args_that_are_not_an_object_are_refused(master, args):
    with Conn(master.socket) as c:
        c.request("hello", args, req_id=9)
        assert_error(c.reply(), "bad_request", 9)


WRONG_ARGS = [
    ("list", {"names": "h"}, "invalid"),
    ("list", {"names": [1, 2]}, "invalid"),
    ("list", {"names": None, "stats": 1}, "invalid"),
    ("list", {"stats": "yes"}, "invalid"),
    ("list", {"names": ["nope"]}, "not_found"),
    ("logs", {"lines": "3"}, "invalid"),
    ("logs", {"lines": True}, "invalid"),
    ("logs", {"lines": 2.5}, "invalid"),
    ("logs", {"stream": "both"}, "invalid"),
    ("logs", {"since": "1h"}, "invalid"),
    ("logs", {"follow": 1}, "invalid"),
    ("logs", {"names": {"h": 1}}, "invalid"),
    ("stop", {}, "invalid"),
    ("stop", {"names": []}, "invalid"),
    ("stop", {"names": ["nope"]}, "not_found"),
    ("start", {"names": "h"}, "invalid"),
    ("restart", {"names": ["h"], "rolling": "yes"}, "invalid"),
    ("signal", {"names": ["h"]}, "invalid"),
    ("signal", {"names": ["h"], "signal": "NOPE"}, "invalid"),
    ("signal", {"names": ["h"], "signal": 0}, "invalid"),
    ("signal", {"names": ["h"], "signal": True}, "invalid"),
    ("signal", {"names": ["h"], "signal": [15]}, "invalid"),
    ("signal", {"signal": "HUP"}, "invalid"),
    ("scale", {"program": "h"}, "invalid"),
    ("scale", {"program": "h", "numprocs": "2"}, "invalid"),
    ("scale", {"program": "h", "numprocs": True}, "invalid"),
    ("scale", {"program": "h", "numprocs": 1.0}, "invalid"),
    ("scale", {"program": "h", "numprocs": -1}, "invalid"),
    ("scale", {"program": "h", "numprocs": 10001}, "invalid"),
    ("scale", {"program": 3, "numprocs": 1}, "invalid"),
    ("scale", {"program": "nope", "numprocs": 1}, "not_found"),
    ("add", {}, "invalid"),
    ("add", {"name": "x"}, "invalid"),
    ("add", {"name": "x", "program": "sleep 1"}, "invalid"),
    ("add", {"name": "x", "program": {}}, "config_error"),
    ("add", {"name": "x", "program": {"command": "true", "numprocs": -1}}, "config_error"),
    ("add", {"name": "x y", "program": {"command": "true"}}, "config_error"),
    ("add", {"name": "h", "program": {"command": "true"}}, "invalid"),
    ("remove", {"program": "nope"}, "not_found"),
    ("remove", {"program": 5}, "invalid"),
]


@pytest.mark.parametrize(
    ("cmd", "args", "code"), WRONG_ARGS, ids=[f"{c}-{json.dumps(a)}" for c, a, _ in WRONG_ARGS]
)
def test_wrong_arguments_get_an_error(master, cmd, args, code):
    with Conn(master.socket) as c:
        msg = c.call(cmd, args)
        assert_error(msg, code, msg["id"])
        assert c.call("hello")["ok"] is True
    if code == "config_error":
        assert msg["error"]["details"] and all(isinstance(d, str) for d in msg["error"]["details"])
    assert master.state("h:0")["state"] == "RUNNING"


def test_remove_without_a_program_is_invalid(master):
    with Conn(master.socket) as c:
        msg = c.call("remove", {})
    assert_error(msg, "invalid", msg["id"])


# --- numbers ----------------------------------------------------------------------------------

NOT_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]
NUMBER_ARGS = [
    # (cmd, arg, extra args, low, high, whole numbers only)
    ("events", "stats_interval", {}, 0.2, 86400.0, False),
    ("logs", "since", {}, 0.0, 10 * 365 * 86400.0, False),
    ("logs", "lines", {}, -1, 1_000_000, True),
    ("scale", "numprocs", {"program": "nope"}, 0, 10000, True),
]


def _raw_request(cmd: str, args_json: str, req_id: int = 7) -> bytes:
    return f'{{"id":{req_id},"cmd":"{cmd}","args":{args_json}}}\n'.encode()


@pytest.mark.parametrize("token", NOT_FINITE)
@pytest.mark.parametrize(("cmd", "arg", "extra"), [(c, a, e) for c, a, e, *_ in NUMBER_ARGS])
def test_nan_and_infinity_are_invalid_arguments(master, token, cmd, arg, extra):
    args = json.dumps(extra)[:-1] + ("," if extra else "") + f'"{arg}":{token}}}'
    with Conn(master.socket) as c:
        c.send(_raw_request(cmd, args))
        msg = c.reply()
        assert_error(msg, "invalid", 7)
        assert f"args.{arg}" in msg["error"]["message"]
        assert c.call("hello")["ok"] is True


def test_nan_deep_inside_args_is_invalid_too(master):
    with Conn(master.socket) as c:
        c.send(_raw_request("add", '{"name":"n","program":{"command":"true","numprocs":NaN}}'))
        msg = c.reply()
    assert_error(msg, "invalid", 7)
    assert "args.program.numprocs" in msg["error"]["message"]


@pytest.mark.parametrize(
    "line",
    [
        _raw_request("hello", '{"a":' + "[" * 40 + "]" * 40 + "}", req_id=8),
        _raw_request("hello", '{"a":' + '{"b":' * 40 + "1" + "}" * 40 + "}", req_id=8),
        b"[" * 200_000 + b"\n",
        b'{"id":8,"cmd":"hello","args":' + b"[" * 100_000 + b"\n",
    ],
    ids=["arrays-40", "objects-40", "arrays-200000", "unclosed-100000"],
)
def test_deep_nesting_is_bad_json_not_internal(master, line):
    with Conn(master.socket) as c:
        c.send(line)
        msg = c.reply()
        assert msg["ok"] is False and msg["error"]["code"] == "bad_json", msg
        assert c.call("hello")["ok"] is True
    assert "Traceback" not in master.log()


numbers = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.sampled_from([0, -1, 0.2, 0.19999, 1e300, 2**53, 2**53 + 1, -0.0, 5e-324])
)


@NUMBER_SETTINGS
@given(spec=st.sampled_from(NUMBER_ARGS), value=numbers)
def test_numeric_arguments_are_finite_and_in_range_or_invalid(master, spec, value):
    cmd, arg, extra, low, high, whole = spec
    args = {**extra, arg: value}
    is_int = isinstance(value, int)
    valid = (is_int or not whole) and math.isfinite(value) and low <= value <= high
    with Conn(master.socket) as c:
        c.send(_raw_request(cmd, json.dumps(args)))  # json.dumps writes NaN and Infinity
        msg = c.reply()
        if not valid:
            assert_error(msg, "invalid", 7)
            return
        if cmd == "events":
            assert msg.get("item", {}).get("type") == "snapshot", msg
        elif cmd == "scale":
            assert_error(msg, "not_found", 7)  # the number passed; the program does not exist
        else:
            assert msg["ok"] is True, msg


# --- limits and broken clients ----------------------------------------------------------------


def _send_ignoring_reset(c: Conn, data: bytes) -> None:
    """The master may close the connection before it has read all of `data`."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        c.send(data)


@pytest.mark.parametrize(
    "line",
    [
        b"x" * (MAX_LINE + 10),
        b'{"id": 1, "cmd": "hello", "args": {"pad": "' + b"p" * MAX_LINE + b'"}}',
        b"y" * (3 * MAX_LINE),
    ],
    ids=["garbage", "valid-json", "3MiB"],
)
def test_oversized_line_gets_too_large_and_the_master_survives(master, line):
    with Conn(master.socket) as c:
        _send_ignoring_reset(c, line + b"\n")
        msg = c.reply()
        assert_error(msg, "too_large", None)
        assert str(MAX_LINE) in msg["error"]["message"]
        assert c.line() == b""  # then the master hangs up: the rest of the line is unread
    assert_answers(master)


def test_a_line_just_under_the_limit_is_accepted(master):
    head = b'{"id": 1, "cmd": "hello", "args": {"pad": "'
    tail = b'"}}'
    line = head + b"p" * (MAX_LINE - len(head) - len(tail) - 10) + tail
    with Conn(master.socket) as c:
        c.send(line + b"\n")
        msg = c.reply()
    assert msg["ok"] is True and msg["id"] == 1


def test_clients_that_leave_mid_line_do_no_harm(master):
    for i in range(20):
        c = Conn(master.socket)
        c.send(b'{"id": 1, "cmd": "li' if i % 2 else b"\x00\x01 partial")
        c.close()
    c = Conn(master.socket)
    c.send(b'{"id": 1, "cmd": "list", "args": {"stats": false}}\n{"id": 2, "cmd": "he')
    c.close()  # leaves with one reply unread and one line half-sent
    assert_answers(master)


def test_last_line_without_newline_is_answered_at_end_of_input(master):
    with Conn(master.socket) as c:
        c.send(b'{"id": 3, "cmd": "hello"}')
        c.sock.shutdown(socket.SHUT_WR)
        msg = c.reply()
        assert msg["id"] == 3 and msg["ok"] is True
        assert c.line() == b""
    with Conn(master.socket) as c:
        c.send(b'{"id": 4, "cmd": "hel')
        c.sock.shutdown(socket.SHUT_WR)
        assert_error(c.reply(), "bad_json", None)


def test_an_idle_or_half_sent_client_blocks_no_one(master):
    idle = Conn(master.socket)
    half = Conn(master.socket)
    half.send(b'{"id": 1, "cmd": "hel')
    try:
        with Conn(master.socket, timeout=5) as c:
            assert c.call("hello")["ok"] is True
        half.send(b'lo"}\n')  # and the half-sent one completes later
        assert half.reply()["ok"] is True
    finally:
        idle.close()
        half.close()


# --- garbage (hypothesis) ---------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
plausible_values = st.sampled_from(
    ["h", ["h"], ["h:0"], ["all"], ["h*"], ["nope"], [], "USR1", "HUP", 1, 0, -1, True, "stdout"]
)


def _harmless(req: Any) -> Any:
    """Keep garbage from shutting the master down, streaming, or spawning many processes."""
    if not isinstance(req, dict):
        return req
    if req.get("cmd") in ("shutdown", "events"):
        req["cmd"] = "hello"
    args = req.get("args")
    if isinstance(args, dict):
        if args.get("follow") is True:
            del args["follow"]
        numprocs = args.get("numprocs")
        if isinstance(numprocs, int) and not isinstance(numprocs, bool) and numprocs > 2:
            args["numprocs"] = 2
        if isinstance(args.get("program"), dict):
            args["program"].pop("command", None)
    return req


def _mostly(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> Any:
    """`common` four times in five, else `rare`."""
    return st.integers(0, 4).flatmap(lambda n: rare if n == 0 else common)


@st.composite
def garbage_requests(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 4)) == 0:
        return _harmless(draw(json_values))  # any JSON value at all
    req: dict[str, Any] = {
        "cmd": draw(_mostly(st.sampled_from(GARBAGE_COMMANDS), st.text(max_size=8)))
    }
    if draw(st.booleans()):
        keys = _mostly(st.sampled_from(ARG_KEYS), st.text(max_size=6))
        values = _mostly(plausible_values, json_values)
        req["args"] = draw(_mostly(st.dictionaries(keys, values, max_size=4), json_values))
    if draw(st.booleans()):
        req["id"] = draw(_mostly(st.integers() | st.text(max_size=6), json_values))
    return _harmless(req)


def _valid_id(req: Any) -> bool:
    if not isinstance(req, dict) or "id" not in req:
        return False
    rid = req["id"]
    return isinstance(rid, (int, str)) and not isinstance(rid, bool)


def assert_well_formed(msg: dict[str, Any]) -> None:
    assert set(msg) >= {"id", "ok"} and isinstance(msg["ok"], bool), msg
    event("ok" if msg["ok"] else msg["error"].get("code", "?"))
    if msg["ok"]:
        assert "result" in msg, msg
        return
    err = msg["error"]
    assert err["code"] in ERROR_CODES and isinstance(err["message"], str), msg
    assert err["code"] != "internal", f"a handler crashed: {msg}"


GARBAGE_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@GARBAGE_SETTINGS
@given(req=garbage_requests())
def test_garbage_json_gets_exactly_one_reply_each(master, req):
    with Conn(master.socket) as c:
        c.send(json.dumps(req).encode() + b"\n")
        msg = c.reply()
        assert_well_formed(msg)
        if _valid_id(req):
            assert msg["id"] == req["id"]
        # The next reply on this connection answers the next request: there was exactly one.
        c.request("hello", req_id="after")
        after = c.reply()
        assert after["id"] == "after" and after["ok"] is True, after


@GARBAGE_SETTINGS
@given(blob=st.binary(max_size=300))
def test_garbage_bytes_get_one_reply_per_line(master, blob):
    expected = sum(1 for part in blob.split(b"\n") if part.strip())
    with Conn(master.socket) as c:
        c.send(blob + b"\n")
        for _ in range(expected):
            assert_well_formed(c.reply())
        c.request("hello", req_id="after")
        after = c.reply()
        assert after["id"] == "after" and after["ok"] is True, after


def test_master_survived_the_garbage(master):
    assert_answers(master)
    assert "Traceback" not in master.log()


# --- streams ----------------------------------------------------------------------------------


def _items_until(c: Conn, done: Any, limit: int = 200) -> list[dict[str, Any]]:
    items = []
    for _ in range(limit):
        msg = c.reply()
        assert "item" in msg, msg
        items.append(msg["item"])
        if done(msg["item"]):
            return items
    raise AssertionError(f"no matching item in {items!r}")


def test_events_stream_a_snapshot_then_state_changes_in_order(start_master):
    m = start_master(f"""
        [programs.ev]
        command = "{child("sleeper.py")}"
        start_seconds = 0
        stop_timeout = "2s"
    """)
    m.wait_state("ev:0", "RUNNING")
    with Conn(m.socket) as c:
        c.request("events", {}, req_id=42)
        first = c.reply()
        assert first["id"] == 42 and "ok" not in first
        snap = first["item"]
        assert snap["type"] == "snapshot"
        assert [(i["name"], i["state"]) for i in snap["instances"]] == [("ev:0", "RUNNING")]
        assert snap["master"]["pid"] == m.proc.pid

        assert m.call("stop", {"names": ["ev:0"]})["instances"][0]["state"] == "STOPPED"
        items = _items_until(c, lambda e: e.get("to") == "STOPPED")
        states = [e for e in items if e["type"] == "state" and e["name"] == "ev:0"]
        assert [(e["from"], e["to"]) for e in states] == [
            ("RUNNING", "STOPPING"),
            ("STOPPING", "STOPPED"),
        ]
        assert all(e["program"] == "ev" and isinstance(e["time"], float) for e in states)
        assert states[0]["time"] <= states[1]["time"]

        m.call("start", {"names": ["ev"]})
        items = _items_until(c, lambda e: e.get("to") == "RUNNING")
        assert [(e["from"], e["to"]) for e in items if e["type"] == "state"] == [
            ("STOPPED", "STARTING"),
            ("STARTING", "RUNNING"),
        ]
        assert items[-1]["pid"] == m.state("ev:0")["pid"]

        m.call("scale", {"program": "ev", "numprocs": 2})
        items = _items_until(c, lambda e: e["type"] == "program")
        assert items[-1]["name"] == "ev"
        assert items[-1]["event"] == "scaled" and items[-1]["numprocs"] == 2
    assert_answers(m)  # the subscriber left; the master did not mind


def test_events_announce_a_program_added_by_reload(start_master):
    m = start_master(f"""
        [programs.a]
        command = "{child("sleeper.py")}"
        start_seconds = 0
    """)
    m.wait_state("a:0", "RUNNING")
    with Conn(m.socket) as c:
        c.request("events", {}, req_id=1)
        assert c.reply()["item"]["type"] == "snapshot"
        m.write_config(f"""
            [programs.a]
            command = "{child("sleeper.py")}"
            start_seconds = 0
            [programs.b]
            command = "{child("sleeper.py")}"
            start_seconds = 0
        """)
        assert m.call("reload")["added"] == ["b"]
        items = _items_until(c, lambda e: e.get("name") == "b:0" and e.get("to") == "RUNNING")
    about_b = [(e["type"], e.get("event")) for e in items if e["name"] in ("b", "b:0")]
    assert about_b[0] == ("program", "added"), about_b


def test_signal_reaches_each_process_once(start_master):
    # Real-time signals queue, so a double send is always seen (a standard signal sent twice
    # is merged or not depending on scheduling, which would make this test flaky).
    m = start_master(f"""
        [programs.rt]
        command = "{child("rt_counter.py")}"
        start_seconds = 0
    """)
    out = m.log_file("rt:0")
    wait_for(lambda: "ready" in out.read_text(), 10, "ready")
    assert m.call("signal", {"signal": "RTMIN", "names": ["rt:0"]})["sent"] == ["rt:0"]
    m.call("signal", {"signal": "RTMAX", "names": ["rt"]})
    wait_for(lambda: "rtmax 0" in out.read_text(), 5, "the RTMAX mark")
    lines = out.read_text().splitlines()
    assert lines[: lines.index("rtmax 0")] == ["ready", "rtmin 0"]


def _hello_as(path: str, uid: int, gid: int, groups: list[int]) -> tuple[dict[str, Any], bytes]:
    """Connect as another user (forked, so any interpreter path works) and send `hello`:
    the reply, and whatever came after it until the connection closed."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
            with Conn(path, timeout=5) as c:
                _send_ignoring_reset(c, b'{"id": 1, "cmd": "hello"}\n')  # may be refused at once
                with contextlib.suppress(OSError):
                    c.sock.shutdown(socket.SHUT_WR)  # no more requests: the master hangs up
                reply = c.line()
                os.write(w, reply + b"\n" + c.line())
        except BaseException as exc:
            os.write(w, f"child failed: {exc!r}".encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    assert b"\n" in data, data
    reply, rest = data.split(b"\n", 1)
    return json.loads(reply), rest


NOBODY, NOGROUP = 65534, 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="connecting as another user needs root")


@needs_root
def test_a_peer_of_another_user_is_refused(start_master):
    m = start_master(f"""
        [procsup]
        socket_mode = "0666"
        [programs.h]
        command = "{child("sleeper.py")}"
    """)
    os.chmod(m.root, 0o711)  # let `nobody` reach the socket; the uid check must still refuse
    assert stat.S_IMODE(os.stat(m.socket).st_mode) == 0o666
    msg, rest = _hello_as(m.socket, NOBODY, NOGROUP, [])
    assert_error(msg, "forbidden", None)
    assert rest == b""  # nothing else: the request was not run
    assert_answers(m)


@pytest.fixture
def group_master(start_master) -> MasterProc:
    """A master sharing its socket with the `users` group (socket_mode 0660)."""
    m = start_master(f"""
        [procsup]
        socket_mode = "0660"
        socket_group = "users"
        [programs.h]
        command = "{child("sleeper.py")}"
    """)
    os.chmod(m.root, 0o711)
    st_ = os.stat(m.socket)
    assert stat.S_IMODE(st_.st_mode) == 0o660 and st_.st_gid == grp.getgrnam("users").gr_gid
    return m


@needs_root
def test_socket_group_as_primary_group_may_connect(group_master):
    users = grp.getgrnam("users").gr_gid
    msg, _ = _hello_as(group_master.socket, NOBODY, users, [])
    assert msg["ok"] is True, msg


@needs_root
def test_socket_group_as_supplementary_group_may_connect(group_master):
    users = grp.getgrnam("users").gr_gid
    msg, _ = _hello_as(group_master.socket, NOBODY, NOGROUP, [users])
    assert msg["ok"] is True, msg
