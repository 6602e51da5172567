"""Snapshot tests of the dashboard on a fixed data set (no master, fixed clock, UTC)."""

from __future__ import annotations

from typing import Any

from tests.tui.fakes import LOGS, fixed_app, until

SIZE = (130, 36)


async def settled(pilot: Any) -> None:
    app = pilot.app
    await until(pilot, lambda: app.connected and app.instances.shown == 8)
    await until(pilot, lambda: app.log_pane.received == len(LOGS["batch:0"]))
    await pilot.pause(0.2)


def test_main_screen(snap_compare: Any) -> None:
    """Header with counts, coloured states, the task table and the log pane of batch:0."""
    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=settled)


def test_help_screen(snap_compare: Any) -> None:
    async def help_open(pilot: Any) -> None:
        await settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=help_open)
