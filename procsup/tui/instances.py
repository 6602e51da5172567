"""The live table of instances: state in colour, pid, uptime, restarts, CPU%, RSS, last exit."""

from __future__ import annotations

from typing import Any

from procsup.core.humanize import state_rank
from procsup.core.schema import InstanceRow
from procsup.tui.fmt import INSTANCE_COLUMNS, instance_cells, last_exit_text, uptime_text
from procsup.tui.table import Cell, LiveTable


class InstanceTable(LiveTable[InstanceRow]):
    COLUMNS = INSTANCE_COLUMNS
    SORTS = ("name", "state", "cpu", "rss", "uptime", "restarts")
    TIMED = ("uptime", "last_exit")

    def cells(self, row: InstanceRow, now: float) -> tuple[Cell, ...]:
        return instance_cells(row, now, self.clock)

    def timed_cells(self, row: InstanceRow, now: float) -> dict[str, Cell]:
        return {"uptime": uptime_text(row, now), "last_exit": last_exit_text(row, now)}

    def sort_value(self, row: InstanceRow) -> Any:
        name = (row["program"], row["num"], row["name"])
        by = self.sort_by
        if by == "state":
            return (state_rank(row["state"]), name)
        if by in ("cpu", "rss", "restarts"):
            value: float = row.get(by) or 0  # type: ignore[assignment]
            return (-value, name)  # biggest first
        if by == "uptime":
            started = row["started"]
            return (started is None, started or 0.0, name)  # longest up first
        return name

    def matches(self, row: InstanceRow) -> bool:
        text = self.filter_text
        return not text or text in row["name"].lower() or text == row["state"].lower()
