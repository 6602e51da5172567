"""The table's lines wrapped in its border, without textual's general line path.

textual's StylesCache.render_line serves every widget: for each line it reads the border,
outline, padding, tint, hatch and opacity rules, mixes the border colours and looks up the
app's ANSI theme, whatever the line. On the dashboard's idle tick ~30 table lines change each
second (their uptimes), and that general path cost about as much as putting the line together
(issue 14: the idle dashboard ≤ 1 % of a core). A table with a plain left and right border and
none of those effects has content lines that are just `left + content + right`: the two sides
are worked out once per repaint and every content line is wrapped with them. Any other line,
or any style the shortcut does not cover, takes textual's path.

A hook into a private textual class (textual 8): tests/tui/test_table_cost.py compares the
lines with StylesCache's own, so a release that changes them fails there, not on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from rich.segment import Segment
from rich.style import Style as RichStyle
from textual._border import get_box
from textual._styles_cache import StylesCache
from textual.color import Color
from textual.geometry import Size
from textual.strip import Strip
from textual.style import Style


class Sides(NamedTuple):
    """What wraps every content line of one repaint."""

    left: Segment
    right: Segment
    inner: RichStyle  # the content's background, to pad a short line
    top: int  # content lines are gutter.top <= y < bottom
    bottom: int


class BorderedLines(StylesCache):
    """A StylesCache that wraps content lines in the widget's sides directly when it may."""

    def __init__(self) -> None:
        super().__init__()
        self._sides: Sides | None = None  # during one `render`, when the shortcut applies
        self._kept_sides: tuple[Any, Sides | None] = (None, None)

    def render(self, styles: Any, size: Size, base_background: Color, background: Color,
               *args: Any, **kwargs: Any) -> list[Strip]:  # fmt: skip
        opacity = kwargs.get("opacity", 1.0)
        self._sides = self._sides_for(styles, size, base_background, background, opacity)
        try:
            return super().render(styles, size, base_background, background, *args, **kwargs)
        finally:
            self._sides = None

    def _sides_for(
        self, styles: Any, size: Size, base: Color, background: Color, opacity: float
    ) -> Sides | None:
        """The sides of this repaint's content lines, or None when a style needs textual's
        path (padding, outline, tint, hatch, text opacity, opacity, a missing side)."""
        border, outline, padding = styles.border, styles.outline, styles.padding
        key = (border, outline, padding, base, background, opacity, size.height)
        kept_key, kept = self._kept_sides
        if kept_key == key and self._plain(styles):
            return kept
        sides = None
        (_, _), (right, right_color), (_, _), (left, left_color) = border
        if (
            left
            and right
            and not any(kind for kind, _ in outline)
            and padding == (0, 0, 0, 0)
            and opacity == 1.0
            and self._plain(styles)
        ):
            inner, outer = self.get_inner_outer(base, background)
            left_style = Style(foreground=base + left_color.multiply_alpha(opacity))
            right_style = Style(foreground=base + right_color.multiply_alpha(opacity))
            gutter = styles.gutter
            sides = Sides(
                get_box(left, inner, outer, left_style)[1][0],
                get_box(right, inner, outer, right_style)[1][2],
                inner.rich_style,
                gutter.top,
                size.height - gutter.bottom,
            )
        self._kept_sides = (key, sides)
        return sides

    @staticmethod
    def _plain(styles: Any) -> bool:
        """No effect that changes the content's segments (read on every repaint: a focus
        change can set them)."""
        return (
            not styles.tint.a
            and styles.text_opacity == 1.0
            and not (styles.has_rule("hatch") and styles.hatch != "none")
        )

    def render_line(
        self,
        styles: Any,
        y: int,
        size: Size,
        content_size: Size,
        padding: Any,
        base_background: Color,
        background: Color,
        render_content_line: Callable[[int], Strip],
        *args: Any,
    ) -> Strip:
        sides = self._sides
        if sides is None or not sides.top <= y < sides.bottom or y - sides.top >= content_size[1]:
            return super().render_line(
                styles, y, size, content_size, padding, base_background, background,
                render_content_line, *args,
            )  # fmt: skip
        line = render_content_line(y - sides.top).adjust_cell_length(content_size[0], sides.inner)
        return Strip([sides.left, *line, sides.right], size[0])
