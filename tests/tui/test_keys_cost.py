"""What keeps the focus keys cheap (issue 14: keypress to repaint): `/` opens a filter line that
is always on screen (nothing moves), the footer is not rebuilt when the focus moves, and the
terminal driver answers escape once ESCDELAY is over, not at its next 0.1 s wake."""

from __future__ import annotations

import asyncio
import selectors
import threading
from typing import Any

from textual import constants

from procsup.tui.app import ProcsupApp
from procsup.tui.driver import (
    LOCAL_ESCDELAY_MS,
    PromptDriver,
    WakingEvent,
    escape_delay_ms,
    set_escape_delay,
    wake_after,
)
from procsup.tui.footer import KeyFooter
from tests.tui.fakes import CLOCK, FakeSource, fixed_app, until


def test_slash_moves_nothing_and_the_footer_is_not_rebuilt() -> None:
    async def run() -> None:
        app = fixed_app()
        async with app.run_test(size=(130, 36)) as pilot:
            await until(pilot, lambda: app.instances.shown == 8)
            await pilot.pause(0.1)
            footer = app.query_one(KeyFooter)
            keys = list(footer.children)
            assert any("quit" in str(key.render()) for key in keys)
            regions = (app.instances.region, app.log_pane.region, app.filter_box.region)
            assert app.filter_box.display and app.filter_box.disabled
            await pilot.press("slash")
            await until(pilot, lambda: app.filter_box.has_focus)
            await pilot.pause(0.1)
            assert (app.instances.region, app.log_pane.region, app.filter_box.region) == regions
            await pilot.press(*"queue")
            await until(pilot, lambda: app.instances.shown == 2)
            await pilot.press("enter")  # kept; the table has the focus again
            await until(pilot, lambda: app.instances.has_focus)
            await pilot.pause(0.1)
            assert list(footer.children) == keys  # the same widgets: no rebuild
            await pilot.press("escape")
            await until(pilot, lambda: app.instances.shown == 8 and app.filter_box.disabled)
            assert app.filter_box.value == "" and app.instances.has_focus

    asyncio.run(run())


def test_the_table_is_filtered_as_the_box_changes() -> None:
    """The filter box filters the tables from its own value watcher, before any other message
    runs, so the filtered table is drawn in the frame that echoes the key; clearing the box
    shows every row again, in order, with the cursor on the same row."""

    async def run() -> None:
        app = fixed_app()
        async with app.run_test(size=(130, 36)) as pilot:
            table = app.instances
            await until(pilot, lambda: table.shown == 8)
            order = [row.key.value for row in table.ordered_rows]
            await pilot.press("slash")
            await until(pilot, lambda: app.filter_box.has_focus)
            app.filter_box.value = "queue"
            assert table.shown == 2  # at once: no message has run since
            assert app.instances.border_title == "instances (2 of 8)"
            table.move_cursor(row=1)
            app.filter_box.value = ""
            assert table.shown == 8 and table.selected == "queue:1"
            assert [row.key.value for row in table.ordered_rows] == order

    asyncio.run(run())


def test_the_footer_follows_a_change_of_its_keys() -> None:
    class Greyed(ProcsupApp):
        """An app whose `o` key is greyed out unless the task table has the focus."""

        def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
            return True if action != "sort" or self.tasks.has_focus else None

    async def run() -> None:
        app = Greyed(FakeSource(), clock=CLOCK)
        async with app.run_test(size=(130, 36)) as pilot:
            await until(pilot, lambda: app.instances.shown == 8)

            def sort_key_enabled() -> Any:
                for key in app.query_one(KeyFooter).query("FooterKey"):
                    if getattr(key, "action", None) == "sort":
                        return not key.has_class("-disabled")
                return None

            await until(pilot, lambda: sort_key_enabled() is False)
            app.tasks.focus()
            await until(pilot, lambda: sort_key_enabled() is True)

    asyncio.run(run())


def test_escape_delay_is_short_on_a_local_terminal_only() -> None:
    assert escape_delay_ms({}) == LOCAL_ESCDELAY_MS
    assert escape_delay_ms({"ESCDELAY": "300"}) is None  # the user's own setting wins
    assert escape_delay_ms({"SSH_CONNECTION": "10.0.0.1 5000 10.0.0.2 22"}) is None
    assert escape_delay_ms({"SSH_TTY": "/dev/pts/3"}) is None
    before = constants.ESCAPE_DELAY
    try:
        set_escape_delay({"ESCDELAY": "300"})
        assert before == constants.ESCAPE_DELAY
        set_escape_delay({})
        assert constants.ESCAPE_DELAY == LOCAL_ESCDELAY_MS / 1000
    finally:
        setattr(constants, "ESCAPE_DELAY", before)  # noqa: B010


def test_the_input_thread_wakes_when_the_escape_wait_ends() -> None:
    assert wake_after(None, 100.0) is None  # nothing pending: until input or the stop
    assert abs(wake_after(100.02, 100.0) - 0.02) < 1e-9  # only until the wait is over
    assert wake_after(99.0, 100.0) == 0.0  # already over


def test_the_stop_wakes_the_sleeping_input_thread() -> None:
    """With no escape wait pending the input thread sleeps in `select` with no timeout (no
    more ten wakes a second): setting the driver's exit event is what wakes it."""
    stop = WakingEvent()
    try:
        with selectors.SelectSelector() as selector:
            selector.register(stop.wake_fd, selectors.EVENT_READ)
            assert selector.select(0) == []
            threading.Timer(0.05, stop.set).start()
            assert selector.select(10)  # woken by the stop, long before the timeout
            assert stop.is_set()
            stop.clear()  # drained: the next run of the thread sleeps again
            assert selector.select(0) == [] and not stop.is_set()
    finally:
        stop.close()


def test_the_app_runs_on_the_prompt_driver() -> None:
    assert fixed_app().driver_class is PromptDriver
