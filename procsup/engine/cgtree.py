"""The subtree of cgroups one master owns (see cgroups.py for why cgroups): a leaf per spawn and
per task run, kills that wait for emptiness without polling, the leftovers of a killed master,
and removal of it all at a clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from procsup.engine.cgretire import LeafRetirer
from procsup.engine.cgroups import HINT, Cgroup, CgroupUnavailable, Tracking, subtree_path
from procsup.engine.cgwatch import EmptyWatcher, InotifyError

log = logging.getLogger(__name__)

KILL_GRACE = 5.0  # after cgroup.kill, how long the kernel gets to empty a cgroup


class CgroupTree:
    """The subtree of one state_dir: makes a leaf per spawn, awaits and kills leaves, clears
    what a killed master left, and removes everything at a clean shutdown."""

    def __init__(self, path: str, loop: asyncio.AbstractEventLoop) -> None:
        self.path = path
        self._watcher = EmptyWatcher(loop, lambda p: Cgroup(p).populated())
        self._loop = loop
        self._adopted: set[asyncio.Task[None]] = set()
        self._retired = LeafRetirer(loop)

    @classmethod
    def create(cls, state_dir: str, loop: asyncio.AbstractEventLoop) -> CgroupTree:
        """Make (or reuse) the subtree; raises CgroupUnavailable with the reason."""
        path = subtree_path(state_dir)
        parent = os.path.dirname(path)
        try:
            os.makedirs(path, exist_ok=True)
            probe_leaf = Cgroup(f"{path}/probe-{os.getpid()}")
            os.mkdir(probe_leaf.path)
            probe_leaf.remove()
        except OSError as exc:
            raise CgroupUnavailable(
                f"cannot create cgroups in {parent}: {exc.strerror} ({HINT})"
            ) from None
        if not os.access(f"{parent}/cgroup.procs", os.W_OK):
            with contextlib.suppress(OSError):
                os.rmdir(path)
            raise CgroupUnavailable(f"cannot move processes out of {parent} ({HINT})")
        _enable_memory(path)
        try:
            return cls(path, loop)
        except InotifyError as exc:
            raise CgroupUnavailable(f"cannot watch cgroup.events: {exc.strerror}") from None

    def leaf(self, kind: str, ident: str) -> Cgroup:
        """A new, empty leaf for one spawn (`inst`) or task run (`task`). Raises OSError."""
        cg = Cgroup(f"{self.path}/{kind}-{ident.replace('/', '_')}")
        try:
            os.mkdir(cg.path)
        except OSError as exc:
            raise OSError(
                exc.errno, f"cannot create its cgroup {cg.path}: {exc.strerror}"
            ) from None
        return cg

    async def wait_empty(self, cg: Cgroup, timeout: float) -> bool:
        return await self._watcher.wait_empty(cg.path, timeout)

    async def kill(self, cg: Cgroup, name: str) -> bool:
        """cgroup.kill and wait until it is empty; False (logged) if something survived."""
        for _ in range(2):  # twice: without cgroup.kill and the freezer, a fork can slip by
            cg.kill()
            if await self.wait_empty(cg, KILL_GRACE / 2):
                return True
        log.error("%s: processes in %s survived SIGKILL: %s", name, cg.path, cg.pids())
        return False

    def retire(self, cg: Cgroup) -> None:
        """Remove the emptied leaf of a finished stop a little later, with the others of the same
        `stop` (cgretire.py): after the reply instead of before it."""
        self._retired.retire(cg)

    async def discard(self, cg: Cgroup, name: str) -> None:
        """Kill whatever is left in `cg` and remove it."""
        if cg.populated():
            await self.kill(cg, name)
        cg.remove()

    def leaves(self, path: str | None = None) -> list[Cgroup]:
        root = path or self.path
        try:
            names = os.listdir(root)
        except OSError:
            return []
        return [Cgroup(f"{root}/{n}") for n in names if os.path.isdir(f"{root}/{n}")]

    async def clear_stale(self, previous: str | None = None) -> int:
        """Leaves of a killed master (here, and in `previous`, the subtree it used if that was
        elsewhere): instances are killed and removed; task runs live on under their lock, as
        with process tracking, and their leaf is removed once empty. Returns how many leaves
        were killed."""
        leaves = self.leaves()
        if previous and previous != self.path and os.path.isdir(previous):
            leaves += self.leaves(previous)
        stale = [cg for cg in leaves if not os.path.basename(cg.path).startswith("task-")]
        for cg in leaves:
            if cg not in stale:
                self._adopt(cg)
        killed = [cg for cg in stale if cg.populated()]
        if killed:
            log.warning("killing %d cgroup(s) left by a previous master", len(killed))
        await asyncio.gather(*(self.discard(cg, "leftover") for cg in stale))
        if previous and previous != self.path:
            with contextlib.suppress(OSError):
                os.rmdir(previous)
        return len(killed)

    def _adopt(self, cg: Cgroup) -> None:
        async def remove_when_empty() -> None:
            await self.wait_empty(cg, float("inf"))
            cg.remove()

        task = self._loop.create_task(remove_when_empty())
        self._adopted.add(task)
        task.add_done_callback(self._adopted.discard)

    async def close(self) -> None:
        """At shutdown: kill whatever is still in any leaf, remove the leaves and the subtree."""
        for task in list(self._adopted):
            task.cancel()
        self._retired.flush()
        await asyncio.gather(*(self.discard(cg, "shutdown") for cg in self.leaves()))
        try:
            os.rmdir(self.path)
        except OSError as exc:
            log.error("cannot remove cgroup subtree %s: %s", self.path, exc.strerror)
        self._watcher.close()


def _enable_memory(path: str) -> None:
    """Turn on the memory controller for the leaves when the parent hands it down (the master
    cannot enable it above itself: that would break the "no internal processes" rule)."""
    with contextlib.suppress(OSError):
        with open(f"{path}/cgroup.controllers") as f:
            available = f.read().split()
        if "memory" in available:
            with open(f"{path}/cgroup.subtree_control", "w") as f:
                f.write("+memory")


async def open_tracking(
    mode: str, state_dir: str, loop: asyncio.AbstractEventLoop
) -> tuple[CgroupTree | None, Tracking]:
    """The cgroup tree to track processes in (None: process tracking) and what to tell people
    about it. `tracking = "cgroup"` where no cgroup can be made raises CgroupUnavailable."""
    if mode == "process":
        return None, Tracking("process", "tracking = process")
    try:
        tree = CgroupTree.create(state_dir, loop)
    except CgroupUnavailable as exc:
        if mode == "cgroup":
            raise
        return None, Tracking("process", f"no cgroups: {exc}")
    return tree, Tracking("cgroup", tree.path)
