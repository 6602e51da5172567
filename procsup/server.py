"""The unix-socket control server: accept, check the peer, read requests, dispatch, stream.

A malformed, oversized or unknown request gets an error reply; nothing a client sends can crash or
hang the master. Each connection handles its requests one after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import socket
import struct
from typing import TYPE_CHECKING, Any

from procsup import (
    protocol,
    state_handlers,  # noqa: F401  (registers stop and reload)
    task_handlers,  # noqa: F401  (registers the task commands)
)
from procsup.handlers import HANDLERS, Connection
from procsup.protocol import MAX_LINE, ProtocolError

if TYPE_CHECKING:
    from procsup.master import Master

log = logging.getLogger(__name__)


class Server:
    def __init__(self, master: Master) -> None:
        self.master = master
        self.path = master.config.master.socket
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        cfg = self.master.config.master
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_socket() or self.path.exists():
            self.path.unlink()  # we hold the pid lock, so no live master owns it
        old_umask = os.umask(0o777 & ~cfg.socket_mode)  # created with the right mode, no window
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=MAX_LINE
            )
        finally:
            os.umask(old_umask)
        os.chmod(self.path, cfg.socket_mode)
        if cfg.socket_group:
            os.chown(self.path, -1, grp.getgrnam(cfg.socket_group).gr_gid)

    async def close_listener(self) -> None:
        if self._server is not None:
            self._server.close()

    async def close(self) -> None:
        await self.close_listener()
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _peer_allowed(self, writer: asyncio.StreamWriter) -> bool:
        sock = writer.get_extra_info("socket")
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, gid = struct.unpack("3i", creds)
        cfg = self.master.config.master
        if uid in (0, os.getuid()):
            return True
        if not cfg.socket_group:
            return False
        wanted = grp.getgrnam(cfg.socket_group).gr_gid
        return gid == wanted or wanted in _supplementary_groups(pid)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        conn = Connection(writer, reader)
        try:
            if not self._peer_allowed(writer):
                err = ProtocolError(protocol.FORBIDDEN, "this user may not control the master")
                await conn.send(protocol.error(None, err))
                return
            await self._read_loop(reader, conn)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # the master is shutting down. End normally: CPython 3.11's stream callback calls
            # exception() on a cancelled connection task, which logs a spurious traceback.
            pass
        finally:
            self._conns.discard(task)
            writer.close()

    async def _read_loop(self, reader: asyncio.StreamReader, conn: Connection) -> None:
        while not reader.at_eof():
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                await conn.send(
                    protocol.error(
                        None,
                        ProtocolError(protocol.TOO_LARGE, f"request longer than {MAX_LINE} bytes"),
                    )
                )
                return
            except asyncio.IncompleteReadError as exc:
                if exc.partial.strip():
                    await self._dispatch(exc.partial, conn)
                return
            if line.strip():
                await self._dispatch(line, conn)

    async def _dispatch(self, line: bytes, conn: Connection) -> None:
        req_id = None
        try:
            req_id, cmd, args = protocol.parse_request(line)
            handler = HANDLERS.get(cmd)
            if handler is None:
                raise ProtocolError(
                    protocol.UNKNOWN_COMMAND,
                    f"unknown command {cmd!r}; known: {', '.join(sorted(HANDLERS))}",
                )
            conn.req_id = req_id
            result = await handler(self.master, args, conn)
            await conn.send(protocol.ok(req_id, result))
        except ProtocolError as exc:
            await conn.send(protocol.error(exc.req_id if req_id is None else req_id, exc))
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug in one handler must not take the master down
            log.exception("command failed: %r", line[:200])
            await conn.send(protocol.error(req_id, ProtocolError(protocol.INTERNAL, str(exc))))


def _supplementary_groups(pid: int) -> set[int]:
    """The peer's supplementary groups (a user added with `usermod -aG`), from /proc."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Groups:"):
                    return {int(g) for g in line.split()[1:]}
    except (OSError, ValueError):
        pass
    return set()
