"""Events (state changes, runs, log notices) and the one broadcaster they flow through.

Subscribing is synchronous, so a handler that takes a snapshot and subscribes without awaiting in
between cannot miss an event (process-compose's SubscribeWithSnapshot, for free in asyncio).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SUBSCRIBER_QUEUE = 10_000


@dataclass(frozen=True)
class Event:
    type: str  # "state", "program", "master", "task", …
    name: str
    data: Mapping[str, Any] = field(default_factory=dict)  # a core/schema event's own keys
    time: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "time": self.time, **self.data}


class Subscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self.dropped = False

    def release(self) -> None:
        """Let go of the queued events of a dropped subscriber: it is told to resubscribe,
        and a stuck one must not pin SUBSCRIBER_QUEUE events until it leaves."""
        while not self.queue.empty():
            self.queue.get_nowait()


class Broadcaster:
    """Fans events out to subscribers; a subscriber that cannot keep up is dropped, not awaited."""

    def __init__(self) -> None:
        self._subs: set[Subscription] = set()

    @property
    def listening(self) -> bool:
        """Whether anyone would receive an event: a publisher may skip building a costly one
        (an instance's row, at every state change of 2,000 starting at once: issue 14)."""
        return bool(self._subs)

    def publish(self, event: Event) -> None:
        for sub in list(self._subs):
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.dropped = True
                self._subs.discard(sub)
                sub.release()

    @property
    def listened(self) -> bool:
        """Whether anyone subscribes: a publisher can skip building an event nobody reads."""
        return bool(self._subs)

    def subscribe(self) -> Subscription:
        sub = Subscription()
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)
