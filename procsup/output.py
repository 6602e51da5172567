"""Where a child's output goes: rotating log files, the in-memory ring `logs` and the TUI read,
and the readers draining its pipes. Shared by program instances and task runs, so both write
their output the same way."""

from __future__ import annotations

import time

from procsup.logs import LogChunk, LogFile, LogRing, OutputReader, stamp_lines
from procsup.process import Child

#: the stream name of procsup's own marked lines in the output ring (see `mark`)
MARK_STREAM = "procsup"


class Output:
    """The output of one instance or one task (all its runs go to the same files)."""

    def __init__(
        self,
        name: str,
        stdout_log: str,
        stderr_log: str | None,
        max_size: int,
        backups: int,
        timestamps: bool = False,
    ) -> None:
        self.ring = LogRing(name)
        self.timestamps = timestamps
        self._files = {"stdout": LogFile(stdout_log, max_size, backups)}
        if stderr_log is not None:  # None: stderr is merged into stdout
            self._files["stderr"] = LogFile(stderr_log, max_size, backups)
        self._readers: list[OutputReader] = []

    def attach(self, child: Child) -> None:
        """Start draining a new child's pipes (readers of earlier children finish on their own)."""
        for f in self._files.values():
            f.open()
        self._readers = [r for r in self._readers if r.fd >= 0]
        self._readers.append(OutputReader(child.stdout_fd, "stdout", self.emit))
        if child.stderr_fd is not None:
            self._readers.append(OutputReader(child.stderr_fd, "stderr", self.emit))

    def drain(self) -> None:
        """Read what the exited child left in its pipes, so no last line is lost."""
        for reader in self._readers:
            reader.drain()

    def emit(self, stream: str, data: bytes) -> None:
        now = time.time()
        if self.timestamps:
            data = stamp_lines(data, now)
        self._files.get(stream, self._files["stdout"]).write(data)
        self.ring.append(LogChunk(now, stream, data))

    def note(self, text: str) -> None:
        """A line from procsup itself (a spawn error, a lost lock), on stderr with the rest."""
        self.emit("stderr", f"procsup: {text}\n".encode())

    def mark(self, text: str) -> None:
        """A line from procsup about the process (why it exited, what happens next): shown
        between its output by `logs` and `logs -f`, never written into its log files."""
        self.ring.append(LogChunk(time.time(), MARK_STREAM, f"{text}\n".encode()))

    def paths(self) -> dict[str, str]:
        return {stream: f.path for stream, f in self._files.items()}

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        for f in self._files.values():
            f.close()
