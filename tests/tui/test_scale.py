"""500 instances and a burst of events: rows are updated in place and the app settles."""

from __future__ import annotations

import asyncio
from typing import Any

from procsup.core.schema import instance_row
from tests.tui.fakes import NOW, FakeSource, fixed_app, instance, snapshot, state_event, until

COUNT = 500


def many() -> list[dict[str, Any]]:
    return [
        instance(f"w:{i}", "RUNNING", pid=10000 + i, started=NOW - 60, cpu=0.5, rss=2**24)
        for i in range(COUNT)
    ]


def state(name: str, old: str, new: str) -> dict[str, Any]:
    return dict(state_event(instance_row(name, new), old))


def test_burst_of_events_on_500_rows() -> None:
    source = FakeSource(snapshot(many()))

    async def drive() -> None:
        app = fixed_app(source)
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.instances
            await until(pilot, lambda: table.shown == COUNT)
            rebuilt: list[bool] = []
            clear = table.clear

            def spy(columns: bool = False) -> Any:
                rebuilt.append(True)
                return clear(columns)

            table.clear = spy  # type: ignore[method-assign]

            for i in range(COUNT):
                source.queue.put_nowait(state(f"w:{i}", "RUNNING", "STOPPING"))
                source.queue.put_nowait(state(f"w:{i}", "STOPPING", "STOPPED"))
            stats = {f"w:{i}": {"cpu": 1.0, "rss": 2**25} for i in range(0, COUNT, 2)}
            source.queue.put_nowait({"type": "stats", "time": NOW, "instances": stats})

            def settled() -> bool:
                cells = [table.get_cell(f"w:{i}", "state") for i in (0, COUNT // 2, COUNT - 1)]
                return source.queue.empty() and all(c.plain == "STOPPED" for c in cells)

            await until(pilot, settled)
            assert app.store.counts() == {"STOPPED": COUNT}
            assert table.shown == COUNT and not rebuilt
            # the events carry the rows: nothing is re-read with `list`
            assert not any(cmd == "list" for cmd, _ in source.calls)

            # typing in the filter (debounced) and scrolling still work
            await pilot.press("slash", *"w:49")
            await until(pilot, lambda: table.shown == 11)  # w:49, w:490 … w:499
            await pilot.press("enter", "pagedown", "pagedown", "end", "home")
            await pilot.press("escape")
            await until(pilot, lambda: table.shown == COUNT)
            await pilot.press("pagedown", "pagedown", "end")
            await until(pilot, lambda: table.cursor_row == COUNT - 1)
            assert app.is_running

    asyncio.run(drive())
