"""Callbacks at wall-clock instants (cron fires), driven by one loop timer for the soonest.

Each wait is computed afresh from the absolute wall-clock deadline, never by adding intervals,
so runs do not drift over hours; no wait is longer than a minute, so a wall clock that is set
back or forward (NTP step, suspend) is noticed within a minute. The wait itself is a timerfd
(finetimer.py: the loop's timers wake 1-3 ms late on a wait of a second), or the loop's timer
where there is none.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager

from procsup.tasks.finetimer import FineTimer

log = logging.getLogger(__name__)

MAX_SLEEP = 60.0


class WallTimers:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        clock: Callable[[], float] = time.time,
        around: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    ) -> None:
        self._loop = loop
        self._clock = clock  # wall-clock epoch seconds
        #: entered around the callbacks of one wake-up (the scheduler overlaps their spawns)
        self._around = around
        self._heap: list[tuple[float, int, Hashable]] = []
        self._due: dict[Hashable, tuple[float, int, Callable[[], None]]] = {}
        self._seq = itertools.count()
        self._handle: asyncio.TimerHandle | None = None  # the loop's timer, without _fine
        self._fine = _fine_timer(loop, self.wake)
        self._armed = False
        self._armed_at = 0.0  # the wall-clock instant the timer is for
        self._closed = False

    def set(self, key: Hashable, at: float, callback: Callable[[], None]) -> None:
        """Call `callback` at epoch second `at` (replacing any timer under `key`)."""
        if self._closed:
            return
        seq = next(self._seq)
        self._due[key] = (at, seq, callback)
        heapq.heappush(self._heap, (at, seq, key))
        if not self._armed or at < self._armed_at:
            self._arm()  # else the timer already wakes us no later than `at`

    def cancel(self, key: Hashable) -> None:
        self._due.pop(key, None)  # its heap entry is skipped when it comes up

    def close(self) -> None:
        self._closed = True
        self._due.clear()
        self._heap.clear()
        self._disarm()
        if self._fine is not None:
            self._fine.close()
            self._fine = None

    def _arm(self) -> None:
        self._drop_stale()
        self._disarm()
        if self._heap:
            now = self._clock()
            wait = min(max(self._heap[0][0] - now, 0.0), MAX_SLEEP)
            self._armed_at = now + wait
            self._armed = True
            if self._fine is not None:
                self._fine.arm(wait)
            else:
                self._handle = self._loop.call_later(wait, self.wake)

    def _disarm(self) -> None:
        if self._armed and self._fine is not None:
            self._fine.disarm()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._armed = False

    def _drop_stale(self) -> None:
        while self._heap:
            _, seq, key = self._heap[0]
            entry = self._due.get(key)
            if entry is not None and entry[1] == seq:
                return
            heapq.heappop(self._heap)

    def wake(self) -> None:
        """Run every callback due by the clock now, then wait for the next one. The loop calls
        it at the soonest deadline and at least once a minute; call it after a clock step."""
        self._disarm()
        now = self._clock()
        try:
            with self._around():
                self._run_due(now)
        except Exception:
            log.exception("timer callbacks failed")
        self._arm()

    def _run_due(self, now: float) -> None:
        while True:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                break
            _, _, key = heapq.heappop(self._heap)
            _, _, callback = self._due.pop(key)
            try:
                callback()
            except Exception:  # one broken callback must not stop every other fire
                log.exception("timer callback failed")


def _fine_timer(loop: asyncio.AbstractEventLoop, wake: Callable[[], None]) -> FineTimer | None:
    """A timerfd for the waits, or None (the loop's timers) where the system has none."""
    try:
        return FineTimer(loop, wake)
    except (OSError, AttributeError) as exc:
        log.debug("no timerfd for the task timers (%s): the loop's timers wake them", exc)
        return None
