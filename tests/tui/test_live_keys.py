"""Keys against a real master: they act on the focused table (`x` on a task stops its run and
touches no instance), the "changed by you" column, and the log pane maximised and searched."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from procsup.tui.app import ProcsupApp
from procsup.tui.source import MasterSource
from tests.harness import MasterProc, child
from tests.tui.fakes import until
from tests.tui.test_live import cell_text
from tests.tui.test_live_tasks import RecordingApp, noted, select_task, task_cell, task_conf

SIZE = (130, 36)
WORKER = f"""
    [programs.worker]
    command = "{child("sleeper.py")}"
    start_seconds = 0
"""


def test_x_on_the_task_table_stops_the_run_not_an_instance(
    start_master: Callable[[str], MasterProc],
) -> None:
    m = start_master(WORKER + task_conf("slow", "echo started; sleep 30"))
    pid = m.wait_state("worker:0", "RUNNING")["pid"]

    async def drive() -> None:
        app = RecordingApp(MasterSource(m.socket))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.instances.shown == 1 and app.tasks.shown == 1)
            await select_task(pilot, app, "slow")
            await pilot.press("s")  # on a task: run it now
            await until(pilot, lambda: task_cell(app, "slow", "running").startswith("yes"))
            await pilot.press("x")
            await until(pilot, lambda: task_cell(app, "slow", "result") == "stopped by user")
            assert task_cell(app, "slow", "running") == "no"
            assert noted(app, "stop slow: run ") and noted(app, " stopped")
            assert cell_text(app, "worker:0", "state") == "RUNNING"
            await pilot.press("x")  # nothing runs now
            await until(pilot, lambda: noted(app, "stop slow: no run in progress"))
            await pilot.press("k")  # signals are for instances
            await until(pilot, lambda: noted(app, "signals go to instances"))

            app.instances.focus()  # the same key on the instance table stops the instance
            await pilot.press("x")
            await until(pilot, lambda: cell_text(app, "worker:0", "state") == "STOPPED")
            await until(pilot, lambda: cell_text(app, "worker:0", "changes").startswith("stopped"))
            await pilot.press("s")
            await until(pilot, lambda: cell_text(app, "worker:0", "changes") == "-")

    asyncio.run(drive())
    runs = m.call("history", {"task": "slow"})["runs"]
    assert (runs[0]["status"], runs[0]["reason"]) == ("stopped", "by user")
    assert m.state("worker:0")["pid"] != pid  # stopped and started by the test, not by `x` on slow


def test_log_pane_maximised_and_searched(start_master: Callable[[str], MasterProc]) -> None:
    m = start_master(f"""
        [programs.lines]
        command = "{child("numbered.py", "100")}"
        start_seconds = 0
    """)

    async def drive() -> None:
        app = ProcsupApp(MasterSource(m.socket))
        pane = app.log_pane
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: any(t.plain.endswith("done") for t in pane._texts))
            await pilot.press("m")
            await until(pilot, lambda: app.screen.maximized is pane and pane.has_focus)
            assert pane.size.height > 25  # the whole screen but the header and footer

            await pilot.press("slash")  # in the pane: search, not the table filter
            await until(pilot, lambda: app.search_box.has_focus)
            await pilot.press(*"LINE 7", "enter")  # any case
            await until(pilot, lambda: pane.has_focus and pane.match_count == 11)
            assert app.search_box.region.height > 0  # shown in the maximised view
            assert pane.current is not None and pane.current.plain.split()[2:4] == ["line", "79"]
            assert "11 of 11" in str(pane.border_subtitle)
            index = pane.current_index
            assert index is not None and pane.scroll_offset.y <= index < pane.scroll_offset.y + 30
            marked = [seg for seg in pane.lines[index] if seg.text.lower() == "line 7"]
            assert marked and marked[0].style is not None and marked[0].style.bgcolor is not None

            await pilot.press("n")  # after the newest match: wraps to the oldest
            await until(pilot, lambda: "1 of 11" in str(pane.border_subtitle))
            assert pane.current is not None and pane.current.plain.split()[2:4] == ["line", "7"]
            await pilot.press("N", "N")
            await until(pilot, lambda: "10 of 11" in str(pane.border_subtitle))
            assert pane.current is not None and pane.current.plain.split()[2:4] == ["line", "78"]
            assert pane.scroll_offset.y <= pane.current_index < pane.scroll_offset.y + 30

            await pilot.press("escape")  # the search first
            await until(pilot, lambda: not pane.needle and not app.search_box.has_class("shown"))
            assert app.screen.maximized is pane
            await pilot.press("escape")  # then the maximised pane
            await until(pilot, lambda: app.screen.maximized is None)
            await pilot.press("m", "m")  # m toggles too, and gives the focus back to the table
            await until(pilot, lambda: app.screen.maximized is None and app.instances.has_focus)

    asyncio.run(drive())
