"""Find every process that belongs to an instance: its tree, its process group, and descendants
that escaped both (double fork + setsid) but were re-parented to us as child subreaper.

The process table is read from /proc once per call; callers that handle many instances at once
share one read (`TableSource`, `list` with metrics) instead of rescanning.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import defaultdict
from collections.abc import Iterable

from procsup.engine.dirfds import open_in
from procsup.engine.heldfiles import HeldFiles
from procsup.engine.instenv import INSTANCE_ENV

log = logging.getLogger(__name__)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class ProcessTable:
    """A snapshot of the process table: pid → parent, for children lookups.

    Read straight from /proc/PID/stat (one read per process), which is several times cheaper
    than going through psutil; zombies are left out, they only wait to be reaped.
    """

    def __init__(self, scan: bool = True) -> None:
        self.children: dict[int, list[int]] = defaultdict(list)
        self.pids: set[int] = set()
        self.cpu: dict[int, float] = {}  # seconds: user + system, reaped children included
        self.rss: dict[int, int] = {}  # bytes
        for name in os.listdir("/proc") if scan else ():
            if name.isdigit():
                self._add(int(name))

    def _add(self, pid: int) -> None:
        try:
            fd = open_in("/proc", f"{pid}/stat")
        except OSError:
            return
        try:
            data = os.read(fd, 512)
        except OSError:
            return
        finally:
            os.close(fd)
        # fields from 3 (state) on, see proc(5): ppid 4, utime..cstime 14-17, rss 24 (pages)
        fields = data[data.rfind(b")") + 2 :].split(b" ", 23)
        if len(fields) < 23 or fields[0] == b"Z":
            return
        try:
            ppid, rss = int(fields[1]), int(fields[21]) * PAGE_SIZE
            cpu = sum(int(f) for f in fields[11:15]) / CLOCK_TICKS
        except ValueError:  # a line we do not understand is a process we skip
            return
        self.pids.add(pid)
        self.children[ppid].append(pid)
        self.cpu[pid], self.rss[pid] = cpu, rss

    def rss_of(self, pids: Iterable[int], held: HeldFiles | None = None) -> int:
        """Summed RSS bytes of `pids` (those that are gone or zombies count 0)."""
        return sum(self.rss.get(pid, 0) for pid in pids)

    def descendants(self, pid: int) -> set[int]:
        found: set[int] = set()
        stack = [pid]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found


class LazyProcessTable(ProcessTable):
    """A ProcessTable that reads /proc only when first looked at: `list` with stats under cgroup
    tracking reads each instance's cgroup files, and the RSS of its members from their own
    /proc/PID/statm (`rss_of`), so it needs no scan of every process on the host (a scan costs
    ~10 µs for each of them, thousands on a busy host, even to list ten instances)."""

    def __init__(self) -> None:  # no scan yet: the fields do not exist until first asked for
        pass

    def __getattr__(self, name: str) -> object:
        if name not in ("children", "pids", "cpu", "rss"):
            raise AttributeError(name)
        ProcessTable.__init__(self)
        return getattr(self, name)

    def rss_of(self, pids: Iterable[int], held: HeldFiles | None = None) -> int:
        """`held`: descriptors kept open on the members' statm files (engine/heldfiles.py)."""
        if "rss" in self.__dict__:  # scanned already for another instance: use it
            return super().rss_of(pids)
        total = 0
        for pid in pids:  # (mostly one: a loop, not sum() over a generator)
            total += statm_rss(pid, held)
        return total


def statm_rss(pid: int, held: HeldFiles | None = None) -> int:
    """RSS bytes of one process from /proc/PID/statm (resident pages, the same count as field 24
    of /proc/PID/stat); 0 when it is gone. A zombie's is 0 too, as in the full scan. Through a
    held descriptor when `held` has one or room for one."""
    try:
        if held is not None:
            data = held.read(pid, lambda: open_in("/proc", f"{pid}/statm"), 128)
        else:
            fd = open_in("/proc", f"{pid}/statm")
            try:
                data = os.read(fd, 128)
            finally:
                os.close(fd)
        return int(data.split(b" ", 2)[1]) * PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


class TableSource:
    """Hands out process tables read *after* the request, sharing one read between all the
    requests made meanwhile: stopping 500 instances costs a few scans, not a thousand."""

    BATCH_DELAY = 0.005

    def __init__(self) -> None:
        self._pending: asyncio.Future[ProcessTable] | None = None

    async def fresh(self) -> ProcessTable:
        if self._pending is None:
            loop = asyncio.get_running_loop()
            self._pending = loop.create_future()
            loop.call_later(self.BATCH_DELAY, self._scan)
        return await asyncio.shield(self._pending)

    def _scan(self) -> None:
        """Always resolves the shared future: a waiter left hanging would be an instance that
        is never stopped. If /proc cannot be read, stops fall back to their process groups."""
        pending, self._pending = self._pending, None
        try:
            table = ProcessTable()
        except Exception:
            log.exception("cannot read the process table; signalling process groups only")
            table = ProcessTable(scan=False)
        if pending is not None and not pending.done():
            pending.set_result(table)


def start_ticks(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (with the pid, a unique identity)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rfind(b")") + 2 :].split(b" ", 20)[19])


def environ_of(pid: int) -> dict[str, str]:
    """A process's environment, or {} when it cannot be read (gone, other user, kernel thread)."""
    import psutil  # here: ~0.9 MiB of the master's memory, needed only for this (issue 14)

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
    """Summed CPU seconds and RSS bytes of `pids`, from the snapshot."""
    pids = [pid for pid in pids if pid in table.cpu]
    return sum(table.cpu[p] for p in pids), sum(table.rss[p] for p in pids)
