"""The local overlap lock of a task: an flock on a file in state_dir that the run inherits.

The master takes the lock and hands the descriptor to the run's process. It keeps its own copy
until the run and its leftovers are gone (taskrun.py closes it), so a run that closes inherited
descriptors is still covered; if the master is killed with `kill -9`, the kernel drops that copy
and the run's inherited one keeps the lock until the run's last process exits. There is no expiry
to guess and no stale lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class LocalLock:
    """One task's lock file; made once per task (a path built per fire costs more than the
    flock: issue 14, many tasks due at the same second)."""

    def __init__(self, state_dir: Path, task: str) -> None:
        self.path = state_dir / "locks" / f"{task}.lock"
        self._file = str(self.path)

    def acquire(self) -> int | None:
        """A descriptor holding the lock (the run inherits it), or None while a run holds it.
        Raises OSError when the lock file cannot be made or locked."""
        try:
            fd = os.open(self._file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:  # the first lock in this state_dir: make its folder
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError:
            os.close(fd)
            raise
        return fd
