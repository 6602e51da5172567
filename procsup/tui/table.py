"""A DataTable kept in step with a dict of rows, one row at a time.

Rows are keyed by name. `sync` adds, updates (only the cells whose text changed) or removes just
the named rows, then re-sorts when the order may have changed, and keeps the cursor on the same
row, so a burst of events never rebuilds the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual.widgets import DataTable

from procsup.tui.fmt import Clock

#: the schema type of the rows (core/schema.py: InstanceRow, TaskRow)
R = TypeVar("R", bound=Mapping[str, Any])
Cell = str | Text
REBUILD_OVER = 64  # removing more rows than this at once: clear and add back (remove_row is O(n))


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

    def sync(self, names: Iterable[str] | None = None) -> None:
        """Bring the named rows (None: every row) in step with the source."""
        keep = self.selected
        now = self.clock.now()
        if names is None:
            names = set(self.rows_source) | set(self._cells)
            gone = [n for n in self._cells if not self._wanted(n)]
            if len(gone) > REBUILD_OVER:
                self.clear()
                self._cells.clear()
        added = False
        for name in names:
            if self._wanted(name):
                added = self._upsert(name, now) or added
            elif name in self._cells:
                del self._cells[name]
                self.remove_row(name)
        if added or self.sort_by != "name":
            self._sort(keep)
        else:
            self._keep_cursor(keep)

    def tick(self) -> None:
        """Refresh the columns that change with time alone (uptime, "3m ago")."""
        now = self.clock.now()
        for name in self._cells:
            self._upsert(name, now, only=self.TIMED)

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self.sync()

    def set_sort(self, key: str) -> None:
        if key == self.sort_by:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_by, self.sort_reverse = key, False
        self._sort(self.selected)

    def cycle_sort(self) -> None:
        self.set_sort(self.SORTS[(self.SORTS.index(self.sort_by) + 1) % len(self.SORTS)])

    def _wanted(self, name: str) -> bool:
        row = self.rows_source.get(name)
        return row is not None and self.matches(row)

    def _upsert(self, name: str, now: float, only: tuple[str, ...] = ()) -> bool:
        cells = self.cells(self.rows_source[name], now)
        old = self._cells.get(name)
        if old is None:
            self._cells[name] = cells
            self.add_row(*cells, key=name)
            return True
        shown = list(old)
        for i, (key, _, _) in enumerate(self.COLUMNS):
            if (not only or key in only) and not same(cells[i], old[i]):
                self.update_cell(name, key, cells[i])
                shown[i] = cells[i]
        self._cells[name] = tuple(shown)
        return False

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
