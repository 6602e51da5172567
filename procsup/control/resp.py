"""A few Redis commands over a plain socket, for the fast read of `procsup list --cluster`
(SCAN and MGET of the host entries). Importing redis-py alone costs about 140 ms, which is
most of that command's budget, so the read path speaks RESP itself for the URLs it fully
understands: `redis://[user:password@]host[:port][/db]` and `unix://path[?db=N]`, without
other query parameters. Every other URL (`rediss://`, TLS or pool options) goes through
redis-py (control/fleetclient.py), as the masters do.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class RespError(Exception):
    """Redis answered with an error, or the connection failed."""


def handles(url: str) -> bool:
    """Whether this module speaks to `url` exactly as redis-py would."""
    parts = urlsplit(url)
    if parts.scheme == "redis":
        return not parts.query
    if parts.scheme == "unix":
        return set(parse_qs(parts.query)) <= {"db"}
    return False


class RespConnection:
    """One blocking connection; `call` sends a command and returns its decoded reply."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        try:
            if parts.scheme == "unix":
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(timeout)
                self.sock.connect(unquote(parts.path))
                db = (parse_qs(parts.query).get("db") or ["0"])[0]
            else:
                address = (parts.hostname or "localhost", parts.port or 6379)
                self.sock = socket.create_connection(address, timeout=timeout)
                db = parts.path.strip("/") or "0"
        except OSError as exc:
            raise RespError(exc.strerror or str(exc)) from None
        self.reader = self.sock.makefile("rb")
        if parts.password is not None:
            user = unquote(parts.username) if parts.username else None
            secret = unquote(parts.password)
            self.call("AUTH", *([user, secret] if user else [secret]))
        if db != "0":
            self.call("SELECT", db)

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def __enter__(self) -> RespConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, *args: str) -> Any:
        out = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        try:
            self.sock.sendall(b"".join(out))
            return self._reply()
        except OSError as exc:
            raise RespError(exc.strerror or str(exc)) from None

    def _reply(self) -> Any:
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise RespError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self.reader.read(size + 2)
            return data[:-2].decode()
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._reply() for _ in range(count)]
        raise RespError(f"unexpected reply {line[:20]!r}")


def scan_get(url: str, pattern: str, timeout: float) -> list[str]:
    """The values of every key matching `pattern` (SCAN, then one MGET)."""
    with RespConnection(url, timeout) as conn:
        keys: list[str] = []
        cursor = "0"
        while True:
            cursor, found = conn.call("SCAN", cursor, "MATCH", pattern, "COUNT", "1000")
            keys.extend(found)
            if cursor == "0":
                break
        values = conn.call("MGET", *sorted(set(keys))) if keys else []
    return [v for v in values if v is not None]
