"""File descriptors: raise the soft limit and keep a reserve (what a config needs is estimated
in core/fds.py, re-exported here).

A login shell and systemd give a process a soft RLIMIT_NOFILE of 1024, and every instance costs
the master a few descriptors (its pipes and log files), so a few hundred instances would use
them all up. Running out must never be fatal: the master raises its soft limit to the hard one
at start, and every spawn first makes sure enough descriptors stay free for the master's own
work (answering `list` and `stop`, writing the state file, waiting for processes to exit). A
spawn that would eat into that reserve fails with EMFILE, and the instance waits in BACKOFF.
"""

from __future__ import annotations

import errno
import os
import resource
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

from procsup.core.fds import (
    HELD_PER_INSTANCE,
    MASTER_BASE,
    RESERVE,
    Need,
    estimate,
    limits,
    shortfall_message,
)

__all__ = [
    "BUDGET",
    "HELD_PER_INSTANCE",
    "MASTER_BASE",
    "RESERVE",
    "SPAWN_FDS",
    "Budget",
    "Need",
    "count_open",
    "estimate",
    "held_cap",
    "limits",
    "raise_soft_limit",
    "reserve_for",
    "shortfall_message",
]

#: a spawn holds two pipes, Popen's error pipe and the two log files it may open
SPAWN_FDS = 8
#: a count of open descriptors is trusted this long (spawns in between are added to it)
RECOUNT_AFTER = 1.0


def raise_soft_limit() -> tuple[int, int]:
    """Raise the soft limit to the hard one; returns (before, after). Children inherit it."""
    soft, hard = limits()
    if soft >= hard:
        return soft, soft
    try:
        raw_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, raw_hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, hard


def held_cap(limit: int) -> int:
    """How many descriptors may be open at most while more are kept for speed alone: seven
    eighths of the room under the limit. (Three quarters until issue 14's session 18: at
    2,000 instances under a limit of 20,000, the master's own ~12,000 left room for 2,400 of
    the 4,000 files `list` reads, and opening the other 1,600 each time was ~10 % of it.)"""
    return (limit - reserve_for(limit)) * 7 // 8


def reserve_for(limit: int) -> int:
    """The share kept free: RESERVE, but never more than a quarter of a tiny limit."""
    return min(RESERVE, limit // 4)


class Budget:
    """Says whether a spawn may take SPAWN_FDS more descriptors without eating the reserve.

    Counting /proc/self/fd costs ~0.2 ms per thousand descriptors (and more on a busy box: at
    2,000 instances, 8,000 descriptors, the recounts were 6 % of the start-up, issue 14), so a
    count is reused, with the spawns since added on: for a second once the estimate passes half
    the room (what else opens descriptors, control connections and pidfds, cannot close the
    other half in a second), and near the limit it is taken afresh each time."""

    def __init__(self) -> None:
        self._known: int | None = None
        self._counted_at = 0.0
        self._spent = 0
        #: who can close descriptors kept open for speed alone (engine/heldfiles.py), called
        #: before a spawn is refused: a spawn always wins over a faster `list`
        self.releasers: list[Callable[[], None]] = []
        self._short = False  # a spawn found the room short: nothing is held from then on

    def ensure(self, need: int = SPAWN_FDS) -> None:
        """Raise OSError(EMFILE) when `need` more descriptors would leave less than the
        reserve free."""
        soft = limits()[0]
        room = soft - reserve_for(soft)
        if self._known is None or self._known + self._spent + need > room or self._stale(room):
            self._known, self._spent = count_open(), 0
            self._counted_at = time.monotonic()
        if self._known + self._spent + need > room and self._release():
            self._known, self._spent = count_open(), 0
            self._counted_at = time.monotonic()
        if self._known + self._spent + need > room:
            raise OSError(
                errno.EMFILE,
                f"Too many open files (the master's limit is {soft}; "
                f"{reserve_for(soft)} are kept for the master itself)",
            )
        self._spent += need

    def _release(self) -> bool:
        """Close what is held for speed alone, and hold nothing more; True when anything
        could be released."""
        self._short = True
        for release in self.releasers:
            release()
        return bool(self.releasers)

    def spare(self, need: int = 1) -> bool:
        """Whether `need` descriptors may be kept open for speed alone (engine/heldfiles.py),
        and if so they are counted. Only below `held_cap`, so spawns always find an eighth of
        the room (~2,500 descriptors under a limit of 20,000: a spawn takes 8 for a moment, an
        instance 4 for good) free of them; and once a spawn finds the room short anyway, what
        is held is closed for it (`releasers`) and nothing is held any more.
        It counts /proc/self/fd only when nothing has yet: with 15,000 descriptors open a count
        takes 16-28 ms here, and recounting once a second put that on every `list` a person
        runs (measured, issue 14). The count the spawns keep, with everything taken since added
        and nothing closed taken off, errs on the side of holding fewer."""
        if self._short:
            return False
        cap = held_cap(limits()[0])
        if self._known is None:
            self._known, self._spent, self._counted_at = count_open(), 0, time.monotonic()
        if self._known + self._spent + need > cap:
            return False
        self._spent += need
        return True

    def _stale(self, room: int) -> bool:
        assert self._known is not None
        if self._known + self._spent <= room // 2:
            return False
        return time.monotonic() - self._counted_at > RECOUNT_AFTER


def count_open() -> int:
    """How many descriptors this process has open (one is the listing's own, not counted)."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1
    except OSError:  # out of descriptors ourselves, or no /proc: assume the worst
        return limits()[0]


BUDGET = Budget()
