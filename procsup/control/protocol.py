"""The control protocol's framing and shapes: newline-delimited JSON, one object per line.

Shared by the server and the one client (control/client.py, used by the CLI and the TUI);
imports only the stdlib and core/fastjson.py, and neither `typing` nor `json` (which cost
`procsup list` 3 ms each). See docs/protocol.md.
"""

from __future__ import annotations

from procsup.core.fastjson import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROTOCOL_VERSION = 1
MAX_LINE = 1024 * 1024  # a request line longer than this is refused
MAX_DEPTH = 32  # arrays/objects nested deeper than this are refused (bad_json)
MAX_INT = 2**53  # integers beyond ±2^53 are refused: no argument means anything that large

# error codes
BAD_JSON = "bad_json"
BAD_REQUEST = "bad_request"
TOO_LARGE = "too_large"
UNKNOWN_COMMAND = "unknown_command"
NOT_FOUND = "not_found"
INVALID = "invalid"
CONFIG_ERROR = "config_error"
FAILED = "failed"
FORBIDDEN = "forbidden"
BUSY = "busy"
TIMEOUT = "timeout"
INTERNAL = "internal"


class ProtocolError(Exception):
    """An error reply: carries the code and a one-line message for people. The root of every
    error the protocol's two ends raise: the server sends it, the client raises its subclasses
    (control/client.py) for error replies, for no master and for a protocol mismatch."""

    def __init__(self, code: str, message: str, details: Any = None, req_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.req_id = req_id

    def to_json(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            err["details"] = self.details
        return err


def encode(obj: dict[str, Any]) -> bytes:
    return dumps(obj, default=str).encode() + b"\n"


def ok(req_id: Any, result: Any) -> bytes:
    return encode({"id": req_id, "ok": True, "result": result})


def error(req_id: Any, err: ProtocolError) -> bytes:
    return encode({"id": req_id, "ok": False, "error": err.to_json()})


def item(req_id: Any, payload: Any) -> bytes:
    """One item of a streaming reply (`logs` with follow, `events`)."""
    return encode({"id": req_id, "item": payload})


class _NonFinite:
    """What `NaN`, `Infinity`, `-Infinity` (and floats like 1e999) parse to, so the request can be
    refused with the id and the key that carried them instead of a bare parse error."""

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_float(text: str) -> float | _NonFinite:
    value = float(text)
    finite = value - value == 0.0  # math.isfinite, without importing math on every CLI call
    return value if finite else _NonFinite(text)


def _decode(line: bytes) -> Any:
    import json  # the master's side only: the CLI reads replies with core/fastjson.py

    try:
        return json.loads(line, parse_constant=_NonFinite, parse_float=_parse_float)
    except RecursionError:
        raise ProtocolError(BAD_JSON, f"request nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(BAD_JSON, f"request is not valid JSON: {exc}") from None


def check_values(value: Any, where: str, req_id: Any = None) -> None:
    """Refuse what no argument can mean: NaN, ±Infinity, integers beyond ±2^53 (`invalid`) and
    nesting deeper than MAX_DEPTH (`bad_json`). Iterative, so depth costs no recursion."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, _NonFinite):
            raise ProtocolError(
                INVALID, f"{path} is {item.text}: numbers must be finite", req_id=req_id
            )
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INT:
            raise ProtocolError(INVALID, f"{path} is out of range (at most ±2^53)", req_id=req_id)
        if isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise ProtocolError(
                    BAD_JSON, f"request nested deeper than {MAX_DEPTH} levels", req_id=req_id
                )
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend(
                (v, f"{path}.{k}" if isinstance(item, dict) else f"{path}[{k}]", depth + 1)
                for k, v in pairs
            )


def parse_request(line: bytes) -> tuple[Any, str, dict[str, Any]]:
    """Validate one request line → (id, cmd, args). Raises ProtocolError with the id if known."""
    req = _decode(line)
    if not isinstance(req, dict):
        raise ProtocolError(BAD_REQUEST, "request must be a JSON object")
    req_id = req.get("id")
    if isinstance(req_id, bool) or not isinstance(req_id, (int, str, type(None))):
        raise ProtocolError(BAD_REQUEST, "'id' must be an integer or a string")
    cmd = req.get("cmd")
    if not isinstance(cmd, str):
        raise ProtocolError(BAD_REQUEST, "'cmd' must be a string", req_id=req_id)
    args = req.get("args")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        check_values(args, "args", req_id)
        raise ProtocolError(BAD_REQUEST, "'args' must be an object", req_id=req_id)
    check_values(args, "args", req_id)
    return req_id, cmd, args
