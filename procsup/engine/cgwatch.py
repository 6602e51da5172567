"""Awaiting "this cgroup is empty" without polling: inotify on `cgroup.events`.

The kernel touches a cgroup's `cgroup.events` (a file-modified event) whenever its `populated`
line flips, so one inotify descriptor on the loop wakes exactly the waiters whose cgroup just
emptied. (poll/epoll on the file itself would not do: kernfs files always read as ready.)
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import struct
from collections.abc import Callable

from procsup.engine.libc import libc

IN_MODIFY = 0x2
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then `len` bytes of name)


class InotifyError(OSError):
    pass


class EmptyWatcher:
    """Futures that resolve when a cgroup is no longer populated.

    `is_populated(path)` is how the watcher re-reads a cgroup after an event (and once right
    after the watch is set, so an exit between the first check and the watch is not missed).
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, is_populated: Callable[[str], bool]
    ) -> None:
        self._libc = libc()
        fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise InotifyError(err, f"inotify_init1: {os.strerror(err)}")
        self._fd = fd
        self._loop = loop
        self._populated = is_populated
        self._waiters: dict[int, tuple[str, set[asyncio.Future[bool]]]] = {}
        loop.add_reader(fd, self._on_events)

    async def wait_empty(self, path: str, timeout: float) -> bool:
        """True once the cgroup at `path` is empty (or gone), False if `timeout` passed first.
        The cgroup is read once, after the watch is set (an exit before it is seen by the read,
        one after it by the watch): a stop has just signalled it, so it is rarely empty yet."""
        wd = self._libc.inotify_add_watch(self._fd, f"{path}/cgroup.events".encode(), IN_MODIFY)
        if wd < 0:  # the cgroup was removed meanwhile: nothing left in it
            return not self._populated(path)
        fut: asyncio.Future[bool] = self._loop.create_future()
        self._waiters.setdefault(wd, (path, set()))[1].add(fut)
        # a timer on the future itself, not wait_for(shield()): two futures, a partial and
        # their callbacks less per stop, 2,000 of them in a `stop all` (issue 14)
        timer = self._loop.call_later(timeout, _time_out, fut)
        try:
            if not self._populated(path):
                return True
            return await fut
        finally:
            timer.cancel()
            self._forget(wd, fut)

    def _forget(self, wd: int, fut: asyncio.Future[bool]) -> None:
        entry = self._waiters.get(wd)
        if entry is None:
            return
        entry[1].discard(fut)
        if not entry[1]:
            del self._waiters[wd]
            self._libc.inotify_rm_watch(self._fd, wd)

    def _on_events(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        offset, woken = 0, set()
        while offset + _EVENT.size <= len(data):
            wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size + length
            woken.add(wd)
        if -1 in woken:  # the event queue overflowed: any cgroup may have emptied
            woken = set(self._waiters)
        for wd in woken:
            entry = self._waiters.get(wd)
            if entry is not None and not self._populated(entry[0]):
                for fut in entry[1]:
                    if not fut.done():
                        fut.set_result(True)

    def close(self) -> None:
        with contextlib.suppress(ValueError, RuntimeError):
            self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._waiters.clear()


def _time_out(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(False)
