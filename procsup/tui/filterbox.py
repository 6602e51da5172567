"""The filter line under the panes: the tables are filtered while the key is being handled.

With the filter applied from the app's `Input.Changed` handler, the message reached the app
after the box had already asked the screen for a frame to echo the key, so the echo went out
alone and the filtered table followed in the next frame, which textual's frame timer (60 a
second, on a fixed grid) held back 17–33 ms (issue 14: keypress to repaint ≤ 50 ms at 2,000
rows). Filtering from the box's own value watcher puts the tables' repaint in the same frame as
the echo.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import Input


class FilterBox(Input):
    """An Input that calls `on_typed` as soon as its value changes (a key, a paste, a clear)."""

    def __init__(self, on_typed: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_typed = on_typed

    def watch_value(self) -> None:
        self._on_typed()
