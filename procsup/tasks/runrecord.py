"""One run of a cron task as the history keeps it (history.py), without SQLite: the master
and its clients handle these records without loading the database code (issue 14: a master
without tasks never loads SQLite)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from procsup.core.schema import RunRow

STATUSES = ("running", "ok", "failed", "timeout", "lock-lost", "stopped", "skipped", "unknown")


@dataclass
class RunRecord:
    task: str
    run_id: str  # unique
    trigger: str  # "schedule" | "manual" | "catch-up" | "after TASK RUN_ID" (a chain)
    status: str  # one of STATUSES
    scheduled: float | None = None  # epoch: nominal fire time (None for manual runs)
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None  # negative = killed by that signal
    reason: str | None = None  # skip reason, error text or a note
    host: str = ""
    fencing_token: int | None = None
    count: int = 1  # consecutive identical skips coalesced into this row
    last_scheduled: float | None = None  # coalesced skip row: the newest scheduled time

    @property
    def duration(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    def to_json(self) -> RunRow:
        row: RunRow = {**asdict(self), "duration": self.duration}  # type: ignore[typeddict-item]
        return row
