"""File descriptors as the config sees them: the RLIMIT_NOFILE limits and the estimate of what a
configuration needs, with the message for people when the limit is below it. Pure and stdlib-only,
so `procsup check` and the config loader use it without the engine (engine/fdlimit.py keeps the
run-time budget every spawn goes through)."""

from __future__ import annotations

import resource
from collections.abc import Iterable
from dataclasses import dataclass

#: descriptors the master keeps for itself beyond its instances: stdio, the event loop and its
#: signal pipe, the listening socket, the pid lock, the history database (with WAL and shm)
MASTER_BASE = 24
#: kept free for control connections, state writes, /proc reads and pidfds while stopping
RESERVE = 64
#: per instance, at most: descriptors kept open on its cgroup's files or its process's statm
#: for `list` with stats (engine/heldfiles.py), only while the limit has room for them
HELD_PER_INSTANCE = 3


def limits() -> tuple[int, int]:
    """(soft, hard) RLIMIT_NOFILE; an unlimited hard limit is the kernel's nr_open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = _nr_open()
    return soft, hard


def _nr_open() -> int:
    try:
        with open("/proc/sys/fs/nr_open") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1024 * 1024


@dataclass(frozen=True)
class Need:
    """An estimate of the descriptors a config needs, and how it was reached."""

    total: int
    instances: int
    per_instance: str

    def explain(self) -> str:
        return (
            f"about {self.total} ({self.instances} instance(s) × up to "
            f"{4 + HELD_PER_INSTANCE}: {self.per_instance}; "
            f"{MASTER_BASE} for the master; {RESERVE} kept in reserve)"
        )


def estimate(programs: Iterable[tuple[int, bool]], tasks: Iterable[bool] = ()) -> Need:
    """Descriptors needed for programs given as (numprocs, merge_stderr) and tasks given as
    merge_stderr: per instance a pipe and a log file for stdout, and the same for stderr
    unless merged, and HELD_PER_INSTANCE files `list` keeps open; per task its log files, its
    pipes, its lock and a keeper link. pidfds are held only while a stop waits for processes
    to exit: they come out of the reserve (and a stop polls instead when none is left), so
    they are not counted per instance."""
    count = MASTER_BASE + RESERVE
    instances = 0
    for numprocs, merged in programs:
        count += numprocs * ((2 if merged else 4) + HELD_PER_INSTANCE)
        instances += numprocs
    for merged in tasks:
        count += 4 if merged else 6
    return Need(
        count,
        instances,
        f"a pipe and a log file per output stream, {HELD_PER_INSTANCE} held open for `list`",
    )


def shortfall_message(need: Need, soft: int) -> str | None:
    """What to tell people when the limit is below the estimate, or None when it is enough."""
    if need.total <= soft:
        return None
    return (
        f"the open-file limit is {soft}, below the descriptors this config needs: "
        f"{need.explain()}; instances that cannot get theirs wait in BACKOFF. Raise the hard "
        "limit (LimitNOFILE= in the systemd unit, `ulimit -n` in a shell)"
    )
