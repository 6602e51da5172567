"""The dashboard's view of a master: an asyncio client of the control protocol (docs/protocol.md).

`Source` is the narrow interface the app depends on; `MasterSource` speaks newline-delimited JSON
over the unix socket, one connection per request or stream (a stream owns its connection).
Snapshot tests use a fixed in-memory Source instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any, Protocol

from procsup.control.client import unix_address

STREAM_LIMIT = 64 * 1024 * 1024  # an events snapshot of many instances is one long line
CLIENT_NAME = "procsup-tui"


class MasterGone(Exception):
    """No master answers on the socket, or it closed the connection."""


class CommandError(Exception):
    """The master answered a request with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Source(Protocol):
    """Where the dashboard's data comes from and where its commands go."""

    address: str

    def events(self) -> AsyncIterator[dict[str, Any]]:
        """The `events` stream with stats: a snapshot item, then events; MasterGone at the end."""
        ...

    def logs(self, name: str, lines: int) -> AsyncIterator[dict[str, Any]]:
        """Recent then new output lines of one instance or task."""
        ...

    async def call(self, cmd: str, args: dict[str, Any]) -> Any:
        """One request; returns the result or raises CommandError / MasterGone."""
        ...


class MasterSource:
    """A Source talking to a real master at a unix socket path."""

    def __init__(self, path: str, stats_interval: float = 2.0) -> None:
        self.address = path
        self.stats_interval = stats_interval
        self._ids = 0

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            address, fd = unix_address(self.address)  # also past the 107-byte path limit
            try:
                return await asyncio.open_unix_connection(address, limit=STREAM_LIMIT)
            finally:
                if fd is not None:
                    os.close(fd)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise MasterGone(f"no procsup master at {self.address} ({exc.strerror})") from None
        except OSError as exc:
            raise MasterGone(f"cannot connect to {self.address}: {exc}") from None

    async def _send(self, writer: asyncio.StreamWriter, cmd: str, args: dict[str, Any]) -> int:
        self._ids += 1
        req = {"id": self._ids, "cmd": cmd, "args": args}
        writer.write(json.dumps(req).encode() + b"\n")
        try:
            await writer.drain()
        except OSError as exc:
            raise MasterGone(f"the master went away ({exc})") from None
        return self._ids

    async def call(self, cmd: str, args: dict[str, Any]) -> Any:
        reader, writer = await self._open()
        try:
            await self._send(writer, cmd, args)
            return _result(await _read(reader))
        finally:
            _close(writer)

    async def stream(self, cmd: str, args: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        reader, writer = await self._open()
        try:
            await self._send(writer, cmd, args)
            while True:
                msg = await _read(reader)
                if "item" not in msg:
                    _result(msg)
                    raise MasterGone("the master ended the stream")
                yield msg["item"]
        finally:
            _close(writer)

    def events(self) -> AsyncIterator[dict[str, Any]]:
        args = {"stats": True, "stats_interval": self.stats_interval}
        return self.stream("events", args)

    def logs(self, name: str, lines: int) -> AsyncIterator[dict[str, Any]]:
        return self.stream("logs", {"names": [name], "follow": True, "lines": lines})


async def _read(reader: asyncio.StreamReader) -> dict[str, Any]:
    try:
        line = await reader.readline()
    except (OSError, ValueError) as exc:  # ValueError: a line over the stream limit
        raise MasterGone(f"the connection broke ({exc})") from None
    if not line:
        raise MasterGone("the master closed the connection")
    try:
        msg = json.loads(line)
    except ValueError:
        raise MasterGone("the master sent a line that is not JSON") from None
    if not isinstance(msg, dict):
        raise MasterGone("the master sent a line that is not a JSON object")
    return msg


def _result(msg: dict[str, Any]) -> Any:
    if msg.get("ok"):
        return msg.get("result")
    err = msg.get("error") or {}
    raise CommandError(str(err.get("code", "failed")), str(err.get("message", "unknown error")))


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        writer.close()  # not awaiting wait_closed(): this also runs while a worker is cancelled
