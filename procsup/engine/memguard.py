"""`max_memory`: restart an instance whose process tree RSS grew past its limit.

It samples only while some program sets `max_memory`, and only those programs' instances: there
is no periodic work at all otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from procsup.core.humanize import format_size
from procsup.core.states import State
from procsup.engine.events import Event
from procsup.engine.instance import Instance
from procsup.engine.proctree import ProcessTable
from procsup.engine.runtime import Runtime

log = logging.getLogger(__name__)

CHECK_INTERVAL = 2.0


class MemoryGuard:
    def __init__(self, rt: Runtime, instances: Callable[[], list[Instance]]) -> None:
        self.rt = rt
        self._instances = instances
        self._timer: asyncio.TimerHandle | None = None

    def update(self) -> None:
        """(Re)arm or disarm after the program set changed."""
        if self._watched() and self._timer is None:
            self._timer = self.rt.loop.call_later(CHECK_INTERVAL, self._check)
        elif not self._watched() and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _watched(self) -> list[Instance]:
        return [i for i in self._instances() if i.config.max_memory]

    def _check(self) -> None:
        self._timer = None
        watched = [i for i in self._watched() if i.state == State.RUNNING]
        if watched:
            table = ProcessTable()
            for inst in watched:
                rss = inst.usage(table)[1]
                limit = inst.config.max_memory or 0
                if rss > limit:
                    log.warning("%s: RSS %d > max_memory %d, restarting", inst.name, rss, limit)
                    self.rt.publish(Event("max_memory", inst.name, {"rss": rss, "limit": limit}))
                    why = f"RSS {format_size(rss)} over max_memory {format_size(limit)}"
                    self.rt.background(inst.restart(why))
        self.update()
