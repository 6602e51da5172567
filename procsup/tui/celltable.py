"""A DataTable that renders a cell once per text, for tables that change a few cells at a time.

DataTable keys its rendering caches by one table-wide update count, so after any change it
renders every cell in view again through Rich; a dashboard whose uptimes tick every second spent
most of its time there (issue 14). Here a cell's rendering is kept while its value object is the
one in the table, and the rendering without the cell's coordinates is shared by every cell with
the same text ("RUNNING", "-", "0.0"): a repaint renders only the cells whose text changed.
Changed cells and new rows go in with one update of the table for all, and new rows are measured
only in the columns whose width follows their content.

These are hooks into private DataTable methods (textual 8); tests/tui/test_table_cost.py
compares their renderings with DataTable's own, so a textual release that changes them fails
there, not on screen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._segment_tools import line_crop
from textual.cache import LRUCache
from textual.geometry import Region
from textual.render import measure
from textual.renderables.styled import Styled
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets._data_table import Column, Row, default_cell_formatter
from textual.widgets.data_table import ColumnKey, RowKey

from procsup.tui.bordered import BorderedLines
from procsup.tui.regions import stacked

Cell = str | Text
RENDERED_CELLS = 8192  # cell renderings kept: a few screens' worth, with and without the cursor
ROW_PARTS = 2048  # rows (in each look) whose cell renderings are kept side by side
NULL = Style()


class Frame(NamedTuple):
    """The inputs every line of one repaint shares (CellTable._repaint_inputs)."""

    base_style: Style
    plain: bool
    width: int
    columns: list[Column]
    widths: tuple[int, ...]
    cursor_row: int
    hover_row: int
    show_cursor: bool
    show_hover: bool
    fg_css: bool
    bg_css: bool
    padding: int
    keys: tuple[ColumnKey, ...]  # the columns' keys, in order


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


def put(cache: LRUCache[Any, Any], key: Any, value: Any) -> None:
    """Set `key` in `cache`, replacing what it held: LRUCache.set keeps an existing key's old
    value, so a changed cell would be rendered again at every repaint."""
    cache.discard(key)
    cache.set(key, value)


class CellTable(DataTable[Cell]):
    """A DataTable of one-line rows whose repaints render only the changed cells."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._styles_cache = BorderedLines()  # content lines wrapped in the border directly
        self._rendered: LRUCache[tuple[Any, ...], tuple[Cell, Any]] = LRUCache(RENDERED_CELLS)
        self._by_content: LRUCache[tuple[Any, ...], Any] = LRUCache(RENDERED_CELLS)
        self._widths: dict[str, int] = {}  # measured text cells (a row's name never changes)
        self._frame: Frame | None = None  # what every line reads, during a repaint
        self._row_parts: LRUCache[tuple[RowKey, Any], tuple[list[Cell | None], list[Any]]]
        self._row_parts = LRUCache(ROW_PARTS)
        self._metas: LRUCache[tuple[int, int], Style] = LRUCache(RENDERED_CELLS)
        self._kept: dict[str, tuple[RowKey, Row, dict[ColumnKey, Cell]]] = {}

    def write_cells(self, changed: list[tuple[str, str, Cell]]) -> None:
        """Put changed cells in the table: what `update_cell` does, with one repaint for all."""
        if not changed:
            return
        data = self._data
        for name, key, value in changed:
            data[RowKey(name)][ColumnKey(key)] = value
        if not self._plain():  # DataTable draws these lines: its caches must miss them
            self._update_count += 1
            self.refresh()
            return
        # our lines (`_render_line`) fetch only the changed cells again; DataTable's caches
        # of row order and offsets stay valid (no `_update_count` bump)
        regions = self._cell_regions(changed)
        if regions:  # none on screen: nothing to draw (refresh() alone draws everything)
            self.refresh(*regions)

    def _plain(self) -> bool:
        """True when `_render_line` draws the rows (no labels, fixed parts, stripes, and a
        row cursor), not DataTable."""
        return not (
            self.fixed_rows
            or self.fixed_columns
            or self.zebra_stripes
            or (self._labelled_row_exists and self.show_row_labels)
            or self.cursor_type != "row"
        )

    def _cell_regions(self, changed: list[tuple[str, str, Cell]]) -> list[Region]:
        """The changed cells on screen, in the widget's coordinates: only their lines are
        drawn again (the others stay in textual's line cache) and only the cells are sent to
        the terminal. Every row is one line high."""
        x = 0
        spans: dict[ColumnKey, tuple[int, int]] = {}
        for column in self.ordered_columns:
            width = column.get_render_width(self)
            spans[column.key] = (x, width)
            x += width
        top = self.header_height if self.show_header else 0
        scroll_x, scroll_y = self.scroll_offset
        height = self.size.height
        where = self._row_locations.get
        cells = []
        for name, key, _ in changed:
            index = where(RowKey(name))
            y = (index if index is not None else -1) + top - scroll_y
            if index is not None and top <= y < height:
                left, width = spans[ColumnKey(key)]
                cells.append((left - scroll_x, width, y))
        return stacked(cells)

    def clear_keeping(self) -> None:
        """`clear()`, keeping each row's records (its key, Row and cells) for
        `add_rows_at_once` to take back: a filter that hides and shows rows again builds
        nothing anew and measures nothing again (issue 14: 2,000 rows back at escape)."""
        data = self._data
        self._kept.update((str(key.value), (key, row, data[key])) for key, row in self.rows.items())
        self.clear()

    def forget_kept(self) -> None:
        """Drop the records `clear_keeping` kept (the rows were replaced)."""
        self._kept.clear()

    def add_rows_at_once(self, new: list[tuple[str, tuple[Cell, ...]]]) -> None:
        """Append one-line rows keyed by name, as `add_row` would, with one table update.
        A row kept by `clear_keeping` with the same cells comes back as it was: it was
        measured when it first came, and columns never narrow."""
        if not new:
            return
        columns = [column.key for column in self.ordered_columns]
        index = self.row_count
        kept, locations, data, rows = self._kept, self._row_locations, self._data, self.rows
        for name, cells in new:
            record = kept.pop(name, None)
            if record is not None and tuple(record[2].values()) == cells:
                key, row, data[key] = record
            else:
                key = RowKey(name)
                data[key] = dict(zip(columns, cells, strict=True))
                row = Row(key, 1)
                self._new_rows.add(key)
            locations[key] = index
            rows[key] = row
            index += 1
        self._require_update_dimensions = True
        self._update_count += 1
        self.check_idle()

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
        key = (row_key, column_key, row_index, column_index, *look)
        kept = self._rendered.get(key)
        if kept is not None and kept[0] is value:
            return kept[1]
        lines = self._with_meta(self._render_look(value, look), row_index, column_index)
        put(self._rendered, key, (value, lines))
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
        # merged once here, not in every cell placed or line drawn
        lines = [list(Segment.simplify(line)) for line in lines]
        self._by_content[key] = lines
        return lines

    def _with_meta(self, lines: Any, row_index: int, column_index: int) -> Any:
        """The rendering with the cell's coordinates added to every style, as DataTable does
        (a click on the cell is found by them)."""
        where = (row_index, column_index)
        meta = self._metas.get(where)
        if meta is None:  # a Style of its own per cell: made once (from_meta pickles the dict)
            meta = Style.from_meta({"row": row_index, "column": column_index})
            self._metas.set(where, meta)
        return [
            [seg if seg.control else Segment(seg.text, (seg.style or NULL) + meta) for seg in line]
            for line in lines
        ]

    def clear(self, columns: bool = False) -> CellTable:
        """DataTable's; our renderings are kept unless the columns go (DataTable clears its
        caches here and on every resize, but ours are keyed by every input of a rendering:
        after a filter is cleared, the rows back in view where they were are not drawn anew)."""
        if columns:
            self._rendered.clear()
            self._row_parts.clear()
        return super().clear(columns)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame = self._repaint_inputs(self.rich_style)  # once for all the lines drawn now
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def _repaint_inputs(self, base_style: Style) -> Frame:
        """What every line of one repaint reads: each is a reactive or a walk up the DOM, and
        reading them once a line cost more than putting the line together."""
        columns = self.ordered_columns
        return Frame(
            base_style,
            self._plain(),
            self.size.width,
            columns,
            tuple(column.get_render_width(self) for column in columns),
            self.cursor_coordinate.row,
            self.hover_coordinate.row,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
            self.cell_padding,
            tuple(column.key for column in columns),
        )

    def render_line(self, y: int) -> Strip:
        """DataTable's, with what every line reads read once per repaint."""
        frame = self._frame
        if frame is None or not frame.plain:
            return super().render_line(y)
        scroll_x, scroll_y = self.scroll_offset
        if y >= (self.header_height if self.show_header else 0):
            y += scroll_y
        return self._render_line(y, scroll_x, scroll_x + frame.width, frame.base_style)

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """A line of the table. A one-line row is put together from its cells' renderings kept
        side by side, of which only the cells whose value changed are fetched again: a tick
        that changes the uptime of every row in view draws ~40 lines a second, and DataTable's
        general path (labels, fixed columns, rows of many lines) cost ~0.5 ms a line."""
        frame = self._frame
        if frame is None or frame.base_style is not base_style:
            frame = self._repaint_inputs(base_style)
        if not frame.plain:
            return super()._render_line(y, x1, x2, base_style)
        width = frame.width
        try:
            row_key, _line = self._get_offsets(y)
        except LookupError:
            return Strip.blank(width, base_style)
        row = self.rows.get(row_key)
        index = self._row_locations.get(row_key)
        if row is None or row.height != 1 or index is None:
            return super()._render_line(y, x1, x2, base_style)  # the header, taller rows
        cursor = frame.cursor_row == index
        hover = frame.hover_row == index
        columns, widths = frame.columns, frame.widths
        show_cursor, show_hover = frame.show_cursor, frame.show_hover
        styles = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, show_cursor, show_hover, frame.fg_css, frame.bg_css
        )
        # every input of the line's rendering: kept across style updates (a focus change, the
        # filter box disabled) while the styles it was drawn with stay the same
        look = (index, cursor, hover, show_cursor, show_hover, base_style, styles, widths,
                width, frame.padding)  # fmt: skip
        cells = self._data[row_key]
        keys = frame.keys  # a row's cells are kept in column order: no key looked up if so
        values: list[Cell | None] = (
            list(cells.values()) if tuple(cells) == keys else [cells.get(k) for k in keys]
        )
        key = (row_key, look)  # one entry a look: the focused and unfocused lines both kept
        kept = self._row_parts.get(key)
        if kept is not None:
            shown, parts = kept
            for i, value in enumerate(values):
                if value is not shown[i] and value is not None:
                    # as `_render_cell` renders it (no fixed columns here), kept by the line
                    look_i = (base_style, widths[i], frame.padding, *styles)
                    parts[i] = self._with_meta(self._render_look(value, look_i), index, i)[0]
                    shown[i] = value
        else:
            parts = [
                self._render_cell(index, i, base_style, widths[i], cursor, hover)[0]
                for i in range(len(columns))
            ]
            parts.append(self._extend(index, cursor, hover, base_style, width - sum(widths)))
            self._row_parts.set(key, (values, parts))
        segments = [segment for part in parts for segment in part]
        if x1 == 0 and x2 == width and sum(widths) <= width:  # the whole row fits: no crop
            return Strip(segments, width)
        return Strip(line_crop(segments, x1, x2, width)).adjust_cell_length(width, base_style)

    def _extend(self, index: int, cursor: bool, hover: bool, base: Style, space: int) -> Any:
        """The blank after the last column, styled as DataTable does for a row cursor."""
        if space <= 0:
            return []
        style, _ = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            False, False,
        )  # fmt: skip
        meta = Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
        return [Segment(" " * space, base + style + meta)]

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
