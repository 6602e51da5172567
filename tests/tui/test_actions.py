"""Keys → commands (on a fake source that records them), confirmations, filter and sort."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot

from procsup.control.client import ClientError
from procsup.tui.app import ProcsupApp
from procsup.tui.screens import ConfirmScreen, DetailsScreen, SignalScreen
from tests.tui.fakes import FakeSource, fixed_app, until


def drive(test: Callable[[ProcsupApp, FakeSource, Pilot[Any]], Awaitable[None]]) -> None:
    source = FakeSource()

    async def run() -> None:
        app = fixed_app(source)
        async with app.run_test(size=(130, 36)) as pilot:
            await until(pilot, lambda: app.instances.shown == 8)
            await test(app, source, pilot)

    asyncio.run(run())


def test_stop_all_asks_first() -> None:
    async def test(app: ProcsupApp, source: FakeSource, pilot: Pilot[Any]) -> None:
        await pilot.press("X")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert source.calls == []
        await pilot.press("X", "y")
        await until(pilot, lambda: ("stop", {"names": ["all"]}) in source.calls)

    drive(test)


def test_signal_asks_which() -> None:
    async def test(app: ProcsupApp, source: FakeSource, pilot: Pilot[Any]) -> None:
        await pilot.press("down", "k")  # legacy:0
        await until(pilot, lambda: isinstance(app.screen, SignalScreen))
        await pilot.press("down", "enter")  # HUP, INT
        expected = ("signal", {"signal": "INT", "names": ["legacy:0"]})
        await until(pilot, lambda: expected in source.calls)

    drive(test)


def test_run_task_and_details() -> None:
    async def test(app: ProcsupApp, source: FakeSource, pilot: Pilot[Any]) -> None:
        await pilot.press("tab", "down", "R")  # tasks: cleanup, report
        await until(pilot, lambda: ("run", {"task": "report"}) in source.calls)
        await until(pilot, lambda: app.log_pane.target == "report")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        screen = app.screen
        assert isinstance(screen, DetailsScreen) and ("schedule", "*/5 * * * *") in screen.pairs
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailsScreen))

    drive(test)


def test_errors_become_notifications() -> None:
    async def test(app: ProcsupApp, source: FakeSource, pilot: Pilot[Any]) -> None:
        async def refuse(cmd: str, args: dict[str, Any]) -> Any:
            raise ClientError("not_found", "no program or instance matches 'batch:0'")

        source.call = refuse  # type: ignore[method-assign]
        await pilot.press("r")
        await until(pilot, lambda: any("no program" in n.message for n in app._notifications))

    drive(test)


def test_filter_typing_q_does_not_quit_and_escape_clears() -> None:
    async def test(app: ProcsupApp, source: FakeSource, pilot: Pilot[Any]) -> None:
        await pilot.press("slash", *"queue")
        await until(pilot, lambda: app.instances.shown == 2)
        assert app.is_running and app.instances.border_title == "instances (2 of 8)"
        await pilot.press("escape")
        await until(pilot, lambda: app.instances.shown == 8)
        await pilot.press("slash", *"fatal", "enter")  # a state matches too
        await until(pilot, lambda: app.instances.shown == 1)
        assert app.instances.has_focus

    drive(test)


def test_sort_keeps_the_selected_row() -> None:
    async def test(app: ProcsupApp, source: FakeSource, pilot: Pilot[Any]) -> None:
        await pilot.press("down", "down", "down")  # queue:0, the busiest
        assert app.instances.selected == "queue:0"
        await pilot.press("o", "o")  # name → state → cpu
        assert app.instances.sort_by == "cpu" and app.instances.cursor_row == 0
        assert app.instances.selected == "queue:0"

    drive(test)


def test_screenshot_row_prefers_running_output_on_both_streams() -> None:
    from procsup.tui.shot import best_row

    def lines(name: str, out: int, err: int = 0) -> list[dict[str, Any]]:
        return [{"name": name, "stream": "stdout"}] * out + [
            {"name": name, "stream": "stderr"}
        ] * err

    recent = lines("worker:0", 9) + lines("talker:0", 3, 2) + lines("crasher:0", 20, 20)
    assert best_row(["worker:0", "talker:0"], recent) == "talker:0"  # crasher is not running
    assert best_row(["worker:0", "idle:0"], recent) == "worker:0"
    assert best_row(["idle:0"], recent) is None
    assert best_row([], recent) is None


def test_keys_act_on_the_focused_table() -> None:
    async def test(app: ProcsupApp, source: FakeSource, pilot: Pilot[Any]) -> None:
        await pilot.press("tab", "x")  # tasks: cleanup first
        await until(pilot, lambda: ("stop", {"names": ["cleanup"]}) in source.calls)
        await pilot.press("s")
        await until(pilot, lambda: ("run", {"task": "cleanup"}) in source.calls)
        source.calls.clear()
        await pilot.press("r")  # stop its runs, then run it again
        await until(pilot, lambda: len(source.calls) == 2)
        assert source.calls == [("stop", {"names": ["cleanup"]}), ("run", {"task": "cleanup"})]
        app.log_pane.focus()  # the log pane follows the task table: keys still act on it
        await pilot.press("x")
        await until(pilot, lambda: len(source.calls) == 3)
        assert source.calls[-1] == ("stop", {"names": ["cleanup"]})
        assert not any(args.get("names") == ["batch:0"] for _, args in source.calls)
        app.instances.focus()
        await pilot.press("x")
        await until(pilot, lambda: ("stop", {"names": ["batch:0"]}) in source.calls)

    drive(test)
