"""The log files in use, by real identity: writers naming one file share one LogFile.

Keyed by the log folder's device and inode (opened the safe way) plus the name, so two paths to
one folder (through a trusted symlink, `..`, a second spelling) meet in one writer, while a
symlink planted at a log's name can never make two programs share a file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from procsup.engine import safefs
from procsup.engine.logfile import LogFile


class LogFiles:
    """Every log file in use, by real identity (the log folder's device and inode, plus the name):
    writers naming one file through different paths share one LogFile. Reference-counted: the
    file is closed and forgotten when its last user releases it."""

    def __init__(self) -> None:
        self._files: dict[Any, LogFile] = {}
        self.on_status: Callable[[LogFile], None] | None = None  # the master publishes events
        #: one bound method for every file's listener list, not a new one per file
        self._listener = self._status

    def acquire(self, path: str, max_size: int, backups: int) -> LogFile:
        key = _identity(path)
        f = self._files.get(key)
        if f is None:
            f = self._files[key] = LogFile(path, max_size, backups)
            f.listeners.append(self._listener)
        else:  # the latest configuration of a shared file wins
            f.max_size, f.backups = max_size, backups
        f.refs += 1
        return f

    def release(self, f: LogFile) -> None:
        f.refs -= 1
        if f.refs <= 0:
            f.close()
            self._files = {k: v for k, v in self._files.items() if v is not f}

    def _status(self, f: LogFile) -> None:
        if self.on_status is not None:
            self.on_status(f)

    def __len__(self) -> int:
        return len(self._files)


def _identity(path: str) -> Any:
    """(device, inode) of the folder, opened the safe way, and the name; else the plain path.

    Not `realpath`: a symlink planted at the log's name must not make two programs share a file."""
    folder, name = os.path.split(os.path.abspath(path))
    try:
        fd = safefs.open_dir(folder)
    except OSError:
        return os.path.normpath(os.path.abspath(path))
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return (st.st_dev, st.st_ino, sys.intern(name))  # the same string as the LogFile's name


LOG_FILES = LogFiles()  # one per process: a master has one set of open logs
