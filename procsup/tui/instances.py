"""The live table of instances: state in colour, pid, uptime, restarts, CPU%, RSS, last exit."""

from __future__ import annotations

from typing import Any

from procsup.tui.fmt import INSTANCE_COLUMNS, STATE_ORDER, instance_cells
from procsup.tui.table import Cell, LiveTable, Row


class InstanceTable(LiveTable):
    COLUMNS = INSTANCE_COLUMNS
    SORTS = ("name", "state", "cpu", "rss", "uptime", "restarts")
    TIMED = ("uptime", "last_exit")

    def cells(self, row: Row, now: float) -> tuple[Cell, ...]:
        return instance_cells(row, now, self.clock)

    def sort_value(self, row: Row) -> Any:
        name = (row.get("program", ""), row.get("num", 0), row["name"])
        by = self.sort_by
        if by == "state":
            state = row.get("state", "")
            return (STATE_ORDER.index(state) if state in STATE_ORDER else 99, name)
        if by in ("cpu", "rss", "restarts"):
            return (-(row.get(by) or 0), name)  # biggest first
        if by == "uptime":
            started = row.get("started")
            return (started is None, started or 0.0, name)  # longest up first
        return name

    def matches(self, row: Row) -> bool:
        text = self.filter_text
        return not text or text in row["name"].lower() or text == str(row.get("state")).lower()
