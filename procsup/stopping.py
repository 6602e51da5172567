"""Stopping a whole process tree: the one routine behind `stop`, task timeouts, `replace`, lost
locks and leftovers of a leader that died. Signal first, wait, then SIGKILL what is left."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass

from procsup.process import send_signal, wait_gone
from procsup.proctree import instance_tree
from procsup.runtime import Runtime

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
) -> None:
    """stop_signal to the group and every pid, wait stop_timeout, then SIGKILL what is left.

    The tree is read again at the deadline, so processes forked during the grace period and
    daemons that escaped to us (subreaper) are killed as well.
    """
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
    if leader_exit is not None:
        try:
            await asyncio.wait_for(asyncio.shield(leader_exit), KILL_GRACE)
        except TimeoutError:
            log.error("%s: pid %d survived SIGKILL for %ss", policy.name, pgid, KILL_GRACE)


async def stop_leftovers(rt: Runtime, policy: StopPolicy, pgid: int, spawn_id: str) -> None:
    """Descendants left behind by a leader that exited are stopped too.

    Such a leftover is either still in the leader's process group or, having escaped it, one of
    our own children (we are the subreaper); when neither is the case, as after nearly every
    exit, the full process-table scan is skipped.
    """
    if not group_alive(pgid) and not (_own_children() - rt.leaders()):
        return
    table = await rt.tables.fresh()
    pids = instance_tree(table, None, spawn_id, rt.leaders())
    if pids or group_alive(pgid):
        await kill_tree(rt, policy, pids, pgid, spawn_id)


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
