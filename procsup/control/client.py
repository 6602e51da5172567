"""The one client of the control socket: a blocking face (`Client`, for the CLI and scripts)
and an asyncio face (`AsyncClient` in asyncclient.py, for the TUI), sharing the framing of
protocol.py, the reply unpacking, one error hierarchy (rooted at protocol.ProtocolError) and
the `hello` version check.

Only the stdlib, and asyncio only when the asyncio face is used: `procsup list` must start fast.
Every blocking wait has a deadline: connecting takes at most CONNECT_TIMEOUT, and a reply at most
the client's timeout, so a stuck or busy master gives a one-line error, never a hang.
"""

from __future__ import annotations

import _socket
import os

from procsup.control.protocol import (
    BUSY,
    FAILED,
    FORBIDDEN,
    PROTOCOL_VERSION,
    TIMEOUT,
    ProtocolError,
    encode,
)
from procsup.core.fastjson import loads

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

CONNECT_TIMEOUT = 5.0
NO_MASTER = "no_master"  # the code of NoMaster: not a reply of the master's, so not in protocol.py
STREAM_LIMIT = 64 * 1024 * 1024  # asyncio face: an events snapshot of many instances is one line
#: sun_path holds 108 bytes with the terminating NUL; longer paths go through a directory fd
MAX_SUN_PATH = 107
#: bytes asked of the socket per read: a `list` reply of 2,000 instances is about a megabyte
RECV_SIZE = 256 * 1024


class NoMaster(ProtocolError):
    """Nothing answers on the socket, or the master closed the connection."""

    def __init__(self, message: str) -> None:
        super().__init__(NO_MASTER, message)


class NotAllowed(ProtocolError):
    """The socket is there, but this user may not connect to it."""

    def __init__(self, message: str) -> None:
        super().__init__(FORBIDDEN, message)


class SocketNameTooLong(OSError):
    """The socket's file name alone is past what AF_UNIX can reach, even through a folder fd:
    a configuration mistake (`check` rejects it), said in one line, never a traceback."""


class ClientError(ProtocolError):
    """The master answered with an error (or did not answer in time): `code` is the protocol's
    error code (docs/protocol.md, "Error codes")."""


class VersionMismatch(ClientError):
    """The master speaks another protocol version than this client (its `hello` says so)."""


def check_hello(info: Any, path: str) -> Any:
    """`hello`'s result, once its protocol version is known to be ours (docs/protocol.md: call
    `hello` first and check `protocol`); VersionMismatch otherwise, in one line."""
    theirs = info.get("protocol") if isinstance(info, dict) else None
    if theirs != PROTOCOL_VERSION:
        version = info.get("version", "?") if isinstance(info, dict) else "?"
        raise VersionMismatch(
            "protocol",
            f"the master at {path} speaks protocol {theirs} (procsup {version}), this client "
            f"protocol {PROTOCOL_VERSION}; use the procsup that started it, or restart the master",
        )
    return info


def request_line(req_id: int, cmd: str, args: dict[str, Any] | None) -> bytes:
    return encode({"id": req_id, "cmd": cmd, "args": args or {}})


def reply_of(line: bytes) -> dict[str, Any]:
    """One line from the master as a reply object; NoMaster when it is not one (a broken
    master is no master to talk to)."""
    if not line:
        raise NoMaster("the master closed the connection")
    try:
        msg = loads(line)
    except ValueError:
        raise NoMaster("the master sent a line that is not JSON") from None
    if not isinstance(msg, dict):
        raise NoMaster("the master sent a line that is not a JSON object")
    return msg


def result_of(msg: dict[str, Any]) -> Any:
    """The result of a reply; ClientError with the master's code for an error reply."""
    if msg.get("ok"):
        return msg.get("result")
    err = msg.get("error") or {}
    raise ClientError(
        str(err.get("code", FAILED)), str(err.get("message", "unknown error")), err.get("details")
    )


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
    """The blocking face: one connection, requests answered in order. `connect()` checks the
    master's protocol version with `hello` first (`check=False` skips it: `hello` itself)."""

    def __init__(self, path: str, timeout: float | None = 60.0, check: bool = True) -> None:
        self.path = path
        self.timeout = timeout
        self.check = check
        self.master: dict[str, Any] | None = None  # hello's result, once checked
        # the C socket type: the `socket` module (and the `selectors` it loads) would cost
        # every CLI call ~2.5 ms to import, and the blocking face needs none of it
        self._sock: _socket.socket | None = None
        self._buf = b""  # what the master sent past the last full line
        self._next_id = 0

    def connect(self) -> Client:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            self._connect(sock)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(self.timeout)
        self._sock = sock
        self._buf = b""
        if self.check:
            try:
                self.master = check_hello(self.call("hello"), self.path)
            except BaseException:
                self.close()
                raise
        return self

    def _connect(self, sock: _socket.socket) -> None:
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
                BUSY, f"master busy: it accepted no connection within {CONNECT_TIMEOUT:g}s"
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
        if self._sock is not None:
            self._sock.close()
        self._sock = None

    def __enter__(self) -> Client:
        return self.connect() if self._sock is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, cmd: str, args: dict[str, Any] | None) -> int:
        if self._sock is None:
            self.connect()
        assert self._sock is not None
        self._next_id += 1
        try:
            self._sock.sendall(request_line(self._next_id, cmd, args))
        except (BrokenPipeError, ConnectionResetError):
            # the master refused the connection (busy, forbidden) and closed it; its reply
            # is already waiting to be read
            result_of(self._read())
            raise NoMaster("the master closed the connection") from None
        return self._next_id

    def _read(self) -> dict[str, Any]:
        try:
            line = self._readline()
        except TimeoutError:
            raise ClientError(
                TIMEOUT, f"the master at {self.path} did not answer within {self.timeout:g}s"
            ) from None
        except ConnectionResetError:
            line = b""
        return reply_of(line)

    def _readline(self) -> bytes:
        """The next line from the master, with its newline; what came before the end of the
        stream when it closes (b"" when nothing did)."""
        buf = self._buf
        end = buf.find(b"\n")
        if end >= 0:
            self._buf = buf[end + 1 :]
            return buf[: end + 1]
        assert self._sock is not None
        chunks = [buf]
        while True:
            chunk = self._sock.recv(RECV_SIZE)
            if not chunk:
                self._buf = b""
                return b"".join(chunks)
            end = chunk.find(b"\n")
            if end >= 0:
                chunks.append(chunk[: end + 1])
                self._buf = chunk[end + 1 :]
                return b"".join(chunks)
            chunks.append(chunk)

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """Send one request and return its result; raises ClientError on an error reply."""
        self._send(cmd, args)
        return result_of(self._read())

    def stream(self, cmd: str, args: dict[str, Any] | None = None) -> Iterator[Any]:
        """Yield the items of a streaming reply until the master ends it."""
        self._send(cmd, args)
        while True:
            msg = self._read()
            if "item" in msg:
                yield msg["item"]
                continue
            result_of(msg)
            return


def _connect_retrying(sock: _socket.socket, address: str) -> None:
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
