"""Stopping a whole process tree: the one routine behind `stop`, task timeouts, `replace`, lost
locks and leftovers of a leader that died. Signal first, wait, then SIGKILL what is left.

Under cgroup tracking the tree is the spawn's cgroup: every member gets the signal, emptiness is
awaited on `cgroup.events`, and `cgroup.kill` ends the rest. Under process tracking it is the
process tree, the group and the escaped descendants still carrying the instance's mark.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from procsup.engine.pidsignal import send_signal, wait_gone
from procsup.engine.proctree import ProcessTable, instance_tree
from procsup.engine.runtime import Runtime

if TYPE_CHECKING:
    from procsup.engine.cgroups import Cgroup

log = logging.getLogger(__name__)

KILL_GRACE = 5.0  # after SIGKILL, how long we wait for the kernel to finish the job


@dataclass(frozen=True)
class StopPolicy:
    name: str  # for the log
    stop_signal: int
    stop_timeout: float


async def kill_tree(
    rt: Runtime,
    policy: StopPolicy,
    pids: set[int],
    pgid: int,
    spawn_id: str,
    leader_exit: asyncio.Future[int] | None = None,
    cgroup: Cgroup | None = None,
) -> None:
    """stop_signal to the group and every pid, wait stop_timeout, then SIGKILL what is left.

    The tree is read again at the deadline, so processes forked during the grace period and
    daemons that escaped to us (subreaper) are killed as well.
    """
    if cgroup is not None and rt.cgroups is not None:
        await _kill_cgroup(rt, policy, cgroup, leader_exit)
        await _await_leader(policy, pgid, leader_exit)
        return
    send_signal(pids, policy.stop_signal, pgid=pgid)
    send_signal(pids, signal.SIGCONT, pgid=pgid)  # a stopped process cannot act on TERM
    left = await wait_gone(pids, policy.stop_timeout)
    leader_alive = leader_exit is not None and not leader_exit.done()
    left |= instance_tree(
        await rt.tables.fresh(), pgid if leader_alive else None, spawn_id, rt.leaders()
    )
    if left or group_alive(pgid):
        send_signal(left, signal.SIGKILL, pgid=pgid)
        await wait_gone(left, KILL_GRACE)
    await _await_leader(policy, pgid, leader_exit)


async def _kill_cgroup(
    rt: Runtime,
    policy: StopPolicy,
    cgroup: Cgroup,
    leader_exit: asyncio.Future[int] | None = None,
) -> None:
    """stop_signal to every member of the cgroup, wait stop_timeout for it to empty, then
    cgroup.kill. Members are signalled one by one, not through the leader's process group,
    whose id may already belong to someone else once the leader is gone.

    Most instances are one process, whose exit empties the leaf and is seen by the reaper
    anyway: the leader's exit is awaited first, and the leaf is watched (inotify) only when
    something outlived it, for what is left of stop_timeout. A watch set and removed and a
    read of cgroup.events less per stop were ~10 % of a 2,000-instance `stop all` (issue 14)."""
    assert rt.cgroups is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.stop_timeout
    cgroup.signal(policy.stop_signal, signal.SIGCONT)  # a stopped process cannot act on TERM
    if leader_exit is not None:
        await _within(leader_exit, policy.stop_timeout)
        if leader_exit.done() and not cgroup.populated():
            return
    left = max(deadline - loop.time(), 0.0)
    if not await rt.cgroups.wait_empty(cgroup, left):
        await rt.cgroups.kill(cgroup, policy.name)


async def _within(fut: asyncio.Future[int], timeout: float) -> None:
    """Wait until `fut` is done or `timeout` passed, leaving `fut` itself alone (no
    wait_for(shield()): fewer objects per stop)."""
    if fut.done():
        return
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    timer = loop.call_later(timeout, wake)
    fut.add_done_callback(wake)
    try:
        await waiter
    finally:
        timer.cancel()
        fut.remove_done_callback(wake)


async def _await_leader(
    policy: StopPolicy, pgid: int, leader_exit: asyncio.Future[int] | None
) -> None:
    if leader_exit is not None and not leader_exit.done():  # reaped already, mostly
        try:
            await asyncio.wait_for(asyncio.shield(leader_exit), KILL_GRACE)
        except TimeoutError:
            log.error("%s: pid %d survived SIGKILL for %ss", policy.name, pgid, KILL_GRACE)


async def stop_leftovers(
    rt: Runtime, policy: StopPolicy, pgid: int, spawn_id: str, cgroup: Cgroup | None = None
) -> None:
    """Descendants left behind by a leader that exited are stopped too.

    Under cgroup tracking they are whatever is still in the spawn's cgroup, which is then
    removed. Otherwise such a leftover is either still in the leader's process group or, having
    escaped it, one of our own children (we are the subreaper); when neither is the case, as
    after nearly every exit, the full process-table scan is skipped.
    """
    if cgroup is not None and rt.cgroups is not None:
        if cgroup.populated():
            await _kill_cgroup(rt, policy, cgroup)
        cgroup.remove()
        return
    if not group_alive(pgid) and not (_own_children() - rt.leaders()):
        return
    table = await rt.tables.fresh()
    pids = instance_tree(table, None, spawn_id, rt.leaders())
    if pids or group_alive(pgid):
        await kill_tree(rt, policy, pids, pgid, spawn_id)


def retire_leaf(rt: Runtime, cgroup: Cgroup) -> None:
    """The leaf of a spawn whose stop just ended (empty, or holding what survived SIGKILL, which
    its removal then logs) goes with the next batch of removals (cgretire.py)."""
    if rt.cgroups is not None:
        rt.cgroups.retire(cgroup)
    else:
        cgroup.remove()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _own_children() -> set[int]:
    """Our direct children, from /proc/self/task/*/children: one small read per thread."""
    found: set[int] = set()
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return {-1}  # unknown: let the caller scan
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                found.update(int(pid) for pid in f.read().split())
        except (OSError, ValueError):
            continue
    return found


async def stop_orphans(rt: Runtime, grace: float) -> int:
    """At shutdown, after every stop: processes re-parented to us (we are the subreaper) that no
    stop reached, with all below them. Under process tracking these are daemons whose mark was
    lost (an emptied or overwritten environment); nothing of ours may outlive the master.
    Returns how many were found."""
    if not (_own_children() - rt.leaders()):
        return 0
    table = ProcessTable()
    pids: set[int] = set()
    for pid in table.children.get(os.getpid(), ()):
        if pid not in rt.leaders():
            pids |= {pid} | table.descendants(pid)
    if pids:
        log.warning(
            "stopping %d process(es) re-parented to the master: %s", len(pids), sorted(pids)
        )
        await terminate(pids, grace)
    return len(pids)


async def terminate(pids: set[int], grace: float, groups: Iterable[int] = ()) -> set[int]:
    """SIGTERM to `groups` and `pids` (SIGCONT too: a stopped process cannot act on TERM),
    wait `grace`, then SIGKILL what is left and give the kernel KILL_GRACE to finish. The one
    TERM-then-KILL for processes that are nobody's instance any more (orphans at shutdown,
    leftovers of a killed master); returns the pids that outlived even SIGKILL."""
    groups = set(groups)
    for sig in (signal.SIGTERM, signal.SIGCONT):
        for pgid in groups:
            send_signal((), sig, pgid=pgid)
        send_signal(pids, sig)
    left = await wait_gone(pids, grace)
    if not left:
        return left
    for pgid in groups:
        send_signal((), signal.SIGKILL, pgid=pgid)
    send_signal(left, signal.SIGKILL)
    return await wait_gone(left, KILL_GRACE)
