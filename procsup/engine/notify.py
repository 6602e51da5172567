"""The sd_notify(3) socket of one instance: a datagram socket under state_dir that the program
finds through NOTIFY_SOCKET, so every existing client (`systemd-notify`, libsystemd, a PHP or
Python one-liner) works unchanged and a message belongs to exactly one instance.

Reading is on the loop (no thread): a loop reader of its own while its messages are urgent
(READY=1 awaited), else pooled in the master's NotifyHub (notifyhub.py), which reads every
pooled socket in coalesced rounds so keep-alives do not wake the loop one by one. SO_PASSCRED
makes the kernel attach the sender's pid, so a message from a live process outside the
instance's tree is dropped; a sender already gone is accepted, since `systemd-notify` exits
right after sending. Descriptors passed with SCM_RIGHTS (BARRIER=1) are closed at once: the
sender waits for exactly that.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import struct
from collections.abc import Callable

from procsup.engine.notifyhub import NotifyHub

log = logging.getLogger(__name__)

MAX_DATAGRAM = 4096
_CREDS = struct.Struct("3i")  # struct ucred: pid, uid, gid
_ANCILLARY = socket.CMSG_SPACE(_CREDS.size) + socket.CMSG_SPACE(16 * 4)
MAX_PATH = 107  # sun_path holds 108 bytes with its NUL
KEEPALIVE_DATA = (b"WATCHDOG=1", b"WATCHDOG=1\n")
KEEPALIVE = {"WATCHDOG": "1"}  # parse() of those, shared (never modified)
#: datagrams read per drain at most: a program flooding its socket cannot hold the loop; the
#: rest is read on the next call (the socket stays readable)
DRAIN_MAX = 256


def socket_path(state_dir: str, name: str, abstract: bool = False) -> str:
    """`STATE_DIR/notify/<hash>.sock`, short whatever the program's name; an abstract socket
    (`@procsup-…`, which sd_notify clients accept) when even that is too long for sun_path, or
    when `abstract` (a program run as another `user` cannot enter the private state_dir)."""
    digest = hashlib.sha256(f"{os.path.realpath(state_dir)}\0{name}".encode()).hexdigest()[:12]
    path = os.path.join(state_dir, "notify", f"{digest}.sock")
    return path if len(path.encode()) <= MAX_PATH and not abstract else f"@procsup-{digest}"


def parse(data: bytes) -> dict[str, str]:
    """`READY=1\\nSTATUS=busy` -> {"READY": "1", "STATUS": "busy"}; lines without `=` dropped."""
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").split("\n"):
        key, eq, value = line.partition("=")
        if eq and key:
            fields[key] = value
    return fields


class NotifySocket:
    """One instance's socket. `on_message(fields)` gets each accepted datagram; `belongs(pid)`
    says whether a live sender is part of the instance's tree. It starts read directly on the
    loop; `pool(True)` hands it to `hub`, `pool(False)` takes it back."""

    def __init__(
        self,
        path: str,
        loop: asyncio.AbstractEventLoop,
        on_message: Callable[[dict[str, str]], None],
        belongs: Callable[[int], bool],
        hub: NotifyHub | None = None,
    ) -> None:
        self.path = path
        self._loop = loop
        self._on_message = on_message
        self._belongs = belongs
        self._hub = hub
        self.pooled = False
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            self._bind()
        except OSError:
            self._sock.close()
            raise
        self._fd = self._sock.fileno()
        loop.add_reader(self._fd, self.drain)

    def pool(self, on: bool) -> None:
        """Read in the hub's coalesced rounds (on) or at once on the loop (off)."""
        if self._hub is None or on == self.pooled or self._fd < 0:
            return
        if on:
            self._loop.remove_reader(self._fd)
            self._hub.add(self._fd, self.drain)
        else:
            self._hub.remove(self._fd)
            self._loop.add_reader(self._fd, self.drain)
        self.pooled = on

    def _bind(self) -> None:
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self._sock.setblocking(False)
        if self.path.startswith("@"):
            self._sock.bind("\0" + self.path[1:])
            return
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # left by an earlier master of this state_dir
        self._sock.bind(self.path)
        # the program may run as another user: it must be able to send
        os.chmod(self.path, 0o666)
        os.chmod(os.path.dirname(self.path), 0o711)

    def drain(self, most: int = DRAIN_MAX) -> None:
        """Read what the socket holds (`most` datagrams at most), in order. A bare keep-alive
        skips the parser."""
        recvmsg = self._sock.recvmsg
        for _ in range(most):
            if self._fd < 0:  # closed by a message's consequences
                return
            try:
                data, ancdata, _flags, _addr = recvmsg(MAX_DATAGRAM, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("notify socket %s: %s", self.path, exc)
                return
            pid = _close_fds_and_get_pid(ancdata)
            if pid is not None and not self._belongs(pid):
                log.warning(
                    "notify socket %s: ignored a message from pid %d, outside the instance's tree",
                    self.path,
                    pid,
                )
                continue
            self._on_message(KEEPALIVE if data in KEEPALIVE_DATA else parse(data))

    def close(self) -> None:
        if self._fd < 0:
            return
        if self.pooled and self._hub is not None:
            self._hub.remove(self._fd)
        else:
            self._loop.remove_reader(self._fd)
        self._fd = -1
        self._sock.close()
        if not self.path.startswith("@"):
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def _close_fds_and_get_pid(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    """Close every descriptor passed along (BARRIER=1 waits for that); the sender's pid."""
    pid = None
    for level, kind, payload in ancdata:
        if level != socket.SOL_SOCKET:
            continue
        if kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
        elif kind == socket.SCM_CREDENTIALS and len(payload) >= _CREDS.size:
            pid = _CREDS.unpack_from(payload)[0]
    return pid or None


def in_tree(pid: int, leader: int | None, mark: str) -> bool:
    """True when `pid` is the leader, carries the spawn's mark in its environment (inherited by
    every descendant), or is already gone (systemd-notify exits at once: nothing to check)."""
    if pid == leader:
        return True
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return True
    except OSError:
        return False
    if not env:  # no memory any more (exiting, or a zombie), or a live empty environment
        return _ending(pid)
    return mark.encode() in env.split(b"\0")


PF_EXITING = 0x4  # the kernel's flag of a process inside exit(), before it is a zombie


def _ending(pid: int) -> bool:
    """True when `pid` is on its way out: a zombie (its parent has not reaped it yet), dead, or
    still inside exit() with its memory already gone, which is what a sender that exits right
    after its datagram (a `perl -e`, systemd-notify) looks like for a moment. A live process
    with an empty environment (`env -i`) is not."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[-1].split()
        return fields[0] in (b"Z", b"X", b"x") or bool(int(fields[6]) & PF_EXITING)
    except (OSError, IndexError, ValueError):
        return True  # gone meanwhile
