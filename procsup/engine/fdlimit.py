"""File descriptors: raise the soft limit, estimate what a config needs, and keep a reserve.

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
from collections.abc import Iterable
from dataclasses import dataclass

#: descriptors the master keeps for itself beyond its instances: stdio, the event loop and its
#: signal pipe, the listening socket, the pid lock, the history database (with WAL and shm)
MASTER_BASE = 24
#: kept free for control connections, state writes, /proc reads and pidfds while stopping
RESERVE = 64
#: a spawn holds two pipes, Popen's error pipe and the two log files it may open
SPAWN_FDS = 8
#: a count of open descriptors is trusted this long (spawns in between are added to it)
RECOUNT_AFTER = 1.0


def limits() -> tuple[int, int]:
    """(soft, hard) RLIMIT_NOFILE; an unlimited hard limit is the kernel's nr_open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = _nr_open()
    return soft, hard


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


def reserve_for(limit: int) -> int:
    """The share kept free: RESERVE, but never more than a quarter of a tiny limit."""
    return min(RESERVE, limit // 4)


@dataclass(frozen=True)
class Need:
    """An estimate of the descriptors a config needs, and how it was reached."""

    total: int
    instances: int
    per_instance: str

    def explain(self) -> str:
        return (
            f"about {self.total} ({self.instances} instance(s) × up to 4: {self.per_instance}; "
            f"{MASTER_BASE} for the master; {RESERVE} kept in reserve)"
        )


def estimate(programs: Iterable[tuple[int, bool]], tasks: Iterable[bool] = ()) -> Need:
    """Descriptors needed for programs given as (numprocs, merge_stderr) and tasks given as
    merge_stderr: per instance a pipe and a log file for stdout, and the same for stderr
    unless merged; per task its log files, its pipes, its lock and a keeper link. pidfds are
    held only while a stop waits for processes to exit: they come out of the reserve (and a
    stop polls instead when none is left), so they are not counted per instance."""
    count = MASTER_BASE + RESERVE
    instances = 0
    for numprocs, merged in programs:
        count += numprocs * (2 if merged else 4)
        instances += numprocs
    for merged in tasks:
        count += 4 if merged else 6
    return Need(count, instances, "a pipe and a log file per output stream")


def shortfall_message(need: Need, soft: int) -> str | None:
    """What to tell people when the limit is below the estimate, or None when it is enough."""
    if need.total <= soft:
        return None
    return (
        f"the open-file limit is {soft}, below the descriptors this config needs: "
        f"{need.explain()}; instances that cannot get theirs wait in BACKOFF. Raise the hard "
        "limit (LimitNOFILE= in the systemd unit, `ulimit -n` in a shell)"
    )


class Budget:
    """Says whether a spawn may take SPAWN_FDS more descriptors without eating the reserve.

    Counting /proc/self/fd costs ~0.2 ms per thousand descriptors, so a count is reused for a
    second, with the spawns since added on; near the limit it is taken afresh each time."""

    def __init__(self) -> None:
        self._known: int | None = None
        self._counted_at = 0.0
        self._spent = 0

    def ensure(self, need: int = SPAWN_FDS) -> None:
        """Raise OSError(EMFILE) when `need` more descriptors would leave less than the
        reserve free."""
        soft = limits()[0]
        room = soft - reserve_for(soft)
        stale = time.monotonic() - self._counted_at > RECOUNT_AFTER
        if self._known is None or stale or self._known + self._spent + need > room:
            self._known, self._spent = count_open(), 0
            self._counted_at = time.monotonic()
        if self._known + self._spent + need > room:
            raise OSError(
                errno.EMFILE,
                f"Too many open files (the master's limit is {soft}; "
                f"{reserve_for(soft)} are kept for the master itself)",
            )
        self._spent += need


def count_open() -> int:
    """How many descriptors this process has open (one is the listing's own, not counted)."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1
    except OSError:  # out of descriptors ourselves, or no /proc: assume the worst
        return limits()[0]


def _nr_open() -> int:
    try:
        with open("/proc/sys/fs/nr_open") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1024 * 1024


BUDGET = Budget()
