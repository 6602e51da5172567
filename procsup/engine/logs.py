"""Output capture: non-blocking pipe readers, and a small ring of recent output for followers.

Readers hand on whole lines (rotation in logfile.py then never splits one); a line longer than
MAX_PARTIAL, and an unfinished last line at the end of the output, go on as they are, so the log
file holds exactly the bytes written. An unfinished line (a prompt, a progress bar) held for
PARTIAL_FLUSH seconds goes on too when the reader is told it may (its file has no other writer),
so it reaches the file and `logs -f` while the program waits, as with supervisord.

The master never waits on a reader of the logs: followers get a bounded queue and are dropped
when it is full. The ring keeps output in chunks of at most CHUNK_BYTES, which every follower of
the ring shares by reference: a follower stuck in the middle of one pins that much, not a whole
megabyte read.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from procsup.engine import safefs

READ_SIZE = 1024 * 1024
PIPE_DEFAULT = 64 * 1024
BIG_PIPE = 1024 * 1024
MAX_PARTIAL = 64 * 1024  # a "line" longer than this is written without waiting for its newline
RING_BYTES = 64 * 1024
CHUNK_BYTES = 16 * 1024  # the ring's chunks (lines longer than this are cut into pieces)
PARTIAL_FLUSH = 0.5  # seconds an unfinished line is held before it goes on as it is
FOLLOWER_QUEUE = 10_000


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


#: the followers of a ring nobody follows: shared, and never changed (see LogRing.follow)
_NO_FOLLOWERS: frozenset[Follower] = frozenset()


class LogRing:
    """The last few KB of an instance's output, in arrival order, plus live followers."""

    __slots__ = ("_bytes", "_chunks", "_max", "followers", "name")

    def __init__(self, name: str, max_bytes: int = RING_BYTES) -> None:
        self.name = name
        # made with the first chunk: an empty deque is ~0.7 KB, and 2,000 quiet instances
        # held 1.4 MiB of them (issue 14)
        self._chunks: deque[LogChunk] | None = None
        self._bytes = 0
        self._max = max_bytes
        #: a set of its own from the first follower on (an empty set is ~0.2 KB, issue 14)
        self.followers: set[Follower] | frozenset[Follower] = _NO_FOLLOWERS

    def append(self, chunk: LogChunk) -> None:
        if self._chunks is None:
            self._chunks = deque()
        self._chunks.append(chunk)
        self._bytes += len(chunk.data)
        while self._bytes > self._max and len(self._chunks) > 1:
            self._bytes -= len(self._chunks.popleft().data)
        for follower in list(self.followers):
            try:
                follower.queue.put_nowait((self.name, chunk))
            except asyncio.QueueFull:
                follower.dropped = True  # a slow follower is dropped, never waited for
                self.unfollow(follower)

    def chunks(self) -> list[LogChunk]:
        return list(self._chunks or ())

    def restore(self, chunks: list[LogChunk]) -> None:
        """Put back what an earlier master kept (before any new output arrives)."""
        for chunk in chunks:
            self.append(chunk)

    def follow(self, follower: Follower) -> None:
        if isinstance(self.followers, frozenset):
            self.followers = set()
        self.followers.add(follower)

    def unfollow(self, follower: Follower) -> None:
        if isinstance(self.followers, set):
            self.followers.discard(follower)


class Sink(Protocol):
    """Where a reader's lines go: called with each piece; told when the pipe is done."""

    def __call__(self, stream: str, data: bytes | memoryview) -> None: ...

    def may_flush(self) -> bool:
        """Whether an unfinished line held for PARTIAL_FLUSH seconds may go on as it is."""
        ...

    def end(self) -> None: ...


class OutputReader:
    """Reads one pipe on the event loop and hands complete lines to `sink`.

    One object (the sink) rather than three callables: bound methods are ~64 bytes each, and
    2,000 instances have 4,000 readers (issue 14)."""

    __slots__ = (
        "_grown",
        "_loop",
        "_partial",
        "_partial_since",
        "_sink",
        "_timer",
        "fd",
        "stream",
    )

    def __init__(self, fd: int, stream: str, sink: Sink) -> None:
        self.fd = fd
        self.stream = stream
        self._sink = sink
        self._partial = b""
        self._partial_since = 0.0
        self._timer: asyncio.TimerHandle | None = None
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
        held = bool(self._partial)
        self._split(data)
        if self._partial and (not held or data.find(b"\n") >= 0):
            self._partial_since = self._loop.time()  # a new unfinished line began
        if self._partial and self._timer is None:
            self._timer = self._loop.call_later(PARTIAL_FLUSH, self._flush_partial)
        return True

    def _flush_partial(self) -> None:
        """Hand on an unfinished line held for PARTIAL_FLUSH seconds (one timer per reader,
        re-armed for the rest of the wait rather than cancelled on every read)."""
        self._timer = None
        if not self._partial or self.fd < 0:
            return
        wait = self._partial_since + PARTIAL_FLUSH - self._loop.time()
        if wait > 0.01:
            self._timer = self._loop.call_later(wait, self._flush_partial)
        elif self._sink.may_flush():
            self._sink(self.stream, self._partial)
            self._partial = b""

    def _split(self, data: bytes) -> None:
        """Hand on the whole lines of `data` without copying its bulk (a copy of every megabyte
        cost a quarter of the relay's time): the carried unfinished line with the first line
        of `data` go on as one small piece, the rest as a view of `data`."""
        start = 0
        if self._partial:
            first = data.find(b"\n") + 1
            if first == 0:
                self._partial += data
                if len(self._partial) >= MAX_PARTIAL:
                    self._sink(self.stream, self._partial)
                    self._partial = b""
                return
            self._sink(self.stream, self._partial + data[:first])
            self._partial, start = b"", first
        cut = data.rfind(b"\n") + 1
        if cut <= start:  # no newline in what is left
            rest = data[start:]
            if len(rest) < MAX_PARTIAL:
                self._partial = rest
            else:
                self._sink(self.stream, rest)
            return
        whole = start == 0 and cut == len(data)
        self._sink(self.stream, data if whole else memoryview(data)[start:cut])
        self._partial = data[cut:]

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
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._partial:  # as written: no newline is added
            self._sink(self.stream, self._partial)
            self._partial = b""
        self._sink.end()

    def close(self) -> None:
        self._finish()


def ring_pieces(data: bytes | memoryview, limit: int = CHUNK_BYTES) -> list[bytes]:
    """`data` cut into pieces of at most `limit` bytes, at the last newline within each (a
    line longer than `limit` is cut where it must be)."""
    raw = bytes(data)
    if len(raw) <= limit:
        return [raw]
    pieces = []
    start = 0
    while len(raw) - start > limit:
        cut = raw.rfind(b"\n", start, start + limit) + 1
        if cut <= start:
            cut = start + limit
        pieces.append(raw[start:cut])
        start = cut
    pieces.append(raw[start:])
    return pieces


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
        with os.fdopen(safefs.open_existing(path), "rb") as f:  # never through a symlink
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
