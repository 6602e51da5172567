"""The one child-lifecycle primitive, shared by program instances, task runs and task hooks:
the environment every child gets, spawning (into a cgroup leaf under cgroup tracking), leader
tracking, the reaper's watch, output attach and drain, the exit code, and stopping the spawn's
whole tree or what it left behind (stopping.py does the signalling).

Policy (restart, backoff, locks, history) stays with the callers; this only makes sure each of
them starts, watches and forgets a child the same way.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path

from procsup.engine.cgroups import Cgroup
from procsup.engine.output import Output
from procsup.engine.pidsignal import send_signal
from procsup.engine.process import Child, SpawnSpec, spawn, submit
from procsup.engine.proctree import ProcessTable, instance_tree, tree_stats
from procsup.engine.runtime import Runtime
from procsup.engine.stopping import StopPolicy, kill_tree, stop_leftovers

#: what a spawn can raise: OSError, KeyError (a user deleted since load), ValueError
SPAWN_ERRORS = (OSError, KeyError, ValueError)


def child_env(rt: Runtime, own: Mapping[str, str], marks: Mapping[str, str]) -> dict[str, str]:
    """The environment of every child: the master's, unbuffered Python unless the master's
    says otherwise, the program's or task's own variables, then procsup's marks (which win)."""
    env = dict(rt.base_env)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(own)
    env.update(marks)
    return env


def child_cwd(rt: Runtime, directory: Path | None) -> str:
    """Where a child runs: its `directory`, else the config file's folder."""
    return str(directory) if directory else rt.base_dir


