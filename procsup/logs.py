"""Output capture: non-blocking pipe readers → rotating log files + a small ring for followers.

Data is written at line boundaries only, so rotation never splits or duplicates a line. The master
never waits on a reader of the logs: followers get a bounded queue and are dropped when it is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

READ_SIZE = 1024 * 1024
PIPE_DEFAULT = 64 * 1024
BIG_PIPE = 1024 * 1024
MAX_PARTIAL = 64 * 1024  # a "line" longer than this is written without waiting for its newline
RING_BYTES = 64 * 1024
FOLLOWER_QUEUE = 10_000


class LogFile:
    """One append-only log file with size rotation (`name`, `name.1` … `name.N`)."""

    def __init__(self, path: str, max_size: int, backups: int) -> None:
        self.path = path
        self.max_size = max_size
        self.backups = backups
        self._fd: int | None = None
        self._size = 0

    def open(self) -> int:
        """Open (creating the file and its folder) unless already open."""
        if self._fd is None:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(
                self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
            )
            self._size = os.fstat(self._fd).st_size
        return self._fd

    def write(self, data: bytes) -> None:
        fd = self.open()
        if self.max_size and self._size and self._size + len(data) > self.max_size:
            self.rotate()
            fd = self.open()
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        self._size += len(data)

    def rotate(self) -> None:
        self.close()
        if self.backups <= 0:
            os.truncate(self.path, 0)
            return
        for n in range(self.backups - 1, 0, -1):
            older = f"{self.path}.{n}"
            if os.path.exists(older):
                os.replace(older, f"{self.path}.{n + 1}")
        os.replace(self.path, f"{self.path}.1")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass(frozen=True)
class LogChunk:
    """Whole lines from one stream, with the wall time they arrived."""

    time: float
    stream: str  # "stdout" | "stderr"
    data: bytes

    def lines(self) -> list[str]:
        """The chunk's lines, split at `\n` only: `str.splitlines` would also split at `\r`,
        `\x0b`, `\x0c`, `\x1c`-`\x1e`, `\x85`, U+2028 and U+2029, which programs write
        inside their lines (progress bars, form feeds)."""
        text = self.data.decode("utf-8", "replace")
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        return lines


class Follower:
    """A live reader of one or more rings. `dropped` is set when it fell too far behind."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, LogChunk]] = asyncio.Queue(FOLLOWER_QUEUE)
        self.dropped = False


class LogRing:
    """The last few KB of an instance's output, in arrival order, plus live followers."""

    def __init__(self, name: str, max_bytes: int = RING_BYTES) -> None:
        self.name = name
        self._chunks: deque[LogChunk] = deque()
        self._bytes = 0
        self._max = max_bytes
        self.followers: set[Follower] = set()

    def append(self, chunk: LogChunk) -> None:
        self._chunks.append(chunk)
        self._bytes += len(chunk.data)
        while self._bytes > self._max and len(self._chunks) > 1:
            self._bytes -= len(self._chunks.popleft().data)
        for follower in list(self.followers):
            try:
                follower.queue.put_nowait((self.name, chunk))
            except asyncio.QueueFull:
                follower.dropped = True  # a slow follower is dropped, never waited for
                self.followers.discard(follower)

    def chunks(self) -> list[LogChunk]:
        return list(self._chunks)

    def restore(self, chunks: list[LogChunk]) -> None:
        """Put back what an earlier master kept (before any new output arrives)."""
        for chunk in chunks:
            self.append(chunk)

    def follow(self, follower: Follower) -> None:
        self.followers.add(follower)

    def unfollow(self, follower: Follower) -> None:
        self.followers.discard(follower)


class OutputReader:
    """Reads one pipe on the event loop and hands complete lines to `sink`."""

    def __init__(
        self,
        fd: int,
        stream: str,
        sink: Callable[[str, bytes], None],
        on_eof: Callable[[], None] | None = None,
    ) -> None:
        self.fd = fd
        self.stream = stream
        self._sink = sink
        self._on_eof = on_eof
        self._partial = b""
        self._grown = False
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self.read)

    def read(self) -> bool:
        """Read one chunk if there is one; returns False when nothing more is there now."""
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self._finish()
            return False
        if len(data) >= PIPE_DEFAULT and not self._grown:
            self._grow_pipe()
        data = self._partial + data if self._partial else data
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) < MAX_PARTIAL:
            self._partial = data
            return True
        if cut == 0:
            cut = len(data)
        self._partial = data[cut:]
        self._sink(self.stream, data[:cut])
        return True

    def _grow_pipe(self) -> None:
        """A full pipe means a chatty program: give it a bigger pipe so it blocks less and we
        wake up less. Only such pipes grow, because the kernel caps the pipe memory per user
        (fs.pipe-user-pages-soft) and 500 quiet instances must not use it up."""
        self._grown = True
        with contextlib.suppress(OSError):
            fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, BIG_PIPE)

    def drain(self) -> None:
        """Read everything already in the pipe (called when the process has exited)."""
        while self.fd >= 0 and self.read():
            pass

    def _finish(self) -> None:
        if self.fd < 0:
            return
        self._loop.remove_reader(self.fd)
        os.close(self.fd)
        self.fd = -1
        if self._partial:
            self._sink(self.stream, self._partial + b"\n")
            self._partial = b""
        if self._on_eof is not None:
            self._on_eof()

    def close(self) -> None:
        self._finish()


def stamp_lines(data: bytes, now: float) -> bytes:
    """Prefix each line with an ISO-like local timestamp (`log_timestamps = true`)."""
    prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)).encode() + b" "
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join(prefix + line + b"\n" for line in lines)


def tail_file(path: str, stream: str, n: int, max_bytes: int = 256 * 1024) -> list[LogChunk]:
    """The last `n` lines of a log file as one chunk stamped with the file's mtime (used when the
    master has no output in memory yet, e.g. right after it restarted)."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - max_bytes))
            data = f.read()
            mtime = os.fstat(f.fileno()).st_mtime
    except OSError:
        return []
    lines = data.splitlines(keepends=True)
    if size > max_bytes and lines:
        lines = lines[1:]  # first one is probably cut
    tail = b"".join(lines[-n:] if n > 0 else lines)
    return [LogChunk(mtime, stream, tail)] if tail else []
