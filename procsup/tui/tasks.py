"""The live table of cron tasks: schedule, zone, next run, last run and result, running now."""

from __future__ import annotations

from procsup.core.schema import TaskRow
from procsup.tui.fmt import TASK_COLUMNS, task_cells
from procsup.tui.table import Cell, LiveTable


class TaskTable(LiveTable[TaskRow]):
    COLUMNS = TASK_COLUMNS
    TIMED = ("next", "last")

    def cells(self, row: TaskRow, now: float) -> tuple[Cell, ...]:
        return task_cells(row, now)
