"""What a repaint of the live tables costs (issue 14): a cell is rendered again only when its text
changed, columns that change with time alone are brought up to date only in the rows in view,
and a filter that hides and shows rows again does not format them again. The first test also
guards the DataTable hooks of tui/table.py: their rendering must equal DataTable's own, so a
textual release that changes what they override fails here, not on screen."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

from rich.segment import Segment
from textual._styles_cache import StylesCache
from textual.geometry import Region
from textual.widgets import DataTable

from procsup.tui.app import ProcsupApp
from procsup.tui.bordered import BorderedLines
from procsup.tui.fmt import Clock
from procsup.tui.regions import stacked
from procsup.tui.table import LiveTable, same
from tests.tui.fakes import NOW, FakeSource, fixed_app, instance, snapshot, until

COUNT = 500


def many() -> list[Any]:
    return [
        instance(f"w:{i}", "RUNNING", pid=10000 + i, started=NOW - 60 - i, cpu=0.5, rss=2**24)
        for i in range(COUNT)
    ]


def test_cell_renderings_equal_datatable_own() -> None:
    async def drive() -> None:
        app = fixed_app()  # the snapshot's rows: every kind of cell (states, dashes, styles)
        async with app.run_test(size=(150, 40)) as pilot:
            table = app.instances
            await until(pilot, lambda: app.connected and table.shown == 8)
            await pilot.pause(0.2)
            style = table.rich_style
            for row in range(-1, table.row_count):  # -1: the header
                for col, column in enumerate(table.ordered_columns):
                    width = column.get_render_width(table)
                    for cursor in (False, True):
                        ours = table._render_cell(row, col, style, width, cursor)
                        theirs = DataTable._render_cell(table, row, col, style, width, cursor)
                        merged = [list(Segment.simplify(line)) for line in theirs]  # as ours
                        assert ours == merged, (row, column.key, cursor)

    asyncio.run(drive())


def test_line_renderings_equal_datatable_own() -> None:
    """The lines put together from kept cells (celltable.py `_render_line`) are DataTable's,
    on the cursor's row and the others, whole or cropped, after a cell changed too."""

    async def drive() -> None:
        app = fixed_app()
        async with app.run_test(size=(150, 40)) as pilot:
            table = app.instances
            await until(pilot, lambda: app.connected and table.shown == 8)
            await pilot.pause(0.2)
            style = table.rich_style
            width = table.size.width

            def compare() -> None:
                table._pseudo_class_state = table.get_pseudo_class_state()
                table._update_count += 1  # DataTable's own line caches: drawn afresh
                for y in range(table.row_count + 2):  # the header, the rows, past the end
                    for x1, x2 in ((0, width), (3, width + 3), (0, width - 20)):
                        ours = table._render_line(y, x1, x2, style).simplify()
                        theirs = DataTable._render_line(table, y, x1, x2, style).simplify()
                        assert list(ours) == list(theirs), (y, x1, x2)

            compare()
            await pilot.press("down", "down")  # the cursor on another row
            compare()
            table.write_cells([("web:0", "cpu", "99.9")])
            compare()

    asyncio.run(drive())


def counting(table: LiveTable[Any], app: ProcsupApp) -> list[int]:
    """Count the cells rendered from now on (each goes through the console once)."""
    calls = [0]
    render = app.console.render_lines

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return render(*args, **kwargs)

    app.console.render_lines = spy  # type: ignore[method-assign]
    return calls


def test_a_changed_cell_is_the_only_one_rendered_again() -> None:
    source = FakeSource(snapshot(many()))

    async def drive() -> None:
        app = fixed_app(source)
        async with app.run_test(size=(150, 40)) as pilot:
            table = app.instances
            await until(pilot, lambda: app.connected and table.shown == COUNT)
            await pilot.pause(0.3)
            rendered = counting(table, app)
            stats = {f"w:{i}": {"cpu": 0.5, "rss": 2**24} for i in range(COUNT)}
            stats["w:1"] = {"cpu": 9.0, "rss": 2**24}  # one cell changes
            source.queue.put_nowait({"type": "stats", "time": NOW, "instances": stats})
            await until(pilot, lambda: str(table.get_cell("w:1", "cpu")) == "9.0")
            await pilot.pause(0.3)
            # the CPU cell of w:1, with and without the cursor's style at most
            assert 1 <= rendered[0] <= 2, rendered[0]

    asyncio.run(drive())


def test_time_columns_are_brought_up_to_date_in_view_only() -> None:
    now = [NOW]
    source = FakeSource(snapshot(many()))

    async def drive() -> None:
        app = ProcsupApp(source, clock=Clock(now=lambda: now[0], tz=UTC))
        async with app.run_test(size=(150, 40)) as pilot:
            table = app.instances
            await until(pilot, lambda: app.connected and table.shown == COUNT)
            last = f"w:{COUNT - 1}"
            assert last not in table.in_view()
            before = str(table.get_cell(last, "uptime"))
            now[0] += 5
            table.tick()
            assert str(table.get_cell("w:0", "uptime")) == "1m05s"  # in view: up to date
            assert str(table.get_cell(last, "uptime")) == before  # out of view: not touched
            table.scroll_end(animate=False)  # in view now: up to date at once

            def at_end() -> bool:
                # a scroll asked for before textual has laid out every new row stops short
                # of the end: ask again until the last row is on screen
                if last in table.in_view():
                    return True
                table.scroll_end(animate=False)
                return False

            await until(pilot, at_end)
            assert str(table.get_cell(last, "uptime")) == "9m24s"  # 60 + 499 + 5 s

    asyncio.run(drive())


