"""The live table of cron tasks: schedule, zone, next run, last run and result, running now."""

from __future__ import annotations

from procsup.tui.fmt import TASK_COLUMNS, task_cells
from procsup.tui.table import Cell, LiveTable, Row


class TaskTable(LiveTable):
    COLUMNS = TASK_COLUMNS
    TIMED = ("next", "last")

    def cells(self, row: Row, now: float) -> tuple[Cell, ...]:
        return task_cells(row, now)
