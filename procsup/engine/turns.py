"""Who holds an instance, and who waits for its next state change.

Both are asyncio objects that most instances of a big fleet never need: an instance is rarely
started or stopped one by one, and only `start --wait` and rolling restarts wait on a change.
An asyncio.Lock and an asyncio.Event made up front were ~0.7 KB each per instance at 2,000
instances (issue 14), so both are made on first use, here rather than in `Instance`.
"""

from __future__ import annotations

import asyncio


class Turns:
    """The instance's lock (a start, stop or restart under way) and its change signal."""

    __slots__ = ("_changed", "_lock")

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None
        self._changed: asyncio.Event | None = None

    def lock(self) -> asyncio.Lock:
        """Held by a start, stop or restart under way."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def busy(self) -> bool:
        """Someone holds the lock."""
        return self._lock is not None and self._lock.locked()

    def changed(self) -> None:
        """The state changed: wake whoever waits for it."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def next_change(self, timeout: float) -> bool:
        """Wait for the next state change; False when `timeout` passed first."""
        if self._changed is None:
            self._changed = asyncio.Event()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return False
        return True
