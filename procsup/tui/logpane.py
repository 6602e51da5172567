"""The log pane: follows the selected instance or task live, stdout and stderr told apart.

Scroll back freely; `p` pauses following (lines still arrive, the view stays where it is). `/`
searches what the pane holds: every match is highlighted, the view jumps to the newest one, and
`n`/`N` move to the next/previous (following pauses while a search is on, so the view stays).
The pane keeps the text of its lines beside the rendered ones, so a search can re-render them.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import RichLog

from procsup.control.client import NoMaster
from procsup.control.protocol import ProtocolError
from procsup.tui.fmt import Clock, log_line
from procsup.tui.source import Source

BACKLOG = 200
MAX_LINES = 5000
MATCH_STYLE = "black on yellow"


class LogPane(RichLog):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "app.search_log", "search log"),
        Binding("n", "next_match(1)", "next match", show=False),
        Binding("N", "next_match(-1)", "previous match", show=False),
    ]

    def __init__(self, source: Source, clock: Clock, **kwargs: Any) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, highlight=False, **kwargs)
        self.source = source
        self.clock = clock
        self.target: str | None = None
        self.paused = False
        self.received = 0
        self.needle = ""  # the search, lower-cased; "" = none
        self.current: Text | None = None  # the line of the current match
        self.match_count = 0
        self._match_pos: int | None = None  # 1-based position of the current match
        self._texts: deque[Text] = deque(maxlen=MAX_LINES)  # one per line of the log
        self._title()

    def follow(self, name: str | None, again: bool = False) -> None:
        """Show the output of `name` (an instance or a task); `again` re-subscribes."""
        if name == self.target and not again:
            return
        self.target = name
        self.clear()
        self._texts.clear()
        self.current, self.match_count, self._match_pos = None, 0, None
        self.received = 0
        self._title()
        if name is not None:
            self.run_worker(self._stream(name), group="logs", exclusive=True, exit_on_error=False)

    def toggle_pause(self) -> bool:
        self.paused = not self.paused
        self._follow_end()
        self._title()
        return self.paused

    def _follow_end(self) -> None:
        self.auto_scroll = not self.paused and not self.needle
        if self.auto_scroll:
            self.scroll_end(animate=False)

    async def _stream(self, name: str) -> None:
        try:
            async for item in self.source.logs(name, BACKLOG):
                self.add(log_line(item, self.clock))
                self.received += 1
        except NoMaster:
            self._note("the connection to the master was lost")
        except ProtocolError as exc:
            self._note(exc.message)

    def add(self, text: Text) -> None:
        """Write one line, highlighted when it matches the search."""
        for line in text.split("\n", allow_blank=True) if "\n" in text.plain else [text]:
            if self.needle:
                self._count(line)
            self._texts.append(line)
            self.write(self._shown(line))
        if self.needle:
            self._title()

    def _count(self, line: Text) -> None:
        """Keep the match count (and the current one's position) as lines come and go."""
        if len(self._texts) == self._texts.maxlen and self._is_match(self._texts[0]):
            self.match_count -= 1
            if self._match_pos is not None:
                self._match_pos = self._match_pos - 1 or None
        if self._is_match(line):
            self.match_count += 1

    def _is_match(self, line: Text) -> bool:
        return bool(self.needle) and self.needle in line.plain.lower()

    def _note(self, message: str) -> None:
        self.add(Text(f"-- {message} --", style="italic yellow"))

    # --- search ---------------------------------------------------------------------------------

    def search(self, needle: str) -> int:
        """Highlight every line holding `needle` (any case), jump to the newest; the count."""
        self.needle = needle.strip().lower()
        self.current, self._match_pos = None, None
        self.clear()
        for line in self._texts:
            self.write(self._shown(line), scroll_end=False)
        self._follow_end()
        matches = self.matches()
        self.match_count = len(matches)
        if matches:
            self._jump(matches, len(matches) - 1)
        self._title()
        return len(matches)

    def clear_search(self) -> None:
        if self.needle:
            self.search("")

    def matches(self) -> list[int]:
        """Indices of the lines that match the search."""
        return [i for i, line in enumerate(self._texts) if self._is_match(line)]

    @property
    def current_index(self) -> int | None:
        """The line of the current match (its y in the pane), if any."""
        if self.current is None:
            return None
        try:
            return self._texts.index(self.current)
        except ValueError:  # trimmed away at the top
            return None

    def action_next_match(self, step: int) -> None:
        matches = self.matches()
        if not matches:
            return
        here = self.current_index
        positions = range(len(matches))
        if here is None:
            pos = len(matches) - 1 if step < 0 else 0
        elif step > 0:
            pos = next((p for p in positions if matches[p] > here), 0)  # wraps
        else:
            pos = next((p for p in reversed(positions) if matches[p] < here), len(matches) - 1)
        self._jump(matches, pos)
        self._title()

    def _jump(self, matches: list[int], pos: int) -> None:
        index = matches[pos]
        self.current, self._match_pos = self._texts[index], pos + 1
        height = self.scrollable_content_region.height
        self.scroll_to(y=max(0, index - height // 2), animate=False)

    def _shown(self, line: Text) -> Text:
        if not self._is_match(line):
            return line
        marked = line.copy()
        marked.highlight_words([self.needle], MATCH_STYLE, case_sensitive=False)
        return marked

    def _title(self) -> None:
        what = self.target or "nothing selected"
        self.border_title = f"log · {what}"
        if self.needle:
            at = f"{self._match_pos} of " if self._match_pos else ""
            self.border_subtitle = (
                f"search {self.needle!r}: {at}{self.match_count} match(es) · n/N · esc clears"
            )
        elif self.paused:
            self.border_subtitle = "paused (p to follow) · m maximise · / search"
        else:
            self.border_subtitle = "following (p to pause) · m maximise · / search"
