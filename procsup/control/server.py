"""The unix-socket control server: accept, check the peer, read requests, dispatch, stream.

A malformed, oversized or unknown request gets an error reply; nothing a client sends can crash or
hang the master. Each connection handles its requests one after another. Connections are capped
(`max_connections`; beyond it a client gets `busy` and is closed) and a connection that sends no
request for `idle_timeout` is closed, so idle clients cannot lock everyone out.
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

from procsup.control import protocol
from procsup.control.handlers.base import WRITE_HIGH, Connection
from procsup.control.handlers.table import COMMANDS, Handler
from procsup.control.listener import Listener, ThrottledLog, bind_unix, refuse
from procsup.control.protocol import MAX_LINE, ProtocolError
from procsup.engine import memtrim
from procsup.engine.fdlimit import limits, reserve_for

if TYPE_CHECKING:
    from procsup.control.handlers.view import MasterView

log = logging.getLogger(__name__)

TOO_MANY = protocol.error(
    None, ProtocolError(protocol.BUSY, "master busy: too many connections; try again shortly")
)
OUT_OF_FDS = protocol.error(
    None, ProtocolError(protocol.BUSY, "master busy: out of file descriptors; try again shortly")
)


class Server:
    """Serves `view` (the master, as the commands see it) with the commands in `commands`."""

    def __init__(self, view: MasterView, commands: dict[str, Handler] | None = None) -> None:
        self.view = view
        self.commands = COMMANDS if commands is None else commands
        cfg = view.config.master
        self.path = cfg.socket
        self.max_connections = cfg.max_connections
        self.idle_timeout = cfg.idle_timeout
        self._listener: Listener | None = None
        self._inode: int | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        self._turned_away = ThrottledLog(logging.WARNING)
        self._closing = False

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_socket() or self.path.exists():
            self.path.unlink()  # we hold the pid lock, so no live master owns it
        self._bind()

    def _bind(self) -> None:
        cfg = self.view.config.master
        sock = bind_unix(str(self.path), cfg.socket_mode)
        try:
            os.chmod(self.path, cfg.socket_mode)
            if cfg.socket_group:
                os.chown(self.path, -1, grp.getgrnam(cfg.socket_group).gr_gid)
            self._inode = os.stat(self.path).st_ino
        except BaseException:
            sock.close()
            raise
        self._listener = Listener(sock, self._admit, OUT_OF_FDS)

    def ensure_socket(self) -> None:
        """Bind again if the socket file was deleted or replaced (SIGHUP calls this): a user who
        removed it by mistake gets the master back without killing it."""
        if self._closing:
            return
        try:
            if self._listener is not None and os.stat(self.path).st_ino == self._inode:
                return
        except FileNotFoundError:
            pass
        log.warning("control socket %s was deleted or replaced; creating it again", self.path)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # whatever is there now (we own this path: we hold the pid lock)
        self._bind()

    async def close_listener(self) -> None:
        self._closing = True
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    async def close(self) -> None:
        await self.close_listener()
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.path).st_ino == self._inode:
                self.path.unlink()

    def _admit(self, conn: socket.socket) -> None:
        """Serve a new connection, or turn it away with `busy` when at the cap."""
        if len(self._conns) >= self.max_connections:
            self._turned_away(
                f"control socket: {len(self._conns)} connections open (max_connections); "
                "turning clients away"
            )
            refuse(conn, TOO_MANY)
            return
        soft = limits()[0]
        if conn.fileno() >= soft - reserve_for(soft) // 2:
            # The kernel hands out the lowest free number, so a number this high means clients
            # are eating the reserve. Spawns leave all of it; clients (list, stop, shutdown when
            # instances took the rest) may use half; the other half stays for the master's own
            # work (state file, stops, its log).
            self._turned_away(
                f"control socket: descriptor {conn.fileno()} of {soft} is in the master's "
                "own reserve; turning clients away"
            )
            refuse(conn, OUT_OF_FDS)
            return
        task = asyncio.get_running_loop().create_task(self._serve(conn))
        self._conns.add(task)
        task.add_done_callback(self._conns.discard)

    async def _open(self, conn: socket.socket) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_LINE, loop=loop)
        proto = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport, _ = await loop.connect_accepted_socket(lambda: proto, sock=conn)
        transport.set_write_buffer_limits(high=WRITE_HIGH)
        return reader, asyncio.StreamWriter(transport, proto, reader, loop)

    def _refused_uid(self, writer: asyncio.StreamWriter) -> int | None:
        """The peer's uid if it may not control the master (SO_PEERCRED), else None."""
        sock = writer.get_extra_info("socket")
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, gid = struct.unpack("3i", creds)
        cfg = self.view.config.master
        if uid in (0, os.getuid()):
            return None
        if cfg.socket_group:
            wanted = grp.getgrnam(cfg.socket_group).gr_gid
            if gid == wanted or wanted in _supplementary_groups(pid):
                return None
        return uid

    async def _serve(self, sock: socket.socket) -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await self._open(sock)
            conn = Connection(writer, reader)
            uid = self._refused_uid(writer)
            if uid is not None:
                refusal = ProtocolError(protocol.FORBIDDEN, self._forbidden(uid))
                await conn.send(protocol.error(None, refusal))
                return
            await self._read_loop(reader, conn)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the master is shutting down
        finally:
            if writer is not None:
                writer.close()
            else:
                sock.close()

    def _forbidden(self, uid: int) -> str:
        return (
            f"uid {uid} may not control this master (it runs as uid {os.getuid()}); to share "
            'it, set socket_mode = "0660" and socket_group in [procsup]'
        )

    async def _read_loop(self, reader: asyncio.StreamReader, conn: Connection) -> None:
        while not reader.at_eof():
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\n"), self.idle_timeout)
                line, conn.pending = conn.pending + line, b""
            except TimeoutError:
                await conn.send(
                    protocol.error(
                        None,
                        ProtocolError(
                            protocol.TIMEOUT,
                            f"no request for {self.idle_timeout:g}s; connection closed",
                        ),
                    )
                )
                return
            except asyncio.LimitOverrunError:
                await conn.send(
                    protocol.error(
                        None,
                        ProtocolError(protocol.TOO_LARGE, f"request longer than {MAX_LINE} bytes"),
                    )
                )
                return
            except asyncio.IncompleteReadError as exc:
                partial, conn.pending = conn.pending + exc.partial, b""
                if partial.strip():
                    await self._dispatch(partial, conn)
                return
            if line.strip():
                await self._dispatch(line, conn)

    async def _dispatch(self, line: bytes, conn: Connection) -> None:
        req_id = None
        try:
            req_id, cmd, args = protocol.parse_request(line)
            handler = self.commands.get(cmd)
            if handler is None:
                raise ProtocolError(
                    protocol.UNKNOWN_COMMAND,
                    f"unknown command {cmd!r}; known: {', '.join(sorted(self.commands))}",
                )
            conn.req_id = req_id
            try:
                result = await handler(self.view, args, conn)
            finally:
                conn.end_request()
            reply = protocol.ok(req_id, result)
            del result  # a big reply's rows are freed before the trim below
            await conn.send(reply)
            if len(reply) >= memtrim.BIG_REPLY:
                memtrim.heap()
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
