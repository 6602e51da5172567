"""A blocking client for the control socket, shared by the CLI (and any script).

Only the stdlib: `procsup list` must start fast. Every wait has a deadline: connecting takes at
most CONNECT_TIMEOUT, and a reply at most the client's timeout, so a stuck or busy master gives
a one-line error, never a hang.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    from typing import Any

CONNECT_TIMEOUT = 5.0
#: sun_path holds 108 bytes with the terminating NUL; longer paths go through a directory fd
MAX_SUN_PATH = 107


class NoMaster(Exception):
    """Nothing answers on the socket."""


class NotAllowed(Exception):
    """The socket is there, but this user may not connect to it."""


class SocketNameTooLong(OSError):
    """The socket's file name alone is past what AF_UNIX can reach, even through a folder fd:
    a configuration mistake (`check` rejects it), said in one line, never a traceback."""


class ClientError(Exception):
    """The master answered with an error."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


def unix_address(path: str) -> tuple[str, int | None]:
    """An address `bind`/`connect` accept for `path`, even past the kernel's 107-byte limit:
    `/proc/self/fd/N/NAME` through an O_PATH descriptor of the socket's folder. Returns the
    address and that descriptor (None for a short path); close it after the bind or connect."""
    if len(os.fsencode(path)) <= MAX_SUN_PATH:
        return path, None
    folder, name = os.path.split(path)
    fd = os.open(folder or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    address = f"/proc/self/fd/{fd}/{name}"
    if len(os.fsencode(address)) > MAX_SUN_PATH:
        os.close(fd)
        raise SocketNameTooLong(
            f"socket file name {name!r} is too long for AF_UNIX (at most 80 bytes); set a short "
            'one in [procsup], like socket = "run/procsup.sock" (`procsup check` says so too)'
        )
    return address, fd


def live_master_pid(state_dir: str) -> int | None:
    """The pid of a master holding the pid lock of `state_dir`, if one is alive (its socket may
    be gone): the lock is an flock, so a lock we cannot share means a live holder."""
    import fcntl

    try:
        fd = os.open(os.path.join(state_dir, "procsup.pid"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None  # nobody holds it
    except BlockingIOError:
        text = os.read(fd, 32).decode(errors="replace").strip()
        return int(text) if text.isdigit() else -1
    except OSError:
        return None
    finally:
        os.close(fd)


class Client:
    def __init__(self, path: str, timeout: float | None = 60.0) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file: Any = None
        self._next_id = 0

    def connect(self) -> Client:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            self._connect(sock)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(self.timeout)
        self._sock = sock
        self._file = sock.makefile("rb")
        return self

    def _connect(self, sock: socket.socket) -> None:
        try:
            address, fd = unix_address(self.path)
        except FileNotFoundError as exc:
            raise NoMaster(f"no procsup master at {self.path} ({exc.strerror})") from None
        try:
            _connect_retrying(sock, address)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise NoMaster(f"no procsup master at {self.path} ({exc.strerror})") from None
        except PermissionError:
            raise NotAllowed(_not_allowed(self.path)) from None
        except (TimeoutError, BlockingIOError):
            raise ClientError(
                "busy", f"master busy: it accepted no connection within {CONNECT_TIMEOUT:g}s"
            ) from None
        finally:
            if fd is not None:
                os.close(fd)

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
        try:
            self._sock.sendall(json.dumps(req).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            # the master refused the connection (busy, forbidden) and closed it; its reply
            # is already waiting to be read
            _result(self._read())
            raise NoMaster("the master closed the connection") from None
        return self._next_id

    def _read(self) -> dict[str, Any]:
        try:
            line = self._file.readline()
        except TimeoutError:
            raise ClientError(
                "timeout", f"the master at {self.path} did not answer within {self.timeout:g}s"
            ) from None
        except ConnectionResetError:
            line = b""
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


def _connect_retrying(sock: socket.socket, address: str) -> None:
    """connect(), waiting up to CONNECT_TIMEOUT while the master's accept queue is full (a
    unix socket with a timeout fails at once with EAGAIN then, instead of waiting)."""
    import time

    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        try:
            sock.connect(address)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _not_allowed(path: str) -> str:
    import grp
    import pwd

    st = None
    for candidate in (path, os.path.dirname(path) or "."):  # the folder when the file is hidden
        try:
            st = os.stat(candidate)
            break
        except OSError:
            continue
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name if st else "another user"
    except KeyError:
        owner = "another user"
    head = f"permission denied on {path}: this socket belongs to {owner}'s master; "
    if st is not None and st.st_mode & 0o070 and st.st_gid != 0:
        try:
            group = grp.getgrgid(st.st_gid).gr_name
        except KeyError:
            group = str(st.st_gid)
        return head + (
            f"it is shared with group {group}: add yourself to {group} (or run as {owner})"
        )
    return head + (
        'to share it, set socket_mode = "0660" and socket_group = "GROUP" in [procsup] and add '
        "yourself to GROUP (or run as that user)"
    )


def _result(msg: dict[str, Any]) -> Any:
    if msg.get("ok"):
        return msg.get("result")
    err = msg.get("error") or {}
    raise ClientError(
        err.get("code", "error"), err.get("message", "unknown error"), err.get("details")
    )
