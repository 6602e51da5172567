"""Opening many small files under a few directories through a descriptor held on each one.

`list` with stats reads two or three tiny files per instance (`cpu.stat` of its cgroup leaf,
`/proc/PID/statm` of each member): at 2,000 instances, walking `/sys/fs/cgroup/…` or `/proc`
from the root on every open was about a third of each read. `openat` on a held directory
descriptor skips that walk. One descriptor per directory (the cgroup subtree, `/proc`), at most
MAX_HELD of them, opened O_PATH and close-on-exec, so children never see them.
"""

from __future__ import annotations

import os

MAX_HELD = 8
_held: dict[str, int] = {}


def open_in(directory: str, name: str) -> int:
    """A read-only, close-on-exec descriptor on `directory/name` (`name` may hold a `/`); raises
    what os.open raises. A directory removed and made again since it was held (a new inode at
    the same path) is held anew, so no file is ever missed through a stale descriptor."""
    dir_fd = _held.get(directory)
    if dir_fd is None:
        dir_fd = _hold(directory)
    try:
        return os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        if not _stale(directory, dir_fd):
            raise
        return os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=_hold(directory))


def _hold(directory: str) -> int:
    old = _held.pop(directory, None)
    if old is not None:
        os.close(old)
    if len(_held) >= MAX_HELD:  # the oldest goes: a master reads under one subtree and /proc
        os.close(_held.pop(next(iter(_held))))
    fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    _held[directory] = fd
    return fd


def _stale(directory: str, dir_fd: int) -> bool:
    """Whether `dir_fd` no longer is the directory at `directory`."""
    try:
        now = os.stat(directory)
    except OSError:
        return False  # gone altogether: the file is missing either way
    held = os.fstat(dir_fd)
    # a removed directory has no links left (a new one may get the same inode number)
    return held.st_nlink == 0 or (held.st_dev, held.st_ino) != (now.st_dev, now.st_ino)
