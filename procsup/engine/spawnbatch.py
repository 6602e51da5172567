"""Many spawns at once, overlapped: the master's autostart of 2,000 instances.

A spawn through the spawn helper is a request and an answer (the child has exec'd, or why
not). One after the other, every spawn waits for its own child's exec, and the master and the
helper take turns waiting for each other. In a batch, up to DEPTH requests are out at a time:
the helper clones the next child while earlier ones exec on the other core, and the master
prepares the next instance meanwhile. It all runs in one go, with no await, so nothing else
runs in the master meanwhile (no request, no reaping: a child that exits at once is reaped
after its watcher is in place, as with a lone spawn), and each instance sees its spawn end
exactly as it would alone: RUNNING, or the same spawn error.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from types import TracebackType

DEPTH = 16  # requests out at a time: enough for two cores, few enough for the socket's buffer


class Batch:
    """Collects the second halves of spawns (`add`) and runs them in order, at most DEPTH
    behind the first halves; the rest when the batch ends."""

    def __init__(self, depth: int = DEPTH) -> None:
        self._depth = depth
        self._open: deque[Callable[[], None]] = deque()

    def add(self, finish: Callable[[], None]) -> None:
        """`finish` completes a submitted spawn (and whatever follows it for its instance)."""
        self._open.append(finish)
        while len(self._open) > self._depth:
            self._open.popleft()()

    def __enter__(self) -> Batch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        while self._open:  # also after an error: every child sent for is seen to
            self._open.popleft()()
