"""A blocking client for the control socket, shared by the CLI (and any script).

Only the stdlib: `procsup list` must start fast.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    from typing import Any


class NoMaster(Exception):
    """Nothing answers on the socket."""


class ClientError(Exception):
    """The master answered with an error."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class Client:
    def __init__(self, path: str, timeout: float | None = 60.0) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file: Any = None
        self._next_id = 0

    def connect(self) -> Client:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise NoMaster(f"no procsup master at {self.path} ({exc.strerror})") from None
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._file = sock.makefile("rb")
        return self

    def set_timeout(self, timeout: float | None) -> None:
        """None: wait as long as it takes (following logs, waiting for a task run)."""
        self.timeout = timeout
        if self._sock is not None:
            self._sock.settimeout(timeout)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._file = None

    def __enter__(self) -> Client:
        return self.connect() if self._sock is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, cmd: str, args: dict[str, Any] | None) -> int:
        if self._sock is None:
            self.connect()
        assert self._sock is not None
        self._next_id += 1
        req = {"id": self._next_id, "cmd": cmd, "args": args or {}}
        self._sock.sendall(json.dumps(req).encode() + b"\n")
        return self._next_id

    def _read(self) -> dict[str, Any]:
        line = self._file.readline()
        if not line:
            raise NoMaster("the master closed the connection")
        msg: dict[str, Any] = json.loads(line)
        return msg

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """Send one request and return its result; raises ClientError on an error reply."""
        self._send(cmd, args)
        return _result(self._read())

    def stream(self, cmd: str, args: dict[str, Any] | None = None) -> Iterator[Any]:
        """Yield the items of a streaming reply until the master ends it."""
        self._send(cmd, args)
        while True:
            msg = self._read()
            if "item" in msg:
                yield msg["item"]
                continue
            _result(msg)
            return


def _result(msg: dict[str, Any]) -> Any:
    if msg.get("ok"):
        return msg.get("result")
    err = msg.get("error") or {}
    raise ClientError(
        err.get("code", "error"), err.get("message", "unknown error"), err.get("details")
    )
