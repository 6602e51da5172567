"""Where a child's output goes: rotating log files, the in-memory ring `logs` and the TUI read,
and the readers draining its pipes. Shared by program instances and task runs, so both write
their output the same way."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from procsup.core.schema import LogStatus
from procsup.engine.logfile import LogFile
from procsup.engine.logregistry import LOG_FILES, LogFiles
from procsup.engine.logs import (
    RING_BYTES,
    LogChunk,
    LogRing,
    OutputReader,
    ring_pieces,
    stamp_lines,
)
from procsup.engine.process import Child

#: the stream name of procsup's own marked lines in the output ring (see `mark`)
MARK_STREAM = "procsup"


class Output:
    """The output of one instance or one task (all its runs go to the same files).

    Its files come from a `LogFiles` registry, so outputs naming the same file share its writer.
    """

    # slots, two file fields instead of a dict, a tuple of unique files: ~0.4 KB less an
    # instance at 2,000 instances (issue 14)
    __slots__ = (
        "_closed",
        "_listener",
        "_note_source",
        "_readers",
        "_registry",
        "_stderr",
        "_stdout",
        "_unique",
        "on_data",
        "ring",
        "timestamps",
    )

    def __init__(
        self,
        name: str,
        stdout_log: str,
        stderr_log: str | None,
        max_size: int,
        backups: int,
        timestamps: bool = False,
        files: LogFiles = LOG_FILES,
    ) -> None:
        self.ring = LogRing(name)
        self.timestamps = timestamps
        self._registry = files
        self._stdout = files.acquire(stdout_log, max_size, backups)
        # None: stderr is merged into stdout
        self._stderr = None if stderr_log is None else files.acquire(stderr_log, max_size, backups)
        #: each file once (stdout and stderr may share one); fixed for the Output's life
        self._unique: tuple[LogFile, ...] = (self._stdout,)
        if self._stderr is not None and self._stderr is not self._stdout:
            self._unique += (self._stderr,)
        self._listener = self._on_file_status  # one bound method, removed as it was added
        for f in self._unique:
            f.listeners.append(self._listener)
        self._readers: list[OutputReader] = []
        self._note_source = object()
        self._closed = False
        #: called on every chunk a child writes (not on notes): `max_silence` listens here
        self.on_data: Callable[[], None] | None = None

    def attach(self, child: Child) -> None:
        """Start draining a new child's pipes (readers of earlier children finish on their own)."""
        self._readers = [r for r in self._readers if r.fd >= 0]
        self._readers.append(self._reader(child.stdout_fd, "stdout"))
        if child.stderr_fd is not None:
            self._readers.append(self._reader(child.stderr_fd, "stderr"))

    def _reader(self, fd: int, stream: str) -> OutputReader:
        """A reader of one pipe: one writer of its file, its own source of unfinished lines."""
        f = self._file(stream)
        f.begin()
        return OutputReader(fd, stream, _Writer(self, f))

    def drain(self) -> None:
        """Read what the exited child left in its pipes, so no last line is lost."""
        for reader in self._readers:
            reader.drain()

    def emit(self, stream: str, data: bytes) -> None:
        self._emit(stream, data, self._note_source)

    def _emit(self, stream: str, data: bytes | memoryview, source: object) -> None:
        if self.on_data is not None and source is not self._note_source:
            self.on_data()
        now = time.time()
        if self.timestamps:
            data = stamp_lines(bytes(data), now)
        self._file(stream).write(data, source)
        for piece in self._for_ring(data):
            self.ring.append(LogChunk(now, stream, piece))

    def _for_ring(self, data: bytes | memoryview) -> list[bytes]:
        """What the ring keeps of a chunk, in pieces of at most CHUNK_BYTES (followers share
        them, and one stuck in the middle of a piece pins only that). The ring holds only the
        last RING_BYTES anyway, so of a big chunk only its last whole lines are copied out,
        unless someone follows (they get every line)."""
        if self.ring.followers or len(data) <= RING_BYTES:
            return ring_pieces(data)
        tail = bytes(data[-RING_BYTES:])
        return ring_pieces(tail[tail.find(b"\n") + 1 :] or tail)

    def _file(self, stream: str) -> LogFile:
        if stream == "stderr" and self._stderr is not None:
            return self._stderr
        return self._stdout

    def note(self, text: str) -> None:
        """A line from procsup itself (a spawn error, a lost lock), on stderr with the rest."""
        self.emit("stderr", f"procsup: {text}\n".encode())

    def mark(self, text: str) -> None:
        """A line from procsup about the process (why it exited, what happens next): shown
        between its output by `logs` and `logs -f`, never written into its log files."""
        self.ring.append(LogChunk(time.time(), MARK_STREAM, f"{text}\n".encode()))

    def _on_file_status(self, f: LogFile) -> None:
        """A file stopped or started taking output: say so where `logs` looks (not in the file,
        which may be the very thing that fails)."""
        if f.error is not None:
            text = f"log {f.path}: {f.error}; output is dropped from the file until it works"
        else:
            text = f"log {f.path}: writing again ({f.dropped} bytes dropped in all)"
        self.ring.append(LogChunk(time.time(), "stderr", f"procsup: {text}\n".encode()))

    def log_status(self) -> LogStatus:
        """For the instance row: the first file problem, and bytes dropped from its files."""
        error, dropped = None, 0
        for f in self._unique:  # a loop, not comprehensions: `list` builds 2,000 of these
            if error is None and f.error is not None:
                error = f"{os.path.basename(f.path)} {f.error}"
            dropped += f.dropped
        return {"log_error": error, "log_dropped": dropped}

    def paths(self) -> dict[str, str]:
        if self._stderr is None:
            return {"stdout": self._stdout.path}
        return {"stdout": self._stdout.path, "stderr": self._stderr.path}

    def close(self) -> None:
        """Stop the readers and give the files back (idempotent)."""
        for reader in self._readers:
            reader.close()
        self._readers = []
        if self._closed:
            return
        self._closed = True
        for f in self._unique:
            f.listeners.remove(self._listener)
        self._registry.release(self._stdout)
        if self._stderr is not None:
            self._registry.release(self._stderr)


class _Writer:
    """One pipe's writer into its file: the reader's sink (logs.Sink), and the source its
    unfinished lines are told apart by. A small object rather than closures or bound methods
    per reader (~1.2 KB an instance at 2,000 instances, issue 14)."""

    __slots__ = ("file", "output")

    def __init__(self, output: Output, file: LogFile) -> None:
        self.output = output
        self.file = file

    def __call__(self, stream: str, data: bytes | memoryview) -> None:
        self.output._emit(stream, data, self)

    def end(self) -> None:
        """The pipe is done: the file closes once its last writer ends."""
        self.file.end()

    def may_flush(self) -> bool:
        """An unfinished line goes on after a pause only where it stays byte-exact: a file with
        one writer (the line's continuation then follows it), and no time stamps."""
        return self.file.refs <= 1 and not self.output.timestamps
