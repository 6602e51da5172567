"""A DataTable kept in step with a dict of rows, one row at a time.

Rows are keyed by name. `sync` adds, updates (only the cells whose text changed) or removes just
the named rows, then re-sorts when the order may have changed, and keeps the cursor on the same
row, so a burst of events never rebuilds the table.

What it costs is what is on screen (issue 14: an idle dashboard of 500 instances, 2,000 rows to
scroll and filter). The columns that change with time alone (uptime, "3m ago") are brought up to
date only in the rows in view, each second and whenever other rows come into view; the cells of
rows the filter hides are kept aside for when it shows them again. Rendering only the cells
whose text changed is celltable.py's part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text

from procsup.tui.celltable import Cell, CellTable
from procsup.tui.fmt import Clock

__all__ = ["Cell", "LiveTable", "same"]

#: the schema type of the rows (core/schema.py: InstanceRow, TaskRow)
R = TypeVar("R", bound=Mapping[str, Any])
REBUILD_OVER = 64  # removing more rows than this at once: clear and add back (remove_row is O(n))


def same(a: Cell, b: Cell) -> bool:
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain == b.plain and a.style == b.style and a.spans == b.spans
    return a == b


class LiveTable(CellTable, Generic[R]):
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
        self._sort_keys: dict[str, Any] = {}  # row -> its sort value, until the row changes

    def on_mount(self) -> None:
        for key, label, width in self.COLUMNS:
            self.add_column(label, key=key, width=width)

    # --- what subclasses define -----------------------------------------------------------------

    def cells(self, row: R, now: float) -> tuple[Cell, ...]:
        raise NotImplementedError

    def timed_cells(self, row: R, now: float) -> dict[str, Cell]:
        """The TIMED columns' cells alone (what a tick needs); subclasses may make it cheaper
        than formatting the whole row."""
        cells = self.cells(row, now)
        keys = [key for key, _, _ in self.COLUMNS]
        return {key: cells[keys.index(key)] for key in self.TIMED}

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
                self._sort_keys.clear()
                self.forget_kept()
            names = set(self.rows_source) | set(self._cells)
            gone = [n for n in self._cells if not self._wanted(n)]
            if len(gone) > REBUILD_OVER:
                if refilter:
                    self._parked.update(self._cells)
                    self.clear_keeping()
                else:
                    self.clear()
                self._cells.clear()
        else:
            names = list(names)
            for name in names:
                self._parked.pop(name, None)  # changed: its kept cells are out of date
                self._sort_keys.pop(name, None)
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
        self.write_cells(changed)
        if len(new) > REBUILD_OVER and self.row_count:  # many rows come back: all in order
            new.extend(self._cells.items())
            self.clear()
            self._cells.clear()
        in_order = self._add_rows(new)  # every row added into an empty table: sorted already
        if not in_order and (new or self.sort_by != "name"):
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
        if not self._rebuild_filtered():
            self.sync(refilter=True)

    def _rebuild_filtered(self) -> bool:
        """When the filter hides or shows many rows: the table emptied and filled again with
        the rows it keeps, in order, each row's match tested once, the cells of hidden rows
        kept aside and the DataTable records of every row kept for when it comes back (what
        a cleared filter brings back, 2,000 rows, costs ~5 ms, not ~20). False when few rows
        change: `sync` removes and adds just those."""
        rows, matches, shown = self.rows_source, self.matches, self._cells
        wanted = [name for name, row in rows.items() if matches(row)]
        kept = set(wanted)
        gone = sum(1 for name in shown if name not in kept)
        if max(gone, len(wanted) - (len(shown) - gone)) <= REBUILD_OVER:
            return False
        keep = self.selected
        self._parked.update(shown)
        self.clear_keeping()
        shown.clear()
        now = self.clock.now()
        self._add_rows([(name, self._new_cells(name, now)) for name in wanted])
        self._keep_cursor(keep)
        self._freshen_view()
        return True

    def set_sort(self, key: str) -> None:
        if key == self.sort_by:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_by, self.sort_reverse = key, False
        self._sort_keys.clear()
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
        row = self.rows_source[name]
        if only:
            timed = self.timed_cells(row, now)
            cells = tuple(timed.get(key, "") for key, _, _ in self.COLUMNS)
        else:
            cells = self.cells(row, now)
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

    def _add_rows(self, new: list[tuple[str, tuple[Cell, ...]]]) -> bool:
        """Add rows; into an empty table in their sorted order (then no sort is needed: True)."""
        if not new:
            return False
        in_order = not self.row_count
        if in_order:
            key = self._sort_key
            new.sort(key=lambda nc: key(nc[0]), reverse=self.sort_reverse)
            name, cells = new[0]  # the first through add_row: it highlights the cursor's row
            self._cells[name] = cells
            self.add_row(*cells, key=name)
            new = new[1:]
        self._cells.update(new)
        self.add_rows_at_once(new)
        return in_order

    def _sort_key(self, name: str) -> Any:
        """The row's sort value, kept until the row changes or the sort does (a filter's
        2,000 rows coming back are put in order without 2,000 `sort_value` calls)."""
        value = self._sort_keys.get(name)
        if value is None:
            row = self.rows_source.get(name)
            if row is None:
                return ()
            value = self._sort_keys[name] = self.sort_value(row)
        return value

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
        self.write_cells(changed)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._freshen_view()

    def on_resize(self) -> None:
        """More rows may be in view (textual calls DataTable's own handler too)."""
        self.call_after_refresh(self._freshen_view)

    def _sort(self, keep: str | None) -> None:
        value = self._sort_key
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
