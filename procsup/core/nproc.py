"""Processes as the config sees them: the RLIMIT_NPROC soft limit and the estimate of how many
processes a configuration starts, with the message for people when the limit leaves too little
headroom. Pure and stdlib-only (like core/fds.py), so `procsup check` uses it without the engine.

RLIMIT_NPROC counts every process and thread of the user, not just the master's, and a fork past
it fails with EAGAIN: an instance would sit in BACKOFF. The master does not raise this limit (it
is a per-user budget the administrator sets), so the soft limit the children inherit is the one
that counts. The kernel does not enforce it for root."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from dataclasses import dataclass

#: the master's own threads (the event loop, a resolver or executor thread) and a `procsup` CLI
MASTER_BASE = 8
#: a task run is its command plus the keeper that holds its lock
PER_TASK = 2


@dataclass(frozen=True)
class Need:
    """An estimate of the processes a config starts at once, and how it was reached."""

    total: int
    instances: int
    tasks: int

    def explain(self) -> str:
        return (
            f"at least {self.total} ({self.instances} instance(s), {self.tasks} task(s) × "
            f"{PER_TASK} while running, {MASTER_BASE} for the master)"
        )


def estimate(numprocs: Iterable[int], tasks: int) -> Need:
    """Processes needed for programs given by numprocs and `tasks` cron tasks all running at
    once. Each instance counts as one process: a program that forks workers needs more."""
    instances = sum(numprocs)
    return Need(MASTER_BASE + instances + PER_TASK * tasks, instances, tasks)


def soft_limit() -> int | None:
    """The soft RLIMIT_NPROC, or None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    return None if soft == resource.RLIM_INFINITY else soft


def user_processes(uid: int) -> int:
    """Processes and threads this uid runs now (what RLIMIT_NPROC counts), from /proc."""
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
            count += len(os.listdir(f"/proc/{name}/task"))
        except OSError:
            continue
    return count


def headroom_message(need: Need, soft: int | None, running: int, root: bool) -> str | None:
    """What to tell people when the processes the user already runs plus the config's estimate
    exceed the soft limit; None when it is enough, unlimited, or not enforced (root)."""
    if soft is None or root or running + need.total <= soft:
        return None
    return (
        f"the process limit (RLIMIT_NPROC) is {soft} and this user already runs {running} "
        f"processes/threads; this config starts {need.explain()}, so forks past the limit would "
        "fail and leave instances in BACKOFF. Raise it (LimitNPROC= in the systemd unit, "
        "`ulimit -u` in a shell, nproc in /etc/security/limits.conf)"
    )
