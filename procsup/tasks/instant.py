"""The runs of one wake-up of the task timers, started side by side (Scheduler._instant).

Every run's spawn request goes out first (Task.launch_now); the helper's answers are then
taken in a Batch (engine/spawnbatch.py), at most `depth` behind the requests; and only after
the last answer does each run's start go on: the reaper's watch, the log files, the lock
file's pid, the timeout, the history row, the log line. That part costs the master ~0.1 ms
a run (profile of 20 and 200 tasks due at the same second, issue 14); done between two
answers, it took a core from the children still starting and held back the next request.
Nothing awaits in between, so no child can be reaped before its watch is in place and no
request of a client sees a run half-started.

No garbage collection runs meanwhile either (as for `list`, control/handlers/base.py): with
200 tasks due every second, py-spy and gc.callbacks on the master showed ~10 young
collections an instant (~0.2 ms each), a middle one every other instant (~1.1 ms) and, once
in 16 s, a full one of the master's ~39,000 objects: 28 ms in the middle of an instant's
spawns. Its runs' objects hold no cycles and are freed by reference counting; whatever
collection is due runs at the next allocation after the instant.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from types import TracebackType

from procsup.engine.spawnbatch import Batch

log = logging.getLogger(__name__)

#: takes one spawn's answer and returns the rest of its run's start
Collect = Callable[[], Callable[[], None]]


class Instant:
    def __init__(self, depth: int) -> None:
        self._batch = Batch(depth)
        self._rest: list[Callable[[], None]] = []
        self._gc_was_on = False

    def add(self, collect: Collect) -> None:
        """`collect` runs when the answer is due (Batch); what it returns, after the last."""
        self._batch.add(lambda: self._rest.append(collect()))

    def __enter__(self) -> Instant:
        self._gc_was_on = gc.isenabled()
        gc.disable()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._batch.__exit__(kind, exc, tb)
        finally:  # also after an error: every child answered for is watched
            rest, self._rest = self._rest, []
            for step in rest:
                try:
                    step()
                except Exception:  # a bug in one run must not stop the other runs' starts
                    log.exception("a task run's start failed")
            if self._gc_was_on:
                gc.enable()
