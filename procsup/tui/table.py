"""A DataTable kept in step with a dict of rows, one row at a time.

Rows are keyed by name. `sync` adds, updates (only the cells whose text changed) or removes just
the named rows, then re-sorts when the order may have changed, and keeps the cursor on the same
row, so a burst of events never rebuilds the table.

What it costs is what is on screen (issue 14: an idle dashboard of 500 instances, 2,000 rows to
scroll and filter). The columns that change with time alone (uptime, "3m ago") are brought up to
date only in the rows in view, each second and whenever other rows come into view. Changed cells
are written in one batch (one repaint, not one per cell). DataTable re-renders every cell in view
after any change (its caches are keyed by a table-wide update count), so `_render_cell` keeps the
rendering of each cell for as long as that cell's value object is the one in the table: a repaint
renders only the cells whose text changed. New rows are measured only in the columns whose width
follows their content. These hooks override private DataTable methods (textual 8); the tests in
tests/tui/test_table_cost.py say so when a textual release changes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.render import measure
from textual.renderables.styled import Styled
from textual.widgets import DataTable
from textual.widgets._data_table import Row, default_cell_formatter
from textual.widgets.data_table import ColumnKey, RowKey

from procsup.tui.fmt import Clock

#: the schema type of the rows (core/schema.py: InstanceRow, TaskRow)
R = TypeVar("R", bound=Mapping[str, Any])
Cell = str | Text
REBUILD_OVER = 64  # removing more rows than this at once: clear and add back (remove_row is O(n))
RENDERED_CELLS = 8192  # cell renderings kept: a few screens' worth, with and without the cursor


NULL = Style()


def _content_key(value: Cell) -> Any:
    """A hashable stand-in for what a cell shows."""
    if isinstance(value, Text):
        return (
            value.plain,
            value.style,
            tuple(value.spans),
            value.justify,
            value.overflow,
            value.no_wrap,
        )
    return value


def same(a: Cell, b: Cell) -> bool:
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain == b.plain and a.style == b.style and a.spans == b.spans
    return a == b


class LiveTable(DataTable[Cell], Generic[R]):
    """Subclasses give the columns, the cells of a row, a sort key and the filter rule."""

    COLUMNS: ClassVar[list[tuple[str, str, int | None]]] = []
    SORTS: ClassVar[tuple[str, ...]] = ("name",)
    TIMED: ClassVar[tuple[str, ...]] = ()  # columns whose text changes with time alone

    def __init__(self, rows: Mapping[str, R], clock: Clock, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self.rows_source = rows
        self.clock = clock
        self.filter_text = ""
        self.sort_by = "name"
        self.sort_reverse = False
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._now = clock.now()  # the time the TIMED cells in view were computed at
        self._fresh: dict[str, float] = {}  # row -> the `_now` its TIMED cells show
        self._parked: dict[str, tuple[Cell, ...]] = {}  # the cells of rows the filter hides
        self._rendered: LRUCache[tuple[Any, ...], tuple[Cell, Any]] = LRUCache(RENDERED_CELLS)
        self._by_content: LRUCache[tuple[Any, ...], Any] = LRUCache(RENDERED_CELLS)
        self._widths: dict[str, int] = {}  # measured name cells (names never change)

    def on_mount(self) -> None:
        for key, label, width in self.COLUMNS:
            self.add_column(label, key=key, width=width)

    # --- what subclasses define -----------------------------------------------------------------

    def cells(self, row: R, now: float) -> tuple[Cell, ...]:
        raise NotImplementedError

    def sort_value(self, row: R) -> Any:
        return row["name"]

    def matches(self, row: R) -> bool:
        return not self.filter_text or self.filter_text in row["name"].lower()

    # --- keeping in step ------------------------------------------------------------------------

    @property
    def selected(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return key if key in self._cells else None

    @property
    def shown(self) -> int:
        return len(self._cells)

    def sync(self, names: Iterable[str] | None = None, *, refilter: bool = False) -> None:
        """Bring the named rows (None: every row) in step with the source. With `refilter`
        (the filter changed, not the rows), the cells of rows filtered out are kept aside, so
        showing them again costs no formatting."""
        keep = self.selected
        now = self.clock.now()
        if names is None:
            if not refilter:
                self._parked.clear()
            names = set(self.rows_source) | set(self._cells)
            gone = [n for n in self._cells if not self._wanted(n)]
            if len(gone) > REBUILD_OVER:
                if refilter:
                    self._parked.update(self._cells)
                self.clear()
                self._cells.clear()
        else:
            names = list(names)
            for name in names:
                self._parked.pop(name, None)  # changed: its kept cells are out of date
        changed: list[tuple[str, str, Cell]] = []
        new: list[tuple[str, tuple[Cell, ...]]] = []
        for name in names:
            if not self._wanted(name):
                if name in self._cells:
                    cells = self._cells.pop(name)
                    if refilter:  # hidden by the filter, unchanged
                        self._parked[name] = cells
                    self.remove_row(name)
            elif name in self._cells:
                if not refilter:  # a shown row the filter keeps is up to date already
                    self._upsert(name, now, changed)
            else:
                new.append((name, self._new_cells(name, now)))
        self._write(changed)
        if len(new) > REBUILD_OVER and self.row_count:  # many rows come back: all in order
            new.extend(self._cells.items())
            self.clear()
            self._cells.clear()
        self._add_rows(new)
        if new or self.sort_by != "name":
            self._sort(keep)
        else:
            self._keep_cursor(keep)
        self._freshen_view()

    def tick(self) -> None:
        """Refresh the columns that change with time alone (uptime, "3m ago"), in the rows in
        view; the others are brought up to date when they come into view."""
        self._now = self.clock.now()
        self._freshen_view()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self.sync(refilter=True)

    def set_sort(self, key: str) -> None:
        if key == self.sort_by:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_by, self.sort_reverse = key, False
        self._sort(self.selected)
        self._freshen_view()

    def cycle_sort(self) -> None:
        self.set_sort(self.SORTS[(self.SORTS.index(self.sort_by) + 1) % len(self.SORTS)])

    def _wanted(self, name: str) -> bool:
        row = self.rows_source.get(name)
        return row is not None and self.matches(row)

    def _upsert(
        self,
        name: str,
        now: float,
        changed: list[tuple[str, str, Cell]],
        only: tuple[str, ...] = (),
    ) -> None:
        """Put the shown row's changed cells (of the columns in `only`) in `changed`."""
        cells = self.cells(self.rows_source[name], now)
        self._fresh[name] = self._now
        old = self._cells[name]
        shown = list(old)
        for i, (key, _, _) in enumerate(self.COLUMNS):
            if (not only or key in only) and not same(cells[i], old[i]):
                changed.append((name, key, cells[i]))
                shown[i] = cells[i]
        self._cells[name] = tuple(shown)

    def _new_cells(self, name: str, now: float) -> tuple[Cell, ...]:
        """The cells of a row coming into the table: the ones kept aside when the filter hid
        it (their TIMED cells are freshened when in view), else formatted now."""
        cells = self._parked.pop(name, None)
        if cells is None:
            cells = self.cells(self.rows_source[name], now)
            self._fresh[name] = self._now
        return cells

    def _add_rows(self, new: list[tuple[str, tuple[Cell, ...]]]) -> None:
        """Add rows; into an empty table in their sorted order (then no sort is needed), and
        many at once as `add_row` would, but with one update of the table for all."""
        if not new:
            return
        if not self.row_count:
            rows = self.rows_source
            new.sort(key=lambda nc: self.sort_value(rows[nc[0]]), reverse=self.sort_reverse)
            name, cells = new[0]  # the first through add_row: it highlights the cursor's row
            self._cells[name] = cells
            self.add_row(*cells, key=name)
            new = new[1:]
        columns = [column.key for column in self.ordered_columns]
        index = self.row_count
        for name, cells in new:
            key = RowKey(name)
            self._cells[name] = cells
            self._row_locations[key] = index
            self._data[key] = dict(zip(columns, cells, strict=True))
            self.rows[key] = Row(key, 1)
            self._new_rows.add(key)
            index += 1
        if new:
            self._require_update_dimensions = True
            self._update_count += 1
            self.check_idle()

    def _write(self, changed: list[tuple[str, str, Cell]]) -> None:
        """Put changed cells in the table: what `update_cell` does, with one repaint for all."""
        if not changed:
            return
        data = self._data
        for name, key, value in changed:
            data[RowKey(name)][ColumnKey(key)] = value
        self._update_count += 1
        self.refresh()

    def in_view(self) -> list[str]:
        """The names of the rows on screen (every row is one line high)."""
        header = self.header_height if self.show_header else 0
        top = round(self.scroll_y)
        bottom = min(self.row_count, top + max(0, self.size.height - header) + 1)
        get = self._row_locations.get_key
        return [str(key.value) for i in range(top, bottom) if (key := get(i)) is not None]

    def _freshen_view(self) -> None:
        """Bring the TIMED cells of the rows in view up to `_now` (those not already there)."""
        if not self.TIMED:
            return
        now, fresh = self._now, self._fresh
        changed: list[tuple[str, str, Cell]] = []
        for name in self.in_view():
            if fresh.get(name) != now and name in self.rows_source and name in self._cells:
                self._upsert(name, now, changed, only=self.TIMED)
        self._write(changed)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._freshen_view()

    def on_resize(self) -> None:
        """More rows may be in view (textual calls DataTable's own handler too)."""
        self.call_after_refresh(self._freshen_view)

    def _sort(self, keep: str | None) -> None:
        rows = self.rows_source

        def value(name: str) -> Any:
            return self.sort_value(rows[name]) if name in rows else ()

        order = sorted(self._cells, key=value, reverse=self.sort_reverse)
        if order != [row.key.value for row in self.ordered_rows]:  # sorting repaints every cell
            self.sort("name", key=value, reverse=self.sort_reverse)
        self._keep_cursor(keep)

    def _keep_cursor(self, name: str | None) -> None:
        if name is None or name not in self._cells:
            return
        index = self.get_row_index(name)
        if index != self.cursor_row:
            self.move_cursor(row=index, scroll=False)

    # --- DataTable hooks: render and measure only what changed --------------------------------

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> Any:
        """A cell's rendering, kept while its value object is the one in the table."""
        header = row_index == -1
        row_key = self._header_row_key if header else self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index) if column_index >= 0 else None
        row = None if header or row_key is None else self.rows.get(row_key)
        height = self.header_height if header else (row.height if row is not None else 0)
        if row_key is None or column_key is None or height != 1 or self.fixed_rows:
            # row labels, rows of other heights: as DataTable does
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        value = self.columns[column_key].label if header else self._data[row_key][column_key]
        styles = self._get_styles_to_render_cell(
            header,
            False,
            not header and column_index < self.fixed_columns,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        look = (base_style, width, self.cell_padding, *styles)  # all the rendering depends on
        key = (row_key, column_key, row_index, *look)
        kept = self._rendered.get(key)
        if kept is not None and kept[0] is value:
            return kept[1]
        lines = self._with_meta(self._render_look(value, look), row_index, column_index)
        self._rendered[key] = (value, lines)
        return lines

    def _render_look(self, value: Cell, look: tuple[Any, ...]) -> Any:
        """What DataTable renders for a cell, without the cell's coordinates in its style (so
        the many cells with the same text, a "RUNNING" or a "-", are rendered once). Kept
        across DataTable's cache clears (a focus change clears them): the key holds every
        input of the rendering, the styles included."""
        key = (_content_key(value), *look)
        lines = self._by_content.get(key)
        if lines is not None:
            return lines
        base_style, width, padding, component_style, post_style = look
        options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
        renderable = default_cell_formatter(value, wrap=False, height=1) or Text()
        lines = self.app.console.render_lines(
            Styled(
                Padding(renderable, (0, padding)),
                pre_style=base_style + component_style,
                post_style=post_style,
            ),
            options,
        )
        self._by_content[key] = lines
        return lines

    def _with_meta(self, lines: Any, row_index: int, column_index: int) -> Any:
        """The rendering with the cell's coordinates added to every style, as DataTable does
        (a click on the cell is found by them)."""
        meta = Style.from_meta({"row": row_index, "column": column_index})
        return [
            [seg if seg.control else Segment(seg.text, (seg.style or NULL) + meta) for seg in line]
            for line in lines
        ]

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._rendered.clear()

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Widen the content-sized columns for the new rows, then let DataTable size the table.
        Only those columns' widths depend on the cells, so only their cells are measured."""
        console = self.app.console
        auto = [column for column in self.ordered_columns if column.auto_width]
        for row_key in new_rows:
            cells = self._data.get(row_key)
            if cells is None:
                continue  # removed before the table was idle
            for column in auto:
                cell = cells.get(column.key)
                width = self._measure(console, cell) if cell is not None else 0
                column.content_width = max(column.content_width, width)
        super()._update_dimensions(())

    def _measure(self, console: Any, cell: Cell) -> int:
        if isinstance(cell, Text):
            return measure(console, cell, 1)
        width = self._widths.get(cell)
        if width is None:
            width = self._widths[cell] = measure(console, Text.from_markup(cell), 1)
        return width
