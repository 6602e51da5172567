"""The scheduler lives through a fall-back night (Europe/Berlin, 2026-10-25, 03:00 CEST ->
02:00 CET) on an explicit clock: the fixed-time job runs once, with real child processes, and
the repeated 02:30 lands in the history as a `dst-repeat` skip when it happens, not a day later
with the next run (which is what a real master used to do: no skip row after the night)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from procsup.config.load import load_config
from procsup.engine.events import Broadcaster
from procsup.engine.process import Reaper
from procsup.engine.runtime import Runtime
from procsup.tasks.runrecord import RunRecord
from procsup.tasks.scheduler import Scheduler


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


class Clock:
    """Wall-clock epoch seconds that move only when the test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _no_restart(name: str) -> None:
    raise AssertionError(f"no program restart expected ({name})")


async def settle(
    history_rows: Callable[[], list[RunRecord]], want: int, timeout: float = 10.0
) -> list[RunRecord]:
    """Wait (on the running loop, so runs can end) until no row is running and there are
    `want` rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = history_rows()
        if len(rows) == want and all(r.status != "running" for r in rows):
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"history did not settle at {want} rows: {history_rows()}")


async def live_through_the_night(tmp_path: Path) -> list[list[RunRecord]]:
    config_file = tmp_path / "procsup.toml"
    config_file.write_text(
        '[tasks.nightly]\ncommand = "true"\nschedule = "30 2 * * *"\ntimezone = "Europe/Berlin"\n'
    )
    config = load_config(config_file)
    loop = asyncio.get_running_loop()
    rt = Runtime(
        loop, Reaper(loop), Broadcaster(), "dst-test", str(tmp_path / "run"),
        dict(os.environ), str(tmp_path),
    )  # fmt: skip
    (tmp_path / "run").mkdir()
    clock = Clock(utc("2026-10-24T12:00:00"))
    sched = Scheduler(rt, config, _no_restart, clock)
    sched.start()

    def rows() -> list[RunRecord]:
        return list(reversed(sched.history.recent("nightly", 10)))  # oldest first

    seen = []
    try:
        # 02:30 CEST = 00:30 UTC (first 02:30), 02:30 CET = 01:30 UTC (the repeat),
        # then 02:30 CET on the next night = 01:30 UTC on the 26th
        for now, want in (
            ("2026-10-25T00:00:00", 0),
            ("2026-10-25T00:30:00.5", 1),
            ("2026-10-25T01:00:00.5", 1),  # clocks go back: 03:00 CEST -> 02:00 CET
            ("2026-10-25T01:30:00.5", 2),
            ("2026-10-25T12:00:00", 2),
            ("2026-10-26T01:30:00.5", 3),
        ):
            clock.now = utc(now)
            sched.clock_changed()
            seen.append(await settle(rows, want))
    finally:
        await sched.close()
        loop.remove_signal_handler(signal.SIGCHLD)
    return seen


def test_fall_back_night_runs_once_and_records_the_dst_repeat_skip(tmp_path: Path) -> None:
    seen = asyncio.run(live_through_the_night(tmp_path))
    after_first, after_repeat, after_next_night = seen[1], seen[3], seen[5]
    assert [(r.status, r.scheduled) for r in after_first] == [("ok", utc("2026-10-25T00:30:00"))]
    # the skip row is there right after the repeated 02:30, not only with the next run
    assert [(r.status, r.reason, r.scheduled) for r in after_repeat] == [
        ("ok", None, utc("2026-10-25T00:30:00")),
        ("skipped", "dst-repeat", utc("2026-10-25T01:30:00")),
    ]
    assert seen[4] == after_repeat  # nothing more on that day
    assert [(r.status, r.scheduled) for r in after_next_night] == [
        ("ok", utc("2026-10-25T00:30:00")),
        ("skipped", utc("2026-10-25T01:30:00")),
        ("ok", utc("2026-10-26T01:30:00")),
    ]
    assert all(r.trigger == "schedule" for r in after_next_night)
