"""The log pane: follows the selected instance or task live, stdout and stderr told apart.

Scroll back freely; `p` pauses following (lines still arrive, the view stays where it is).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from procsup.tui.fmt import Clock, log_line
from procsup.tui.source import CommandError, MasterGone, Source

BACKLOG = 200
MAX_LINES = 5000


class LogPane(RichLog):
    def __init__(self, source: Source, clock: Clock, **kwargs: Any) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, highlight=False, **kwargs)
        self.source = source
        self.clock = clock
        self.target: str | None = None
        self.paused = False
        self.received = 0
        self._title()

    def follow(self, name: str | None, again: bool = False) -> None:
        """Show the output of `name` (an instance or a task); `again` re-subscribes."""
        if name == self.target and not again:
            return
        self.target = name
        self.clear()
        self.received = 0
        self._title()
        if name is not None:
            self.run_worker(self._stream(name), group="logs", exclusive=True, exit_on_error=False)

    def toggle_pause(self) -> bool:
        self.paused = not self.paused
        self.auto_scroll = not self.paused
        if not self.paused:
            self.scroll_end(animate=False)
        self._title()
        return self.paused

    async def _stream(self, name: str) -> None:
        try:
            async for item in self.source.logs(name, BACKLOG):
                self.write(log_line(item, self.clock))
                self.received += 1
        except MasterGone:
            self._note("the connection to the master was lost")
        except CommandError as exc:
            self._note(exc.message)

    def _note(self, message: str) -> None:
        self.write(Text(f"-- {message} --", style="italic yellow"))

    def _title(self) -> None:
        what = self.target or "nothing selected"
        self.border_title = f"log · {what}"
        self.border_subtitle = "paused (p to follow)" if self.paused else "following (p to pause)"
