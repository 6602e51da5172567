"""The footer of keys, changed in place when the focus moves.

textual's Footer removes and mounts all its keys again whenever the screen's bindings are
updated, which is on every focus change; with 2,000 rows that rebuild was a good part of `/`,
`enter` and `escape` (issue 14: keypress to repaint ≤ 50 ms). Here a focus change that only hides
or shows some of the keys already built (the filter box takes the printable keys, so their keys
are hidden while it has the focus) hides or shows them; the footer is rebuilt only when a key it
never had appears, or a key's label or state changes.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: a shown key: key, description, action, enabled, tooltip
Key = tuple[str, str, str, bool, str]


def shown_keys(screen: Screen[Any]) -> tuple[Key, ...]:
    """What a footer shows for `screen`, in its order (the command palette's key included)."""
    palette = screen.app.COMMAND_PALETTE_BINDING
    return tuple(
        (binding.key, binding.description, binding.action, enabled, tooltip)
        for key, (_node, binding, enabled, tooltip) in screen.active_bindings.items()
        if binding.show or key == palette
    )


class KeyFooter(Footer):
    """A Footer that hides and shows the keys it built instead of building them again."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._built: tuple[Key, ...] = ()  # the keys of the last rebuild
        self._shown: tuple[Key, ...] | None = None  # the keys on screen now

    def bindings_changed(self, screen: Screen[Any]) -> None:
        keys = shown_keys(screen)
        here = screen is self.screen and self.is_attached
        if here and keys == self._shown:
            return
        if here and self._toggle(keys):
            self._shown = keys
            return
        if here and screen.app.app_focus:
            self._built = self._shown = keys  # Footer rebuilds in this case only
        super().bindings_changed(screen)

    def _toggle(self, keys: tuple[Key, ...]) -> bool:
        """Show just `keys` by hiding the others, if they are all among the keys built (same
        label, same state, same order); False when only a rebuild can show them."""
        widgets = {(w.key, w.action): w for w in self.children if isinstance(w, FooterKey)}
        if len(widgets) != len(self.children) or len(widgets) != len(self._built):
            return False  # groups, or a rebuild still to come
        if any((key[0], key[2]) not in widgets for key in self._built):
            return False
        if [key for key in self._built if key in keys] != list(keys):
            return False  # a new key, a changed label or state, another order
        with self.app.batch_update():
            for key in self._built:
                widgets[key[0], key[2]].display = key in keys
        return True
