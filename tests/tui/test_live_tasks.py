"""The task table against a real master with real cron tasks: run on demand, results, skips,
the task's output in the log pane, and a reload that removes a task.

Schedules are "0 0 1 1 *" (New Year only), so a task runs only when the test asks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from textual.notifications import SeverityLevel

from procsup.tui.app import ProcsupApp
from procsup.tui.source import MasterSource
from tests.harness import MasterProc
from tests.tui.fakes import until

SIZE = (130, 36)
NEVER = "0 0 1 1 *"


def task_conf(name: str, script: str, **extra: str) -> str:
    lines = [
        f"[tasks.{name}]",
        f'command = ["sh", "-c", "{script}"]',
        f'schedule = "{NEVER}"',
        *(f'{key} = "{value}"' for key, value in extra.items()),
    ]
    return "\n".join(lines) + "\n"


class RecordingApp(ProcsupApp):
    """The dashboard, keeping every notification it showed (they expire on screen)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[tuple[str, str]] = []

    def notify(  # type: ignore[override]
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        **kwargs: Any,
    ) -> None:
        self.notes.append((title, message))
        super().notify(message, title=title, severity=severity, **kwargs)


def task_cell(app: ProcsupApp, name: str, column: str) -> str:
    value = app.tasks.get_cell(name, column)
    return value if isinstance(value, str) else value.plain


def log_text(app: ProcsupApp) -> str:
    return "\n".join(strip.text for strip in app.log_pane.lines)


def noted(app: RecordingApp, text: str) -> bool:
    return any(text in f"{title}: {message}" for title, message in app.notes)


async def select_task(pilot: Any, app: ProcsupApp, name: str) -> None:
    """Move the focus to the task table and the cursor onto `name`."""
    await until(pilot, lambda: app.connected and name in app.store.tasks and app.tasks.display)
    app.tasks.focus()
    await until(pilot, lambda: app.tasks.has_focus)
    index = app.tasks.get_row_index(name)
    app.tasks.move_cursor(row=index)
    await until(pilot, lambda: app.tasks.selected == name)


def test_task_row_run_now_and_log(start_master: Callable[[str], MasterProc]) -> None:
    m = start_master(
        task_conf("hello", "echo hello-from-task; sleep 1.5", timezone="Europe/Berlin")
        + task_conf("other", "true")
    )

    async def drive() -> None:
        app = RecordingApp(MasterSource(m.socket))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.tasks.shown == 2)
            assert app.tasks.display
            assert task_cell(app, "hello", "schedule") == NEVER
            assert task_cell(app, "hello", "timezone") == "Europe/Berlin"
            assert task_cell(app, "hello", "next").startswith("in ")
            assert "(" in task_cell(app, "hello", "next")  # the local time of the next run
            assert task_cell(app, "hello", "result") == "-"
            assert task_cell(app, "hello", "running") == "no"
            assert "2 tasks" in str(app.header.render())

            await select_task(pilot, app, "hello")
            await pilot.press("R")
            await until(pilot, lambda: noted(app, "run hello: running"))
            # the run is on: "running now", and the header counts it
            await until(pilot, lambda: task_cell(app, "hello", "running").startswith("yes, pid"))
            await until(pilot, lambda: "(1 running)" in str(app.header.render()))
            # the log pane follows the selected task: the run's own line
            await until(pilot, lambda: "hello-from-task" in log_text(app))
            assert app.log_pane.target == "hello"
            # the run ends: the last result and its duration, nothing running any more
            await until(pilot, lambda: task_cell(app, "hello", "result") == "ok", timeout=15)
            assert task_cell(app, "hello", "running") == "no"
            assert task_cell(app, "hello", "duration") != "-"
            assert task_cell(app, "hello", "last").endswith("ago")
            assert task_cell(app, "other", "result") == "-"  # the other task never ran

    asyncio.run(drive())


def test_failed_and_skipped_runs(start_master: Callable[[str], MasterProc]) -> None:
    m = start_master(task_conf("broken", "false") + task_conf("slow", "sleep 3", overlap="skip"))

    async def drive() -> None:
        app = RecordingApp(MasterSource(m.socket))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.tasks.shown == 2)
            await select_task(pilot, app, "broken")
            await pilot.press("R")
            await until(pilot, lambda: task_cell(app, "broken", "result") == "failed exit 1")

            await select_task(pilot, app, "slow")
            await pilot.press("R")
            await until(pilot, lambda: task_cell(app, "slow", "running").startswith("yes"))
            await pilot.press("R")  # still running: overlap = "skip"
            await until(pilot, lambda: noted(app, "run slow: skipped: overlap"))
            await until(pilot, lambda: task_cell(app, "slow", "result") == "skipped overlap")
            assert task_cell(app, "slow", "running").startswith("yes")  # the first run goes on
            await until(pilot, lambda: task_cell(app, "slow", "result") == "ok", timeout=15)
            assert task_cell(app, "slow", "running") == "no"

    asyncio.run(drive())


def test_reload_removes_the_task_row(start_master: Callable[[str], MasterProc]) -> None:
    m = start_master(task_conf("stay", "true") + task_conf("go", "true"))

    async def drive() -> None:
        app = RecordingApp(MasterSource(m.socket))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.tasks.shown == 2)
            await select_task(pilot, app, "go")
            await until(pilot, lambda: app.log_pane.target == "go")
            m.write_config(task_conf("stay", "true"))
            result = await asyncio.to_thread(m.cli, "reload")
            assert result.returncode == 0, result.stderr
            await until(pilot, lambda: app.tasks.shown == 1)
            assert "go" not in app.store.tasks
            assert app.tasks.selected == "stay"
            await until(pilot, lambda: app.log_pane.target == "stay")  # the log follows the cursor
            assert "(1)" in str(app.tasks.border_title)

            m.write_config("")  # the last task goes: the table hides
            result = await asyncio.to_thread(m.cli, "reload")
            assert result.returncode == 0, result.stderr
            await until(pilot, lambda: not app.tasks.display)
            assert app.tasks.shown == 0
            assert "0 tasks" in str(app.header.render())
            assert app.focused is app.instances  # the focus left the hidden table
            await pilot.press("R")
            await until(pilot, lambda: noted(app, "no task selected"))

    asyncio.run(drive())


def test_pause_and_resume_key(start_master: Callable[[str], MasterProc]) -> None:
    m = start_master(task_conf("nightly", "true") + task_conf("other", "true"))

    async def drive() -> None:
        app = RecordingApp(MasterSource(m.socket))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.tasks.shown == 2)
            await until(pilot, lambda: app.instances.has_focus or app.focused is None)
            await pilot.press("P")  # the instance table has the focus: nothing to pause
            await until(pilot, lambda: noted(app, "select a task first"))

            await select_task(pilot, app, "nightly")
            await pilot.press("P")
            await until(pilot, lambda: noted(app, "pause nightly: paused"))
            await until(pilot, lambda: task_cell(app, "nightly", "next") == "paused")
            assert task_cell(app, "other", "next").startswith("in ")
            shown = await asyncio.to_thread(m.cli, "tasks", "--json")
            paused = {t["name"]: t["paused"] for t in json.loads(shown.stdout)}
            assert paused == {"nightly": True, "other": False}

            await pilot.press("P")  # paused: the same key resumes it
            await until(pilot, lambda: noted(app, "resume nightly: resumed"))
            await until(pilot, lambda: task_cell(app, "nightly", "next").startswith("in "))
            shown = await asyncio.to_thread(m.cli, "tasks", "--json")
            assert not any(t["paused"] for t in json.loads(shown.stdout))

    asyncio.run(drive())
