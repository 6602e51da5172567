"""Small kernel files read again and again through a descriptor kept open: `pread` from the start.

`list` with stats reads per instance its leaf's `cpu.stat` (and `memory.current` and
`memory.stat` where that controller is on) or its process's `/proc/PID/statm`. Opening and
closing each file was most of that cost at 2,000 instances (~5 µs of ~7.5 µs per instance, two
files, measured; issue 14): a `pread` at offset 0 on a held descriptor makes the kernel produce
the file afresh, without the path walk and the open.

What it costs: one descriptor per held file (core/fds.py counts them in `check`'s estimate:
HELD_PER_INSTANCE), taken only while the open descriptors fill less than seven eighths of
the room under the limit (engine/fdlimit.py, Budget.spare: spawns need theirs; past it a file
is opened for each read as before; a spawn that finds the room short all the same has every
held descriptor closed first, and nothing is held after that), and a page of
kernel memory per file once read. A `/proc/PID/statm` descriptor stays bound to its process (a
reused pid is another process, which gets a descriptor of its own): once the process is gone
its read fails, and the descriptor is dropped. A cgroup's descriptors are closed before the
cgroup is removed (Cgroup.remove), so no removed cgroup is kept alive by them.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Hashable

from procsup.engine import fdlimit

#: every HeldFiles alive, so a spawn short of descriptors can have them all closed
_ALL: weakref.WeakSet[HeldFiles] = weakref.WeakSet()


def release_all() -> None:
    """Close every held descriptor (fdlimit.Budget calls it before it refuses a spawn)."""
    for held in list(_ALL):
        held.close()


class HeldFiles:
    """Descriptors held for reading, each under a key; at most `limit` of them."""

    __slots__ = ("__weakref__", "_fds", "limit")

    def __init__(self, limit: int) -> None:
        self._fds: dict[Hashable, int] = {}
        self.limit = limit
        _ALL.add(self)

    def read(self, key: Hashable, opener: Callable[[], int], size: int = 4096) -> bytes:
        """The file's content (up to `size` bytes) through its held descriptor; the first time
        through `opener` (which returns a new read-only descriptor, or raises OSError: passed
        on). A read that fails (the process or the cgroup is gone) drops the descriptor and
        raises, so the next read opens the file anew."""
        fd = self._fds.get(key)
        if fd is None:
            fd = opener()
            if not self._hold(key, fd):  # no room: this read alone, as without holding
                try:
                    return os.read(fd, size)
                finally:
                    os.close(fd)
        try:
            return os.pread(fd, size, 0)
        except OSError:
            self.drop(key)
            raise

    def _hold(self, key: Hashable, fd: int) -> bool:
        if len(self._fds) >= self.limit or not fdlimit.BUDGET.spare():
            return False
        self._fds[key] = fd
        return True

    def keep_only(self, keys: Callable[[Hashable], bool]) -> None:
        """Close the descriptors whose key `keys` refuses (members that left)."""
        for key in [k for k in self._fds if not keys(k)]:
            self.drop(key)

    def drop(self, key: Hashable) -> None:
        fd = self._fds.pop(key, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        fds, self._fds = self._fds, {}
        for fd in fds.values():
            os.close(fd)

    def __len__(self) -> int:
        return len(self._fds)

    def __del__(self) -> None:  # a cgroup dropped without remove(): never leak a descriptor
        self.close()


fdlimit.BUDGET.releasers.append(release_all)
