"""The footer of keys, rebuilt only when the keys it shows change.

textual's Footer removes and mounts all its keys again whenever the screen's bindings are
updated, which is on every focus change; with 2,000 rows that rebuild and the layout it causes
were a good part of `/`, `enter` and `escape` (issue 14: keypress to repaint ≤ 50 ms). The keys
this dashboard shows are the app's, whatever has the focus (the tables' and the inputs' own keys
are not shown), so most focus changes change nothing in the footer and rebuild nothing.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer

Shown = tuple[tuple[str, str, str, bool, str], ...]


def shown_keys(screen: Screen[Any]) -> Shown:
    """What the footer shows for `screen`: each shown key, its label, action, state, tooltip."""
    palette = screen.app.COMMAND_PALETTE_BINDING
    return tuple(
        (binding.key, binding.description, binding.action, enabled, tooltip)
        for key, (_node, binding, enabled, tooltip) in screen.active_bindings.items()
        if binding.show or key == palette
    )


class KeyFooter(Footer):
    """A Footer that skips the rebuild when the keys it would show are the ones it shows."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: Shown | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        keys = shown_keys(screen)
        if keys == self._shown and screen is self.screen:
            return
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = keys  # Footer rebuilds in this case only
        super().bindings_changed(screen)
