"""CPU/RSS in the dashboard: asked for the rows on screen only (the `stats` command of a real
master), for all of them when sorted by CPU, and from the events feed of a master without it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from procsup.control import protocol
from procsup.control.client import ClientError
from procsup.tui.app import ProcsupApp
from procsup.tui.source import MasterSource
from tests.harness import MasterProc
from tests.tui.fakes import FakeSource, fixed_app, until

COUNT = 40
CONFIG = f"""
[programs.w]
command = "sleep 3600"
numprocs = {COUNT}
start_seconds = 0
"""


class RecordingSource(MasterSource):
    """The real source, keeping the `stats` calls and the feed's item types."""

    def __init__(self, path: str) -> None:
        super().__init__(path, stats_interval=0.5)
        self.asked: list[list[str] | None] = []
        self.items: list[str] = []

    async def call(self, cmd: str, args: dict[str, Any]) -> Any:
        if cmd == "stats":
            self.asked.append(args.get("names"))
        return await super().call(cmd, args)

    async def events(self) -> AsyncIterator[dict[str, Any]]:  # type: ignore[override]
        async for item in super().events():
            self.items.append(str(item.get("type")))
            yield item


def test_stats_are_asked_for_the_rows_in_view(start_master: Callable[[str], MasterProc]) -> None:
    m = start_master(CONFIG)
    m.wait_state(f"w:{COUNT - 1}", "RUNNING")
    source = RecordingSource(m.socket)

    async def drive() -> None:
        app = ProcsupApp(source)
        async with app.run_test(size=(120, 24)) as pilot:
            table = app.instances
            await until(pilot, lambda: app.connected and table.shown == COUNT)
            await until(pilot, lambda: bool(source.asked))
            first = source.asked[-1]
            assert first is not None and "w:0" in first and len(first) < COUNT
            assert first == table.in_view()

            table.scroll_end(animate=False)  # other rows come into view: asked for soon
            await until(pilot, lambda: "w:39" in (source.asked[-1] or []))
            await until(pilot, lambda: app.store.instances["w:39"]["rss"] is not None)

            await pilot.press("o", "o")  # sorted by CPU: every row's value counts
            assert table.sort_by == "cpu"
            await until(pilot, lambda: source.asked[-1] is None)
            assert "stats" not in source.items  # nothing sampled for the feed

    asyncio.run(drive())


class OlderMaster(FakeSource):
    """A master without the `stats` command (before issue 14)."""

    stats_feed = False

    def __init__(self) -> None:
        super().__init__()
        self.subscribed = 0

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        self.subscribed += 1
        async for item in super().events():
            yield item

    async def call(self, cmd: str, args: dict[str, Any]) -> Any:
        if cmd == "stats":
            raise ClientError(protocol.UNKNOWN_COMMAND, "unknown command 'stats'")
        return await super().call(cmd, args)


def test_a_master_without_stats_sends_them_in_the_feed() -> None:
    source = OlderMaster()

    async def drive() -> None:
        app = fixed_app(source)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: source.stats_feed and source.subscribed == 2)
            await until(pilot, lambda: app.connected and app.instances.shown > 0)

    asyncio.run(drive())


def test_stopped_rows_in_view_ask_for_no_stats(start_master: Callable[[str], MasterProc]) -> None:
    """A row without a process has no CPU or RSS: only the running rows in view are asked."""
    m = start_master(
        CONFIG.replace(f"numprocs = {COUNT}", "numprocs = 2")
        + '\n[programs.idle]\ncommand = "sleep 3600"\nautostart = false\n'
    )
    m.wait_state("w:1", "RUNNING")
    source = RecordingSource(m.socket)

    async def drive() -> None:
        app = ProcsupApp(source)
        async with app.run_test(size=(120, 24)) as pilot:
            await until(pilot, lambda: app.connected and app.instances.shown == 3)
            await until(pilot, lambda: bool(source.asked))
            assert source.asked[-1] == ["w:0", "w:1"]  # idle:0 is in view, STOPPED
            m.call("stop", {"names": ["w"]})
            await until(pilot, lambda: not app._with_process(app.instances.in_view()))
            await pilot.pause(0.2)  # an ask already on its way
            asked = len(source.asked)
            await pilot.pause(3 * source.stats_interval)  # nothing to ask: no ask in 3 intervals
            assert len(source.asked) == asked

    asyncio.run(drive())