class ChildProc:
    """One spawned child as the master keeps it: its cgroup leaf (under cgroup tracking), its
    place among the leaders, the reaper's watch and the output its pipes feed.

    `on_exit(code)` runs once the child is reaped, after the output is drained and the child
    is marked reaped and dropped from the leaders. `spawn_id` is the mark every process of the
    spawn inherits (process.INSTANCE_ENV) and its cgroup leaf's name."""

    def __init__(
        self,
        rt: Runtime,
        output: Output,
        child: Child,
        cgroup: Cgroup | None,
        spawn_id: str,
        leader: bool,
    ) -> None:
        self.rt = rt
        self.output = output
        self.child = child
        self.cgroup = cgroup
        self.spawn_id = spawn_id
        self.leader = leader
        self.code: int | None = None
        self._on_exit: Callable[[int], None] | None = None

    @property
    def pid(self) -> int:
        return self.child.pid

    @classmethod
    def spawn(
        cls,
        rt: Runtime,
        spec: SpawnSpec,
        output: Output,
        spawn_id: str = "",
        leaf: str | None = None,
        leader: bool = True,
    ) -> ChildProc:
        """Spawn `spec`; `leaf` (a kind: "inst", "task") puts it in its own cgroup, named
        after `spawn_id`, under cgroup tracking. Raises one of SPAWN_ERRORS, with the leaf
        already removed."""
        cgroup = None
        try:
            if leaf is not None and rt.cgroups is not None:
                spec.cgroup = cgroup = rt.cgroups.leaf(leaf, spawn_id)
            child = rt.spawner(spec)
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise
        if leader:
            rt.leader_set.add(child.pid)
        return cls(rt, output, child, cgroup, spawn_id, leader)

    @classmethod
    def submit(
        cls,
        rt: Runtime,
        spec: SpawnSpec,
        output: Output,
        spawn_id: str,
        leaf: str,
        reuse: Cgroup | None = None,
    ) -> Callable[[], ChildProc]:
        """`spawn` in two halves (spawnbatch.py): the request goes out now, and the returned
        function completes it (returning the ChildProc or raising one of SPAWN_ERRORS, with
        the leaf removed). Split only for the real spawner under cgroup tracking; any other
        spawn is made whole now. Raises one of SPAWN_ERRORS here too. `reuse`: an empty leaf
        of an earlier spawn, never cgroup.kill'ed, to clone into instead of a new one (a
        clone into a new leaf costs more: a task's runs, tasks/spareleaf.py)."""
        if rt.cgroups is None or rt.spawner is not spawn:
            if reuse is not None:  # not used on this path: not left behind either
                reuse.remove()
            proc = cls.spawn(rt, spec, output, spawn_id, leaf)
            return lambda: proc
        spec.cgroup = cgroup = reuse or rt.cgroups.leaf(leaf, spawn_id)
        try:
            pending = submit(spec)
        except BaseException:
            cgroup.remove()
            raise

        def complete() -> ChildProc:
            try:
                child = pending.complete()
            except BaseException:
                cgroup.remove()
                raise
            rt.leader_set.add(child.pid)
            return cls(rt, output, child, cgroup, spawn_id, True)

        return complete

    def attach(self) -> None:
        """Feed the output from the child's pipes; raises OSError (no descriptor for a log)."""
        self.output.attach(self.child)

    def watch(self, on_exit: Callable[[int], None]) -> None:
        """Call `on_exit(code)` once the child is reaped. Call it right after spawning, with no
        await in between (see Reaper.watch)."""
        self._on_exit = on_exit
        self.rt.reaper.watch(self.child.pid, self._reaped)

    def _reaped(self, code: int) -> None:
        self.code = code
        self.child.mark_reaped(code)
        if self.leader:
            self.rt.leader_set.discard(self.child.pid)
        on_exit = self._on_exit
        if on_exit is None:  # abandoned
            return
        try:
            self.output.drain()
        finally:  # whatever happens above, the caller learns of the exit (a run frees its lock)
            on_exit(code)

    def close_pipes(self) -> None:
        """Give up the child's output (its pipes would never be read)."""
        for fd in (self.child.stdout_fd, self.child.stderr_fd):
            if fd is not None:
                os.close(fd)

    def abandon(self) -> None:
        """Kill a child we cannot serve and reap it quietly: no output, no `on_exit`."""
        send_signal((), signal.SIGKILL, pgid=self.child.pid)
        if self.cgroup is not None:  # its now-empty leaf goes with the subtree at shutdown
            self.cgroup.kill()
        self.close_pipes()
        self._on_exit = None
        self.rt.reaper.watch(self.child.pid, self._reaped)

    # --- stopping ---------------------------------------------------------------------------

    def tree(self, table: ProcessTable) -> set[int]:
        """Every live process of the spawn: its cgroup's members, or the leader's descendants
        and the processes that escaped them but carry the spawn's mark."""
        if self.cgroup is not None:
            return set(self.cgroup.pids())
        return instance_tree(table, self.pid, self.spawn_id, self.rt.leaders())

    def signal(self, sig: int) -> None:
        """Send `sig` to every live process of the spawn."""
        send_signal(self.tree(ProcessTable(scan=self.cgroup is None)), sig, pgid=self.pid)

    def usage(self, table: ProcessTable) -> tuple[float, int]:
        """CPU seconds and memory bytes of the spawn (its cgroup's, when it has one)."""
        if self.cgroup is not None:
            return self.cgroup.usage(table)
        return tree_stats(table, self.tree(table))

    async def stop(self, policy: StopPolicy, leader_exit: asyncio.Future[int] | None) -> None:
        """Stop the whole tree (stop_signal, then SIGKILL after stop_timeout); returns once the
        leader's exit (`leader_exit`) has been seen or the SIGKILL grace has passed."""
        if self.cgroup is not None and self.rt.cgroups is not None:
            pids: set[int] = set()  # kill_tree reads the cgroup's members itself
        else:
            table = ProcessTable(scan=False) if self.cgroup else await self.rt.tables.fresh()
            pids = self.tree(table)
        await kill_tree(self.rt, policy, pids, self.pid, self.spawn_id, leader_exit, self.cgroup)

    async def stop_leftovers(self, policy: StopPolicy) -> None:
        """After the leader exited: stop what it left behind (and remove its cgroup leaf)."""
        await stop_leftovers(self.rt, policy, self.pid, self.spawn_id, self.cgroup)
