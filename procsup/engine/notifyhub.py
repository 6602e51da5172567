"""Every notify socket of the master behind one epoll descriptor, read in coalesced rounds.

Five hundred instances sending WATCHDOG=1 every second would wake the master's loop five hundred
times a second, one datagram each; the wake-up (epoll_wait returning, a loop iteration, a
callback) costs far more than reading the datagram. Sockets in the hub are read in rounds
instead: the first datagram after a quiet spell wakes the loop at once, every ready socket is
drained, and the hub then rests for `WINDOW` before it looks again, so everything that arrives
meanwhile costs one wake-up together. Under steady traffic that is one timer callback per window,
whatever the number of senders.

Only sockets whose messages can wait that long are pooled (instance_health.py decides: a running,
ready instance with a watchdog); a socket whose READY=1 is awaited is read directly on the loop,
so start-up latency never grows. A watchdog verdict reads its socket first (Health.pending), so a
keep-alive waiting out the window is never taken for silence.
"""

from __future__ import annotations

import asyncio
import logging
import select
from collections.abc import Callable

from procsup.engine.timegrid import GRID, aligned_time

log = logging.getLogger(__name__)

WINDOW = GRID  # seconds the hub rests after a round: a burst in that time costs one wake-up
#: passes per round at most: a socket flooded faster than that waits for the next round
PASSES = 64


class NotifyHub:
    """The pooled notify sockets of one loop: `add(fd, read)` / `remove(fd)`; `read(1)` reads
    one datagram of that socket. A round reads one datagram from every ready socket, then asks
    epoll again, until none is ready: one epoll_wait per pass instead of a failed recvmsg per
    socket to learn it is empty."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._epoll = select.epoll()  # close-on-exec
        self._drains: dict[int, Callable[[int], None]] = {}
        self._armed = False
        self._rest: asyncio.TimerHandle | None = None
        self.rounds = 0  # rounds that found something to read (the bench and tests count them)
        self._arm()

    def add(self, fd: int, drain: Callable[[int], None]) -> None:
        self._drains[fd] = drain
        self._epoll.register(fd, select.EPOLLIN)

    def remove(self, fd: int) -> None:
        if self._drains.pop(fd, None) is not None:
            self._epoll.unregister(fd)

    def close(self) -> None:
        if self._rest is not None:
            self._rest.cancel()
            self._rest = None
        if self._armed:
            self._loop.remove_reader(self._epoll.fileno())
            self._armed = False
        self._drains.clear()
        self._epoll.close()

    def _arm(self) -> None:
        self._armed = True
        self._loop.add_reader(self._epoll.fileno(), self._woken)

    def _woken(self) -> None:
        """The first datagram after a quiet spell: read it (and whatever else is ready) now,
        then rest."""
        self._loop.remove_reader(self._epoll.fileno())
        self._armed = False
        try:
            self._round()
        finally:  # whatever a reader did, the hub keeps going
            self._rest = self._loop.call_at(self._rest_end(), self._rested)

    def _rested(self) -> None:
        """The window is over: read what came meanwhile and rest again, or, when nothing came,
        go back to waking on the next datagram."""
        self._rest = None
        busy = True
        try:
            busy = self._round()
        finally:
            if busy:
                self._rest = self._loop.call_at(self._rest_end(), self._rested)
            else:
                self._arm()

    def _rest_end(self) -> float:
        """The end of the rest, on the grid the watchdog deadlines and probes use
        (timegrid.py), so their wake-ups and the hub's are the same ones."""
        return aligned_time(self._loop.time(), WINDOW)

    def _round(self) -> bool:
        """Read every ready socket to its end; True when there was one."""
        ready = self._epoll.poll(0)
        if not ready:
            return False
        self.rounds += 1
        for _ in range(PASSES):
            for fd, _events in ready:
                drain = self._drains.get(fd)
                if drain is None:
                    continue
                try:
                    drain(1)
                except Exception:  # one socket's reader never stops the others
                    log.exception("notify socket reader failed")
            ready = self._epoll.poll(0)
            if not ready:
                break
        return True
