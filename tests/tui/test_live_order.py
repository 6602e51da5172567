"""The dashboard against a real master: an instance held back by depends_on shows what it
waits for, and a paused task shows `paused` until it is resumed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.widgets.data_table import CellDoesNotExist

from procsup.tui.app import ProcsupApp
from procsup.tui.source import MasterSource
from tests.harness import MasterProc
from tests.tui.fakes import until
from tests.tui.test_live_tasks import SIZE, task_cell, task_conf


def cell(app: ProcsupApp, name: str, column: str) -> str:
    """The cell's text, or "" while the row is not in the table yet."""
    try:
        value = app.instances.get_cell(name, column)
    except CellDoesNotExist:
        return ""
    return value if isinstance(value, str) else value.plain


def test_waiting_instance_and_paused_task(start_master: Callable[[str], MasterProc]) -> None:
    m = start_master(
        """
        [programs.db]
        command = "sleep 60"
        autostart = false
        [programs.web]
        command = "sleep 60"
        start_seconds = 0
        depends_on = { db = "ready" }
        """
        + task_conf("nightly", "true")
    )

    async def drive() -> None:
        app = ProcsupApp(MasterSource(m.socket))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.connected and "web:0" in app.store.instances)
            await until(pilot, lambda: cell(app, "web:0", "state") == "WAITING")
            assert cell(app, "web:0", "changes") == "waiting for db (ready)"
            assert m.cli("pause", "nightly").returncode == 0
            await until(pilot, lambda: task_cell(app, "nightly", "next") == "paused")
            assert m.cli("resume", "nightly").returncode == 0
            await until(pilot, lambda: task_cell(app, "nightly", "next").startswith("in "))
            assert m.cli("start", "db").returncode == 0
            await until(pilot, lambda: cell(app, "web:0", "state") == "RUNNING")
            assert cell(app, "web:0", "changes") != "waiting for db (ready)"

    asyncio.run(drive())
