"""Signals to a tree's processes and waiting for them to be gone, whether or not they are the
master's children: the part of stopping that talks to the kernel (policy is in stopping.py).

A pidfd per process is awaited on the loop, so a wait costs nothing while it lasts; when the
descriptors run out (EMFILE) the pids are polled with signal 0 instead, so that a stop never
fails for want of a descriptor.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable


def send_signal(pids: Iterable[int], sig: int, pgid: int | None = None) -> None:
    """Send `sig` to a process group and to each pid; processes already gone are ignored."""
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if pgid is None or os.getpgid(pid) != pgid:  # the group got it already
                os.kill(pid, sig)


async def wait_gone(pids: Iterable[int], timeout: float) -> set[int]:
    """Wait until every pid has exited or `timeout` passes; return the ones still alive.

    Uses pidfds, so it works for processes that are not our children and costs nothing while
    waiting.
    """
    loop = asyncio.get_running_loop()
    pending: dict[int, int] = {}
    polled: set[int] = set()
    for pid in pids:
        try:
            pending[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            continue
        except OSError:  # out of descriptors: this one is watched by polling instead
            polled.add(pid)
    if polled:
        return await _wait_polled(pending, polled, timeout)
    if not pending:
        return set()
    alive = set(pending.values())
    done = loop.create_future()

    def on_exit(fd: int) -> None:
        loop.remove_reader(fd)
        alive.discard(pending[fd])
        if not alive and not done.done():
            done.set_result(None)

    for fd in pending:
        loop.add_reader(fd, on_exit, fd)
    try:
        await asyncio.wait_for(asyncio.shield(done), timeout)
    except TimeoutError:
        pass
    finally:
        for fd in pending:
            loop.remove_reader(fd)
            os.close(fd)
    return alive


POLL_INTERVAL = 0.05


async def _wait_polled(pending: dict[int, int], polled: set[int], timeout: float) -> set[int]:
    """wait_gone when pidfds ran out (EMFILE): every pid is checked with signal 0 until gone.
    Only used while descriptors are short, so that a stop never fails for want of one."""
    for fd in pending:
        os.close(fd)
    alive = polled | set(pending.values())
    deadline = asyncio.get_running_loop().time() + timeout
    while alive:
        alive = {pid for pid in alive if _exists(pid)}
        if not alive or asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(POLL_INTERVAL)
    return alive


def _exists(pid: int) -> bool:
    """True while `pid` is a live process (a zombie of ours counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return True
