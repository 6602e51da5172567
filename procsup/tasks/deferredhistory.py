"""The scheduler's run history, opened on first use.

A master with no task never writes a run, yet opening the history loaded SQLite (the module,
libsqlite3 and a connection with its page cache: ~2.5 MiB of the master's RSS at 2,000
instances, issue 14). So the database is opened, and the runs a killed master left
"running" are marked abandoned, when something first needs it: a task being added (at start
or on a reload), `procsup history`, a fleet heartbeat. Whoever looks first sees exactly what
an eager open would have shown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from procsup.tasks.history import History

log = logging.getLogger(__name__)


class DeferredHistory:
    """Stands for a `History` (every method of it, through `__getattr__`); the first call
    opens the database under `state_dir`, lets writes gather (history.COMMIT_DELAY) through
    `call_later`, and marks the runs of `host` left running as abandoned."""

    def __init__(
        self,
        state_dir: Path,
        host: str,
        call_later: Callable[[float, Callable[[], None]], object],
    ) -> None:
        self._state_dir = state_dir
        self._host = host
        self._call_later = call_later
        self._opened: History | None = None

    def opened(self) -> History:
        if self._opened is None:
            from procsup.tasks.history import COMMIT_DELAY, open_history

            history = open_history(self._state_dir)
            history.commit_within(COMMIT_DELAY, self._call_later)
            abandoned = history.mark_abandoned(self._host)
            if abandoned:
                log.warning(
                    "%d task run(s) were still running when the last master stopped", abandoned
                )
            self._opened = history
        return self._opened

    def __getattr__(self, name: str) -> Any:
        return getattr(self.opened(), name)

    def flush(self) -> None:
        if self._opened is not None:
            self._opened.flush()

    def close(self) -> None:
        """Commit and close, if it was ever opened (a master without tasks never opens it)."""
        if self._opened is not None:
            self._opened.close()
