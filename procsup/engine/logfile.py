"""Log files: one writer per file, shared by every instance, program or task naming it.

A LogFile owns the descriptor, the size count and the rotation of one file, so eight instances
sending their output to one `stdout_log` make one file of whole lines, rotated once at the size
limit. It never lets a failure escape to the program: a file that cannot be opened (refused by
`safefs`, a missing permission) or written (a full disk) drops the output and counts it, says so
once in the master's log and to its listeners, retries by itself, and says so again when writing
works. A file deleted or moved away (by a person or logrotate) is noticed within CHECK_EVERY
seconds and created anew, so its space is freed. A file nobody writes to is closed.

The bytes in the file are exactly the bytes written, with one exception: when a writer's output
ends mid-line and a different writer (another instance, a later run, a procsup note) writes next,
a newline ends the unfinished line first, so lines from different writers never mix.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable

from procsup.core.schema import LogFileStatus
from procsup.engine import safefs

log = logging.getLogger(__name__)

CHECK_EVERY = 1.0  # seconds between checks that an open file is still where it was
RETRY_EVERY = 1.0  # seconds between attempts to open a file that failed to open
LONG_LINE = 64 * 1024  # rotation waits for a line's end, unless the line is longer than this
LOST = object()  # the file ends mid-line and nobody may continue that line


class LogFile:
    """One append-only log file with size rotation (`name`, `name.1` … `name.N`)."""

    # slots: 4,000 of these at 2,000 instances, ~90 bytes each less than with a dict (issue 14)
    __slots__ = (
        "_active",
        "_dir",
        "_dir_fd",
        "_failed",
        "_fd",
        "_ident",
        "_name",
        "_next_check",
        "_open_failed",
        "_retry_at",
        "_rotate_at",
        "_rotate_error",
        "_size",
        "_tail",
        "backups",
        "dropped",
        "error",
        "listeners",
        "max_size",
        "path",
        "refs",
    )

    def __init__(self, path: str, max_size: int, backups: int) -> None:
        self.path = os.path.abspath(path)
        self.max_size = max_size
        self.backups = backups
        self.error: str | None = None  # why output is being dropped right now
        self.dropped = 0  # bytes dropped since the master started
        self.listeners: list[Callable[[LogFile], None]] = []  # told when `error` changes
        self.refs = 0
        folder, name = os.path.split(self.path)
        # interned: every file of a log folder shares one string for it, and the registry's
        # key holds the same name (issue 14: 4,000 copies of each at 2,000 instances)
        self._dir, self._name = sys.intern(folder), sys.intern(name)
        self._fd: int | None = None
        self._dir_fd: int | None = None
        # (st_dev, st_ino) of the last file we had open: not its stat_result, ~600 bytes a
        # file kept for two fields (issue 14: 4,000 of them at 2,000 instances)
        self._ident: tuple[int, int] | None = None
        self._size = 0
        self._tail: object | None = None  # the writer whose unfinished line ends the file
        self._active = 0
        self._next_check = 0.0
        self._retry_at = 0.0
        self._failed = (0, 0)  # (bytes, writes) dropped in the current error episode
        self._open_failed = False
        self._rotate_at = 0.0  # after a failed rotation, when to try again
        self._rotate_error: str | None = None

    # --- writers ----------------------------------------------------------------------------

    def begin(self) -> None:
        """A writer (a child's pipe) starts: open the file now, so a problem shows at once."""
        self._active += 1
        self._retry_at = 0.0
        self._ensure_open()

    def end(self) -> None:
        """A writer finished; the last one closes the file (a stopped program holds no file,
        so deleting its logs frees their space)."""
        self._active = max(0, self._active - 1)
        if self._active == 0:
            self._close()

    def write(self, data: bytes | memoryview, source: object) -> None:
        """Append `data` from `source` (one pipe of one run, or a note writer)."""
        if not data:
            return
        if self._tail is not None and self._tail is not source and self._append(b"\n"):
            self._tail = None  # another writer's unfinished line ends here
        while data and self._over(len(data)):
            head = self._fitting(data)  # fill the file up to the limit with whole lines
            if head:
                self._put(head, source)
                data = data[len(head) :]
            elif not self._size:
                break  # one line longer than the limit goes whole into a file of its own
            if not self._rotate():
                break
        self._put(data, source)
        if self._active == 0:
            self._close()

    def _put(self, data: bytes | memoryview, source: object) -> None:
        if data and self._append(data):
            self._tail = None if _ends_line(data) else source

    def close(self) -> None:
        self._active = 0
        self._close()

    # --- opening and checking ---------------------------------------------------------------

    def _ensure_open(self) -> int | None:
        now = time.monotonic()
        if self._fd is not None and now >= self._next_check:
            self._next_check = now + CHECK_EVERY
            if not self._still_there():
                log.info("log %s was deleted or moved away; creating it anew", self.path)
                self._close()
        if self._fd is None and now >= self._retry_at:
            try:
                self._open()
            except OSError as exc:
                self._retry_at = now + RETRY_EVERY
                self._open_failed = True
                self._set_error(_reason("cannot open", exc))
            else:
                if self._open_failed:
                    self._open_failed = False
                    self._recovered()
        return self._fd

    def _open(self) -> None:
        dir_fd = safefs.open_dir(self._dir)
        try:
            fd = safefs.open_log(dir_fd, self._name)
        except BaseException:
            os.close(dir_fd)
            raise
        st = os.fstat(fd)
        self._fd, self._dir_fd, self._size = fd, dir_fd, st.st_size
        self._next_check = time.monotonic() + CHECK_EVERY
        ident = (st.st_dev, st.st_ino)
        if ident != self._ident or not self._size:
            self._tail = LOST if self._size and os.pread(fd, 1, self._size - 1) != b"\n" else None
        self._ident = ident

    def _still_there(self) -> bool:
        """Still linked, under its name, in the folder its path names now."""
        assert self._fd is not None and self._dir_fd is not None and self._ident is not None
        try:
            st = os.fstat(self._fd)
            if st.st_nlink == 0:
                return False
            self._size = st.st_size  # it may have been emptied (logrotate's copytruncate)
            folder, now = os.fstat(self._dir_fd), os.stat(self._dir)
        except OSError:
            return False
        if (folder.st_dev, folder.st_ino) != (now.st_dev, now.st_ino):
            return False
        return safefs.same_file(self._dir_fd, self._name, self._ident)

    def _close(self) -> None:
        for fd in (self._fd, self._dir_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._dir_fd = None

    # --- writing ----------------------------------------------------------------------------

    def _append(self, data: bytes | memoryview) -> bool:
        """Write all of `data`, or drop (and count) what could not be written."""
        fd = self._ensure_open()
        if fd is None:
            self._drop(len(data), _ends_line(data))
            return False
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            self._size += len(data) - len(view)
            self._drop(len(view), len(view) == len(data) and _ends_line(data))
            self._set_error(_reason("write failed", exc))
            self._next_check = 0.0  # a failure may mean the file is gone: check on the next write
            return False
        self._size += len(data)
        if self.error is not None:
            self._recovered()
        return True

    def _over(self, incoming: int) -> bool:
        """Rotate before this write? Only at a line's end, unless the line is very long."""
        if not self.max_size or self._size + incoming <= self.max_size:
            return False
        if time.monotonic() < self._rotate_at:
            return False
        return self._tail is None or self._size >= self.max_size + LONG_LINE

    def _fitting(self, data: bytes | memoryview) -> bytes | memoryview:
        """The whole lines at the start of `data` that fit under the size limit."""
        room = self.max_size - self._size
        if room <= 0:
            return b""
        return data[: bytes(data[:room]).rfind(b"\n") + 1]

    def _rotate(self) -> bool:
        """Start a new file; True when an empty one is open."""
        if self._ensure_open() is None:
            return False
        assert self._fd is not None and self._dir_fd is not None and self._ident is not None
        try:
            if self.backups <= 0:
                os.ftruncate(self._fd, 0)  # our checked descriptor, never the path
                self._size = 0
                return True
            if safefs.same_file(self._dir_fd, self._name, self._ident):
                safefs.shift_backups(self._dir_fd, self._name, self.backups)
                os.rename(
                    self._name, f"{self._name}.1", src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd
                )
        except OSError as exc:
            self._rotate_failed(_reason("cannot rotate", exc))
            return False
        self._rotate_error = None
        self._close()
        self._tail = None
        return self._ensure_open() is not None and self._size == 0

    # --- reporting --------------------------------------------------------------------------

    def _rotate_failed(self, reason: str) -> None:
        """Writing goes on into the current file; rotation is tried again a little later."""
        self._rotate_at = time.monotonic() + RETRY_EVERY
        if reason != self._rotate_error:
            log.error("log %s: %s; it keeps growing until rotation works", self.path, reason)
            self._rotate_error = reason

    def _drop(self, n: int, ends_line: bool) -> None:
        """Count `n` dropped bytes; unless they were whole lines, the file now ends mid-line."""
        self.dropped += n
        dropped, writes = self._failed
        self._failed = (dropped + n, writes + 1)
        if self._tail is not None or not ends_line:
            self._tail = LOST

    def _set_error(self, reason: str) -> None:
        if reason == self.error:
            return
        log.error("log %s: %s; output is dropped (and counted) until it works", self.path, reason)
        self.error = reason
        self._notify()

    def _recovered(self) -> None:
        dropped, writes = self._failed
        log.warning(
            "log %s: writing again; %d bytes in %d writes were dropped (%s)",
            self.path,
            dropped,
            writes,
            self.error,
        )
        self.error = None
        self._failed = (0, 0)
        self._notify()

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener(self)

    def status(self) -> LogFileStatus:
        return {"path": self.path, "error": self.error, "dropped": self.dropped}


def _ends_line(data: bytes | memoryview) -> bool:
    return data[-1:] == b"\n"


def _reason(what: str, exc: OSError) -> str:
    if isinstance(exc, safefs.Refused):
        return f"refused: {exc.strerror}"
    detail = exc.strerror or str(exc)
    return f"{what}: {detail}" + (f": {exc.filename}" if exc.filename else "")
