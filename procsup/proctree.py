"""Find every process that belongs to an instance: its tree, its process group, and descendants
that escaped both (double fork + setsid) but were re-parented to us as child subreaper.

The process table is read once per call through psutil; callers that handle many instances at once
(shutdown, `list` with metrics) pass one `ProcessTable` around instead of rescanning.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable

import psutil

from procsup.process import INSTANCE_ENV


class ProcessTable:
    """A snapshot of pid → parent pid, with children lookups."""

    def __init__(self) -> None:
        self.children: dict[int, list[int]] = defaultdict(list)
        self.pids: set[int] = set()
        for proc in psutil.process_iter(["ppid"]):
            ppid = proc.info["ppid"]
            self.pids.add(proc.pid)
            if ppid is not None:
                self.children[ppid].append(proc.pid)

    def descendants(self, pid: int) -> set[int]:
        found: set[int] = set()
        stack = [pid]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found


def environ_of(pid: int) -> dict[str, str]:
    """A process's environment, or {} when it cannot be read (gone, other user, kernel thread)."""
    try:
        return psutil.Process(pid).environ()
    except (psutil.Error, OSError):
        return {}


def escaped_descendants(table: ProcessTable, instance_id: str, leaders: Iterable[int]) -> set[int]:
    """Our direct children that are not instance leaders but carry `instance_id` in their env.

    These are daemonised grandchildren the kernel handed to us (PR_SET_CHILD_SUBREAPER).
    """
    skip = set(leaders)
    found: set[int] = set()
    for pid in table.children.get(os.getpid(), ()):
        if pid not in skip and environ_of(pid).get(INSTANCE_ENV) == instance_id:
            found.add(pid)
            found |= table.descendants(pid)
    return found


def group_members(table: ProcessTable, pgid: int) -> set[int]:
    found = set()
    for pid in table.pids:
        try:
            if os.getpgid(pid) == pgid:
                found.add(pid)
        except OSError:
            continue
    return found


def instance_tree(
    table: ProcessTable, leader: int | None, instance_id: str, leaders: Iterable[int]
) -> set[int]:
    """Every live process of one instance, the leader included when it is still running."""
    pids: set[int] = set()
    if leader is not None and leader in table.pids:
        pids.add(leader)
        pids |= table.descendants(leader)
    pids |= escaped_descendants(table, instance_id, leaders)
    pids.discard(os.getpid())
    return pids


def tree_stats(table: ProcessTable, pids: Iterable[int]) -> tuple[float, int]:
    """Summed CPU seconds (user+system) and RSS bytes of `pids`."""
    cpu, rss = 0.0, 0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                times = proc.cpu_times()
                cpu += times.user + times.system + times.children_user + times.children_system
                rss += proc.memory_info().rss
        except psutil.Error:
            continue
    return cpu, rss
