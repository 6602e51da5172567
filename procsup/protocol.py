"""The control protocol's framing and shapes: newline-delimited JSON, one object per line.

Shared by the server and the clients (CLI, TUI); imports only the stdlib. See docs/protocol.md.
"""

from __future__ import annotations

import json
from typing import Any

PROTOCOL_VERSION = 1
MAX_LINE = 1024 * 1024  # a request line longer than this is refused

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
INTERNAL = "internal"


class ProtocolError(Exception):
    """An error reply: carries the code and a one-line message for people."""

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
    return json.dumps(obj, separators=(",", ":"), default=str).encode() + b"\n"


def ok(req_id: Any, result: Any) -> bytes:
    return encode({"id": req_id, "ok": True, "result": result})


def error(req_id: Any, err: ProtocolError) -> bytes:
    return encode({"id": req_id, "ok": False, "error": err.to_json()})


def item(req_id: Any, payload: Any) -> bytes:
    """One item of a streaming reply (`logs` with follow, `events`)."""
    return encode({"id": req_id, "item": payload})


def parse_request(line: bytes) -> tuple[Any, str, dict[str, Any]]:
    """Validate one request line → (id, cmd, args). Raises ProtocolError with the id if known."""
    try:
        req = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(BAD_JSON, f"request is not valid JSON: {exc}") from None
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
        raise ProtocolError(BAD_REQUEST, "'args' must be an object", req_id=req_id)
    return req_id, cmd, args
