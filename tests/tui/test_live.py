"""The dashboard against a real master with real children (tests/children/)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

from procsup.tui.app import ProcsupApp
from procsup.tui.source import MasterSource
from tests.harness import MasterProc, child, wait_for
from tests.tui.fakes import until

SIZE = (120, 36)
CONFIG = f"""
    [programs.sleepy]
    command = "{child("sleeper.py")}"
    numprocs = 2
    start_seconds = 0
    stop_timeout = "5s"
"""


def log_text(app: ProcsupApp) -> str:
    return "\n".join(strip.text for strip in app.log_pane.lines)


def cell_text(app: ProcsupApp, name: str, column: str) -> str:
    value = app.instances.get_cell(name, column)
    return value if isinstance(value, str) else value.plain


def test_table_stop_and_log(start_master: Callable[[str], MasterProc]) -> None:
    m = start_master(CONFIG)
    m.wait_state("sleepy:1", "RUNNING")

    async def drive() -> None:
        app = ProcsupApp(MasterSource(m.socket, stats_interval=0.5))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.instances.shown == 2)
            for name in ("sleepy:0", "sleepy:1"):
                await until(pilot, lambda n=name: cell_text(app, n, "state") == "RUNNING")
            assert app.instances.selected == "sleepy:0"
            # the log pane follows the selected row: the child's own line
            await until(pilot, lambda: "ready sleepy:0" in log_text(app))
            # the stats feed fills CPU and RSS
            await until(pilot, lambda: cell_text(app, "sleepy:0", "rss") != "-")

            await pilot.press("x")
            await until(pilot, lambda: cell_text(app, "sleepy:0", "state") == "STOPPED")
            assert cell_text(app, "sleepy:0", "pid") == "-"
            assert cell_text(app, "sleepy:1", "state") == "RUNNING"
            # the event's row brings the exit status (SIGTERM)
            await until(pilot, lambda: "SIGTERM" in cell_text(app, "sleepy:0", "last_exit"))

            await pilot.press("down", "s")  # start sleepy:1, already running: nothing to do
            await pilot.press("up", "s")
            await until(pilot, lambda: cell_text(app, "sleepy:0", "state") == "RUNNING")

        assert m.state("sleepy:0")["state"] == "RUNNING"

    asyncio.run(drive())


def test_scale_and_remove_follow_program_events(start_master: Callable[[str], MasterProc]) -> None:
    m = start_master(CONFIG)

    async def drive() -> None:
        app = ProcsupApp(MasterSource(m.socket))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.instances.shown == 2)
            await asyncio.to_thread(m.call, "scale", {"program": "sleepy", "numprocs": 3})
            await until(pilot, lambda: app.instances.shown == 3)
            await asyncio.to_thread(m.call, "remove", {"program": "sleepy"})
            await until(pilot, lambda: app.instances.shown == 0)

    asyncio.run(drive())


def test_unreachable_then_reconnects(master_factory: Callable[[str], MasterProc]) -> None:
    m = master_factory(CONFIG)  # made, not started: nothing answers on its socket

    async def drive() -> None:
        app = ProcsupApp(MasterSource(m.socket), retry=0.2)
        async with app.run_test(size=SIZE) as pilot:
            unreachable = app.query_one("#unreachable")
            await until(pilot, lambda: "attempt" in app.offline_message)
            assert unreachable.display and not app.query_one("#main").display
            assert "not reachable" in app.offline_message
            assert m.socket in app.offline_message

            await asyncio.to_thread(m.start)
            await until(pilot, lambda: app.connected and app.instances.shown == 2, timeout=20)
            assert not unreachable.display

            await asyncio.to_thread(m.stop)  # the master goes away: the screen says so again
            await until(pilot, lambda: not app.connected and unreachable.display, timeout=20)

    asyncio.run(drive())


def test_screenshot_shows_the_log_of_a_talking_instance(
    start_master: Callable[[str], MasterProc], tmp_path: Path
) -> None:
    """`tui --screenshot`: the cursor goes to the running instance with output on both streams,
    not to the row that sorts first (a quiet one here)."""
    from procsup.tui.shot import screenshot

    m = start_master(
        """
        [programs.aaa-quiet]
        command = ["sleep", "60"]
        start_seconds = 0
        [programs.talky]
        command = ["sh", "-c", "echo said-on-stdout; echo said-on-stderr >&2; exec sleep 60"]
        start_seconds = 0
        """
    )
    m.wait_state("talky:0", "RUNNING")
    wait_for(lambda: "said-on-stderr" in str(m.call("logs", {"names": ["talky"]})), 10, "output")
    app = ProcsupApp(MasterSource(m.socket))
    shot = tmp_path / "shot.svg"
    assert screenshot(app, str(shot)) == 0
    assert app.instances.selected == "talky:0" and app.log_pane.target == "talky:0"
    svg = shot.read_text()
    assert "said-on-stdout" in svg and "said-on-stderr" in svg


def test_a_kill_shows_in_the_log_pane_and_the_last_exit(
    start_master: Callable[[str], MasterProc],
) -> None:
    """The exit sentence appears as a marked line between the output, and the row's last exit
    follows the immediate restart (RUNNING -> STARTING carries the exit)."""
    m = start_master(CONFIG.replace("start_seconds = 0", "start_seconds = 1"))
    first = m.wait_state("sleepy:0", "RUNNING")

    async def drive() -> None:
        app = ProcsupApp(MasterSource(m.socket))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "ready sleepy:0" in log_text(app))
            os.kill(first["pid"], signal.SIGKILL)
            await until(pilot, lambda: "SIGKILL" in cell_text(app, "sleepy:0", "last_exit"))
            await until(pilot, lambda: "*** sleepy:0 exited: killed by SIGKILL" in log_text(app))
            # the restarted child's first line, once it has printed it (a slow start is no bug)
            await until(pilot, lambda: log_text(app).count("ready sleepy:0") == 2)
            text = log_text(app)
            assert "(not expected); restarting now" in text
            assert text.index("*** sleepy:0 exited") < text.rindex("ready sleepy:0")
            row = app.store.instances["sleepy:0"]
            assert row["last_exit_reason"].startswith("sleepy:0 exited: killed by SIGKILL")

    asyncio.run(drive())
