"""The asyncio face of the control client, for the TUI and the fleet view: one connection per
request or stream, each checking `hello` first as the blocking face (client.py) does; or, for a
request asked often, one kept connection (`KeptConnection`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from procsup.control.client import (
    STREAM_LIMIT,
    NoMaster,
    NotAllowed,
    _not_allowed,
    check_hello,
    reply_of,
    request_line,
    result_of,
    unix_address,
)


class AsyncClient:
    """The asyncio face, for the TUI: one connection per request or stream (a stream owns its
    connection, so a slow `stop` never waits behind a log being followed). Each connection
    checks `hello` first, as the blocking face does."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._ids = 0

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            address, fd = unix_address(self.path)  # also past the 107-byte path limit
            try:
                conn = await asyncio.open_unix_connection(address, limit=STREAM_LIMIT)
            finally:
                if fd is not None:
                    os.close(fd)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise NoMaster(f"no procsup master at {self.path} ({exc.strerror})") from None
        except PermissionError:
            raise NotAllowed(_not_allowed(self.path)) from None
        except OSError as exc:
            raise NoMaster(f"cannot connect to {self.path}: {exc}") from None
        try:
            await self._send(conn[1], "hello", {})
            check_hello(result_of(await _read_async(conn[0])), self.path)
        except BaseException:
            _close_async(conn[1])
            raise
        return conn

    async def _send(self, writer: asyncio.StreamWriter, cmd: str, args: dict[str, Any]) -> int:
        """Send one request; returns its id."""
        self._ids += 1
        sent = self._ids
        writer.write(request_line(sent, cmd, args))
        try:
            await writer.drain()
        except OSError as exc:
            raise NoMaster(f"the master went away ({exc})") from None
        return sent

    async def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """One request; returns the result or raises ClientError / NoMaster."""
        reader, writer = await self._open()
        try:
            await self._send(writer, cmd, args or {})
            return result_of(await _read_async(reader))
        finally:
            _close_async(writer)

    async def stream(self, cmd: str, args: dict[str, Any] | None = None) -> AsyncIterator[Any]:
        """The items of a streaming reply; NoMaster when the stream ends (a stream the TUI
        follows ends only when the master goes or drops a slow reader)."""
        reader, writer = await self._open()
        try:
            await self._send(writer, cmd, args or {})
            while True:
                msg = await _read_async(reader)
                if "item" not in msg:
                    result_of(msg)
                    raise NoMaster("the master ended the stream")
                yield msg["item"]
        finally:
            _close_async(writer)


class KeptConnection:
    """Requests over one connection kept open, for a caller that asks the same thing often
    (the dashboard's `stats` every 2 s, issue 14): no connect and no `hello` each time. When
    the master has closed it meanwhile (its idle timeout, a restart), the request is sent
    again once on a new connection, so use it for requests that may be repeated."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._lock = asyncio.Lock()

    async def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """One request; returns the result or raises ClientError / NoMaster."""
        async with self._lock:
            if self._conn is not None:
                with contextlib.suppress(NoMaster):  # closed meanwhile: once more, anew
                    return await self._ask(self._conn, cmd, args, kept=True)
            self._conn = await self.client._open()
            return await self._ask(self._conn, cmd, args, kept=False)

    async def _ask(
        self,
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        cmd: str,
        args: dict[str, Any] | None,
        kept: bool,
    ) -> Any:
        reader, writer = conn
        try:
            sent = await self.client._send(writer, cmd, args or {})
            msg = await _read_async(reader)
        except BaseException:  # broken, or cancelled halfway: its reply would go to the next
            self.close()
            raise
        if msg.get("id") != sent:  # the master's idle-timeout notice
            self.close()
            if kept:
                raise NoMaster("the master closed the kept connection")
        return result_of(msg)

    def close(self) -> None:
        if self._conn is not None:
            _close_async(self._conn[1])
            self._conn = None


async def _read_async(reader: asyncio.StreamReader) -> dict[str, Any]:
    try:
        line = await reader.readline()
    except (OSError, ValueError) as exc:  # ValueError: a line over the stream limit
        raise NoMaster(f"the connection broke ({exc})") from None
    return reply_of(line)


def _close_async(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        writer.close()  # not awaiting wait_closed(): this also runs while a worker is cancelled