def test_filtering_does_not_format_rows_again() -> None:
    source = FakeSource(snapshot(many()))

    async def drive() -> None:
        app = fixed_app(source)
        async with app.run_test(size=(150, 40)) as pilot:
            table = app.instances
            await until(pilot, lambda: app.connected and table.shown == COUNT)
            formatted = [0]
            cells = table.cells

            def spy(row: Any, now: float) -> Any:
                formatted[0] += 1
                return cells(row, now)

            table.cells = spy  # type: ignore[method-assign]
            table.set_filter("w:49")
            assert table.shown == 11
            table.set_filter("")
            assert table.shown == COUNT and table.get_row_index("w:499") == COUNT - 1
            assert formatted[0] == 0
            await pilot.pause(0.2)
            assert table.get_cell("w:7", "name") == "w:7"

    asyncio.run(drive())


def test_rows_a_filter_brings_back_are_not_measured_or_drawn_again() -> None:
    """The rows come back with their DataTable records (celltable.py `clear_keeping`): none
    is measured again (columns never narrow) and the lines back where they were drawn come
    from what was kept, whatever the focus did meanwhile."""
    source = FakeSource(snapshot(many()))

    async def drive() -> None:
        app = fixed_app(source)
        async with app.run_test(size=(150, 40)) as pilot:
            table = app.instances
            await until(pilot, lambda: app.connected and table.shown == COUNT)
            await pilot.pause(0.2)
            measured, placed = [0], [0]
            measure, with_meta = table._measure, table._with_meta

            def measuring(console: Any, cell: Any) -> int:
                measured[0] += 1
                return measure(console, cell)

            def placing(*args: Any) -> Any:
                placed[0] += 1
                return with_meta(*args)

            table._measure = measuring  # type: ignore[method-assign]
            table._with_meta = placing  # type: ignore[method-assign]
            await pilot.press("slash", *"w:0")  # the table loses the focus: drawn dimmed
            await until(pilot, lambda: table.shown == 1)
            await pilot.press("enter")
            await until(pilot, lambda: table.has_focus)
            await pilot.pause(0.2)
            measured[0] = placed[0] = 0
            await pilot.press("escape")
            await until(pilot, lambda: table.shown == COUNT)
            await pilot.pause(0.2)
            assert table.selected == "w:0" and table.cursor_row == 0
            assert "w:12" in table.in_view() and "w:12" in app.export_screenshot()
            assert measured[0] <= 2, measured[0]  # the first row: it goes through add_row
            assert placed[0] == 0, placed[0]

    asyncio.run(drive())


def test_a_tick_shows_the_new_uptime_on_screen() -> None:
    """Only the changed cells are marked for repaint (celltable.py `write_cells`): the screen,
    not just the table's data, shows the new uptime after a tick."""
    now = [NOW]

    async def drive() -> None:
        app = ProcsupApp(FakeSource(), clock=Clock(now=lambda: now[0], tz=UTC))
        async with app.run_test(size=(130, 36)) as pilot:
            await until(pilot, lambda: app.connected and app.instances.shown == 8)
            await pilot.pause(0.2)
            assert "10m05s" in app.export_screenshot()  # queue:0, up 605 s
            now[0] += 2
            await app._tick()
            await pilot.pause(0.1)
            screen = app.export_screenshot()
            assert "10m07s" in screen and "10m05s" not in screen

    asyncio.run(drive())


def test_timed_cells_are_the_rows_own() -> None:
    """A tick formats only the uptime and last-exit cells (InstanceTable.timed_cells): they
    must be what the whole row's formatting gives."""
    app = fixed_app()
    table = app.instances
    keys = [key for key, _, _ in table.COLUMNS]
    for row in app.source.snap["instances"]:  # type: ignore[attr-defined]
        for at in (NOW, NOW + 3600):
            whole = table.cells(row, at)
            for key, cell in table.timed_cells(row, at).items():
                assert same(cell, whole[keys.index(key)]), (row["name"], key)


def test_bordered_lines_equal_textual_own() -> None:
    """The table's lines wrapped in its border directly (bordered.py) are the lines textual's
    StylesCache draws: the border, the title and subtitle lines, the header, the rows, with
    the table focused (its border changes colour) and not."""

    async def drive() -> None:
        app = fixed_app()
        async with app.run_test(size=(150, 40)) as pilot:
            table = app.instances
            await until(pilot, lambda: app.connected and table.shown == 8)
            for focused in (True, False):
                app.set_focus(table if focused else None)
                await pilot.pause(0.2)
                assert table.has_focus == focused
                whole = Region(0, 0, *table.region.size)
                shortcut = BorderedLines()
                ours = shortcut.render_widget(table, whole)
                theirs = StylesCache().render_widget(table, whole)
                assert shortcut._kept_sides[1] is not None  # the shortcut was taken
                assert len(ours) == table.region.height
                for y, (a, b) in enumerate(zip(ours, theirs, strict=True)):
                    assert list(a) == list(b), (focused, y)

    asyncio.run(drive())


def test_cells_one_above_the_other_are_refreshed_as_one_region() -> None:
    """A tick's changed uptimes, one above the other, are one region to repaint; cells apart,
    in other columns or named twice stay exactly the changed cells."""
    cells = [(50, 11, 5), (50, 11, 3), (50, 11, 4), (50, 11, 4), (50, 11, 8), (70, 8, 4)]
    assert stacked(cells) == [Region(50, 3, 11, 3), Region(50, 8, 11, 1), Region(70, 4, 8, 1)]
    assert stacked([]) == []
