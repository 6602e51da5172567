"""The scheduler in the test process on an explicit clock: reload as a difference (added,
removed, changed tasks and what their next run becomes), the errors `run`/`stop` give for
unknown tasks, and planned program restarts (`restart_schedule`) firing when the clock says."""

from __future__ import annotations

import asyncio
import os
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from procsup.config.load import Config, load_config
from procsup.engine.events import Broadcaster
from procsup.engine.process import Reaper
from procsup.engine.runtime import Runtime
from procsup.tasks.scheduler import Scheduler, UnknownTask
from tests.unit.test_scheduler_dst import Clock, settle, utc

NOON = utc("2026-05-04T12:00:00")

BASE = """
[tasks.nightly]
command = "true"
schedule = "0 3 * * *"
timezone = "UTC"

[tasks.often]
command = "true"
schedule = "@every 10m"

[tasks.old]
command = "true"
schedule = "0 4 * * *"
timezone = "UTC"
"""


def config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "procsup.toml"
    path.write_text(textwrap.dedent(text))
    return load_config(path)


def run(
    tmp_path: Path,
    text: str,
    body: Callable[[Scheduler, Clock, list[str]], Awaitable[Any]],
) -> Any:
    """A started scheduler on `text` at NOON UTC; `body` gets it, its clock and the names of
    the programs it asked to restart."""
    restarted: list[str] = []

    async def restart(name: str) -> None:
        restarted.append(name)

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        (tmp_path / "run").mkdir(exist_ok=True)
        rt = Runtime(
            loop, Reaper(loop), Broadcaster(), "apply-test", str(tmp_path / "run"),
            dict(os.environ), str(tmp_path),
        )  # fmt: skip
        clock = Clock(NOON)
        sched = Scheduler(rt, config(tmp_path, text), restart, clock)
        sched.start()
        try:
            return await body(sched, clock, restarted)
        finally:
            await sched.close()

    return asyncio.run(main())


def next_runs(sched: Scheduler) -> dict[str, float | None]:
    return {row["name"]: row["next_run"] for row in sched.rows()}


def test_rows_show_each_tasks_next_run_from_the_clock(tmp_path: Path) -> None:
    async def body(sched: Scheduler, clock: Clock, restarted: list[str]) -> None:
        assert next_runs(sched) == {
            "nightly": utc("2026-05-05T03:00:00"),
            "often": NOON + 600,
            "old": utc("2026-05-05T04:00:00"),
        }
        row = sched.rows()[0]
        assert row["running"] == [] and row["last"] is None
        assert row["next_run_local"].startswith("2026-05-05T03:00:00")

    run(tmp_path, BASE, body)


def test_apply_adds_removes_and_reschedules_changed_tasks(tmp_path: Path) -> None:
    new = """
    [tasks.nightly]
    command = "true"
    schedule = "0 5 * * *"
    timezone = "UTC"

    [tasks.often]
    command = "echo changed"
    schedule = "@every 10m"

    [tasks.fresh]
    command = "true"
    schedule = "@every 1h"
    """

    async def body(sched: Scheduler, clock: Clock, restarted: list[str]) -> dict[str, Any]:
        events = sched.rt.events.subscribe()
        clock.now = NOON + 120
        summary = await sched.apply(config(tmp_path, new))
        runs = next_runs(sched)
        assert runs["nightly"] == utc("2026-05-05T05:00:00")  # a new schedule: from now
        assert runs["often"] == NOON + 600  # same schedule: the @every rhythm is kept
        assert runs["fresh"] == NOON + 120 + 3600
        assert "old" not in runs
        removed = events.queue.get_nowait()
        assert (removed.type, removed.name, removed.data) == (
            "task",
            "old",
            {"task": None, "event": "removed"},
        )
        with pytest.raises(UnknownTask, match=r"no task named 'old' \(see `procsup tasks`\)"):
            await sched.run_now("old")
        return summary

    summary = run(tmp_path, BASE, body)
    assert summary == {
        "tasks_added": ["fresh"],
        "tasks_removed": ["old"],
        "tasks_changed": ["nightly", "often"],
    }


def test_an_unchanged_config_changes_nothing(tmp_path: Path) -> None:
    async def body(sched: Scheduler, clock: Clock, restarted: list[str]) -> dict[str, Any]:
        before = next_runs(sched)
        summary = await sched.apply(config(tmp_path, BASE))
        assert next_runs(sched) == before
        return summary

    summary = run(tmp_path, BASE, body)
    assert summary == {"tasks_added": [], "tasks_removed": [], "tasks_changed": []}


def test_stop_names_an_unknown_task(tmp_path: Path) -> None:
    async def body(sched: Scheduler, clock: Clock, restarted: list[str]) -> None:
        with pytest.raises(UnknownTask, match="no task named 'ghost'"):
            await sched.stop_runs(["nightly", "ghost"])
        assert await sched.stop_runs(["nightly"]) == []  # nothing running: nothing stopped

    run(tmp_path, BASE, body)


def test_a_due_task_runs_once_when_the_clock_reaches_it(tmp_path: Path) -> None:
    async def body(sched: Scheduler, clock: Clock, restarted: list[str]) -> None:
        clock.now = NOON + 600
        sched.clock_changed()
        rows = await settle(lambda: sched.history.recent("often", 10), 1)
        assert rows[0].status == "ok" and rows[0].trigger == "schedule"
        assert rows[0].scheduled == NOON + 600
        assert next_runs(sched)["often"] == NOON + 1200

    run(tmp_path, BASE, body)


def test_planned_restarts_fire_on_the_clock_and_follow_reload(tmp_path: Path) -> None:
    programs = """
    [programs.web]
    command = "sleep 60"
    autostart = false
    restart_schedule = "@hourly"
    """

    async def body(sched: Scheduler, clock: Clock, restarted: list[str]) -> None:
        events = sched.rt.events.subscribe()
        clock.now = NOON + 3600
        sched.clock_changed()
        deadline = asyncio.get_running_loop().time() + 5
        while not restarted and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert restarted == ["web"]
        seen = []
        while not events.queue.empty():
            ev = events.queue.get_nowait()
            seen += [(ev.name, ev.data)] if ev.type == "program" else []
        assert seen == [("web", {"event": "planned-restart"})]
        await sched.apply(config(tmp_path, BASE))  # restart_schedule gone: no more restarts
        clock.now = NOON + 3 * 3600
        sched.clock_changed()
        await asyncio.sleep(0.1)
        assert restarted == ["web"]

    run(tmp_path, BASE + programs, body)
