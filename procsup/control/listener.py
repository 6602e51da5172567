"""The control socket's listening side: bind it (also past the kernel's 107-byte AF_UNIX path
limit), accept without ever stalling the loop, and turn clients away with a reply.

asyncio's own accept loop, on EMFILE, logs a traceback and stops accepting for a second while
clients wait in the backlog with no answer. Here one spare descriptor is kept for that moment:
it is given up to accept one waiting client, tell it the master is out of descriptors and close
it, then taken back, so every client gets an answer and the loop never spins on a listening
socket that stays readable.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import time
from collections.abc import Callable

from procsup.control.client import unix_address

log = logging.getLogger(__name__)

BACKLOG = 128
ACCEPT_BATCH = 64  # connections accepted per wake-up, so a flood cannot starve the loop
PAUSE = 1.0
LOG_EVERY = 60.0  # seconds without accepting when even the spare descriptor is gone
OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def bind_unix(path: str, mode: int) -> socket.socket:
    """A listening socket at `path`, created with `mode` (the umask is set around the bind, so
    the socket never exists with a looser mode)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    old_umask = os.umask(0o777 & ~mode)
    try:
        address, fd = unix_address(path)
        try:
            sock.bind(address)
        finally:
            if fd is not None:
                os.close(fd)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    finally:
        os.umask(old_umask)
    return sock


def refuse(conn: socket.socket, line: bytes) -> None:
    """Send one reply line to a client that will not be served, and close it. The line fits
    in a new socket's buffer; a client gone already is no concern."""
    try:
        conn.setblocking(False)
        conn.send(line)
    except OSError:
        pass
    finally:
        conn.close()


class Listener:
    """Accepts connections on the loop and hands each to `on_connection`."""

    def __init__(
        self,
        sock: socket.socket,
        on_connection: Callable[[socket.socket], None],
        exhausted_reply: bytes,
    ) -> None:
        self.sock = sock
        self._on_connection = on_connection
        self._exhausted_reply = exhausted_reply
        self._loop = asyncio.get_running_loop()
        self._spare = _take_spare()
        self._refused = ThrottledLog(logging.ERROR)
        self._paused: asyncio.TimerHandle | None = None
        self._loop.add_reader(sock.fileno(), self._accept)

    def close(self) -> None:
        if self._paused is not None:
            self._paused.cancel()
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno in OUT_OF_RESOURCES:
                    self._exhausted(exc)
                else:
                    log.error("control socket: accept failed: %s", exc)
                return
            self._on_connection(conn)

    def _exhausted(self, exc: OSError) -> None:
        """Out of descriptors: answer one waiting client through the spare descriptor."""
        self._refused(f"control socket: {exc.strerror}; turning clients away")
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
            try:
                conn, _ = self.sock.accept()
                refuse(conn, self._exhausted_reply)
            except OSError:
                pass
            self._spare = _take_spare()
        if self._spare is None:  # someone took it meanwhile: wait a moment instead of spinning
            self._loop.remove_reader(self.sock.fileno())
            self._paused = self._loop.call_later(PAUSE, self._resume)

    def _resume(self) -> None:
        self._paused = None
        if self._spare is None:
            self._spare = _take_spare()
        self._loop.add_reader(self.sock.fileno(), self._accept)


class ThrottledLog:
    """Logs a recurring condition at most once per LOG_EVERY seconds, with a count, so a flood
    of clients turned away costs one line a minute, not one per client."""

    def __init__(self, level: int) -> None:
        self.level = level
        self._count = 0
        self._last = -LOG_EVERY

    def __call__(self, message: str) -> None:
        self._count += 1
        now = time.monotonic()
        if now - self._last >= LOG_EVERY:
            log.log(self.level, "%s (%d client(s) since the last report)", message, self._count)
            self._count = 0
            self._last = now


def _take_spare() -> int | None:
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
