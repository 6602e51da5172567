"""Removing the emptied cgroup leaves of stopped instances together, after the stop's reply.

A stopped instance's leaf is empty once its stop returns, but taking the cgroup down (`rmdir`:
the kernel offlines it and frees its files) was about a tenth of a 2,000-instance `stop all`,
paid before the master could answer (issue 14, session 19). The leaves are handed here
instead and removed once no more have come for a moment (QUIET), which is after the reply of
the stop that emptied them, or at the latest MAX_WAIT after the first one came. A leaf waiting
here holds no process and gains none: every spawn gets a leaf of its own, named after its spawn
id, so a restart right after a stop never meets the old one.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from procsup.engine.cgroups import Cgroup

QUIET = 0.05  # removed once no leaf came for this long (the reply of 2,000 rows takes ~20 ms)
MAX_WAIT = 1.0  # or once the first waited this long, whatever keeps coming
CHUNK = 256  # removals per loop turn: a request that comes meanwhile waits one chunk at most


class LeafRetirer:
    """Emptied leaves waiting for their `rmdir`, removed in chunks once the stops are done."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._leaves: list[Cgroup] = []
        self._first = 0.0  # when the first of the waiting leaves came
        self._last = 0.0  # when the latest one came
        self._handle: asyncio.Handle | None = None

    def retire(self, cg: Cgroup) -> None:
        """Remove `cg`, which holds no process any more, soon (see the module docstring). Its
        descriptors are closed now: a `restart` spawns anew at once and counts on them."""
        cg.close_files()
        now = self._loop.time()
        if not self._leaves:
            self._first = now
        self._leaves.append(cg)
        self._last = now
        if self._handle is None:
            self._handle = self._loop.call_at(now + QUIET, self._due)

    def _due(self) -> None:
        self._handle = None
        due = min(self._last + QUIET, self._first + MAX_WAIT)
        if self._loop.time() < due:  # more came since the timer was set: wait for the lull
            self._handle = self._loop.call_at(due, self._due)
            return
        self._remove(CHUNK)

    def _remove(self, count: int) -> None:
        self._handle = None
        batch, self._leaves = self._leaves[:count], self._leaves[count:]
        for cg in batch:
            cg.remove()  # logs (and keeps) a leaf that is somehow busy again
        if self._leaves:
            self._first = self._loop.time()
            self._handle = self._loop.call_soon(self._remove, CHUNK)

    def waiting(self) -> int:
        return len(self._leaves)

    def flush(self) -> None:
        """Remove every waiting leaf now (at shutdown, before the subtree goes)."""
        if self._handle is not None:
            self._handle.cancel()
        self._remove(len(self._leaves))
