"""The dashboard app: layout, the live feed from the master, and `run_tui` for the CLI.

The feed is one `events` subscription: the snapshot fills the store, every event updates it, and
a short debounce applies the changed rows to the tables. CPU and RSS are samples, not events:
every 2 s (and at the next tick after other rows come into view) the app asks the master's
`stats` command for the rows on screen only, so the master samples ~40 process trees, not all
2,000 (issue 14); sorted by CPU or RSS, it asks for all. An older master without `stats` sends
them in the feed instead. The once-a-second tick, which repaints the tables anyway (uptimes,
"in 5s"), asks and shows the answer in its own repaint, so one repaint a second, not two.
When the master is away, an honest screen says so and the feed reconnects by itself.
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import ClassVar

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Vertical
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.widgets import DataTable, Input, Static

from procsup.control.client import ClientError
from procsup.control.protocol import UNKNOWN_COMMAND, ProtocolError
from procsup.tui import driver
from procsup.tui.actions import Actions
from procsup.tui.debounce import Debounce
from procsup.tui.filterbox import FilterBox
from procsup.tui.fmt import Clock, header_text, offline_text
from procsup.tui.footer import KeyFooter
from procsup.tui.instances import InstanceTable
from procsup.tui.logpane import LogPane
from procsup.tui.source import Source
from procsup.tui.store import Store
from procsup.tui.tasks import TaskTable

FLUSH_DELAY = 0.05  # events arriving within this are applied to the tables together
SEARCH_DELAY = 0.15  # typing a log search: search when the keys pause this long
FOLLOW_DELAY = 0.15  # moving the cursor: switch the log when it rests this long
TICK = 1.0  # the time columns and the header's clock are brought up to date this often
STATS_WAIT = 0.25  # a tick waits at most this long for the CPU/RSS it asked for


def _quietly(task: asyncio.Task[None]) -> None:
    """Take a finished task's exception, so asyncio does not print it over the screen."""
    if not task.cancelled():
        task.exception()


class ProcsupApp(Actions, App[int]):
    CSS_PATH = Path(__file__).with_name("procsup.tcss")  # absolute: subclasses live elsewhere
    TITLE = "procsup"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit"),
        Binding("s", "row('start')", "start"),
        Binding("x", "row('stop')", "stop"),
        Binding("r", "row('restart')", "restart"),
        Binding("k", "signal", "signal"),
        Binding("R", "run_task", "run task"),
        Binding("P", "pause_task", "pause task"),
        Binding("slash", "filter", "filter"),
        Binding("p", "pause_log", "pause log"),
        Binding("m", "maximize_log", "max log"),
        Binding("o", "sort", "sort"),
        Binding("question_mark", "help", "help"),
        Binding("f", "fleet", "fleet", show=False),
        Binding("S", "all('start')", "start all", show=False),
        Binding("X", "all('stop')", "stop all", show=False),
        Binding("ctrl+r", "all('restart')", "restart all", show=False),
        Binding("escape", "escape", "back", show=False),
    ]
    ALLOW_IN_MAXIMIZED_VIEW = "#header, #search, Footer"
    ESCAPE_TO_MINIMIZE = False  # escape first ends a search (action_escape)

    def __init__(self, source: Source, clock: Clock | None = None, retry: float = 1.0) -> None:
        super().__init__()
        self.source = source
        self.clock = clock or Clock()
        self.retry = retry
        self.store = Store()
        self.connected = False
        self.instances = InstanceTable(self.store.instances, self.clock, id="instances")
        self.tasks = TaskTable(self.store.tasks, self.clock, id="tasks")
        self.log_pane = LogPane(source, self.clock, id="log")
        self.header = Static(id="header")
        self.offline_text = Static(id="unreachable-text")
        self.filter_box = FilterBox(
            self._apply_filter,
            placeholder="/ filter: part of a name, or a state (enter keeps it, escape clears it)",
            id="filter",
            disabled=True,  # enabled by `/`; always on screen, so `/` changes no layout
            compact=True,
        )
        self.search_box = Input(
            placeholder="search the log: enter keeps it (n/N next/previous), escape clears it",
            id="search",
            disabled=True,
        )
        self.last_table: InstanceTable | TaskTable = self.instances
        self._debounce = Debounce(self.set_timer)
        self.offline_message = ""
        self._header_plain = ""
        self._titles_shown: dict[str, tuple[str, str]] = {}
        self._stats_asked: tuple[float, list[str] | None] = (float("-inf"), None)
        self._stats_ask: asyncio.Task[None] | None = None  # the `stats` call on its way
        self._counts: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield self.header
        with Center(id="unreachable"):
            yield self.offline_text
        with Vertical(id="main"):
            yield self.instances
            yield self.tasks
            yield self.log_pane
        yield self.filter_box
        yield self.search_box
        yield KeyFooter()

    def get_driver_class(self) -> type[Driver]:
        """On a terminal (not under TEXTUAL_DRIVER), the driver whose escape key does not wait
        for the input thread's next wake (tui/driver.py)."""
        default = super().get_driver_class()
        if default is LinuxDriver and driver.fits():
            return driver.PromptDriver
        return default

    def on_mount(self) -> None:
        self.add_class("offline")
        self._offline(f"connecting to {self.source.address} …")
        self.tasks.display = False
        self.set_interval(TICK, self._tick)
        self.run_worker(self._feed(), group="feed", exit_on_error=False)

    def on_unmount(self) -> None:
        if self._stats_ask is not None:
            self._stats_ask.cancel()
        self.source.close()

    # --- the live feed --------------------------------------------------------------------------

    async def _feed(self) -> None:
        attempt = 0
        while True:
            try:
                async for item in self.source.events():
                    if item.get("type") == "snapshot":
                        attempt = 0
                        self._online()
                    try:
                        self.store.apply(item)
                    except (KeyError, TypeError, ValueError):
                        continue  # an item we cannot read: skip it, keep following
                    if item.get("type") != "stats":  # stats: the next tick applies them
                        self._debounce.once("apply", FLUSH_DELAY, self._apply_changes)
            except ProtocolError as exc:
                attempt += 1
                self._offline(str(exc), attempt)
            await asyncio.sleep(self.retry)

    def _stats_due(self) -> asyncio.Task[None] | None:
        """Ask for the CPU/RSS of the rows on screen when the last ask is `stats_interval`
        old, or when other rows came into view (looked at by the tick). A plain task, not a
        worker: a worker's state messages cost more than the call (issue 14: the idle
        dashboard)."""
        if not self.connected or self._stats_ask is not None or self.source.stats_feed:
            return None
        table = self.instances
        names = None if table.sort_by in ("cpu", "rss") else self._with_process(table.in_view())
        at, last = self._stats_asked
        now = asyncio.get_running_loop().time()
        due = self.source.stats_interval - TICK / 2  # a tick a little early still asks
        if names == [] or (now - at < due and names == last):
            return None
        self._stats_asked = (now, names)
        self._stats_ask = ask = asyncio.create_task(self._ask_stats(names))
        ask.add_done_callback(_quietly)  # an answer it cannot read is skipped, as by a worker
        return ask

    def _with_process(self, names: list[str]) -> list[str]:
        """The rows that have a process to sample (a STOPPED row in view asks for nothing)."""
        rows = self.store.instances
        return [name for name in names if name in rows and rows[name].get("pid")]

    async def _ask_stats(self, names: list[str] | None) -> None:
        try:
            result = await self.source.call("stats", {} if names is None else {"names": names})
        except ClientError as exc:
            if exc.code == UNKNOWN_COMMAND:  # an older master: its events feed sends stats
                self.source.stats_feed = True
                self.workers.cancel_group(self, "feed")
                self.run_worker(self._feed(), group="feed", exit_on_error=False)
            return
        except ProtocolError:
            return  # the master went away: the feed says so
        finally:
            self._stats_ask = None
        if isinstance(result, dict):
            self.store.sampled(result, names)

    def _online(self) -> None:
        was, self.connected = self.connected, True
        self.remove_class("offline")
        if self.focused is None:
            self.instances.focus()
        if not was and self.log_pane.target is not None:
            self.log_pane.follow(self.log_pane.target, again=True)

    def _offline(self, reason: str, attempt: int = 0) -> None:
        self.connected = False
        self.add_class("offline")
        text = offline_text(self.source.address, reason, self.retry, attempt)
        self.offline_message = text.plain
        self.offline_text.update(text)
        self._header_plain = ""
        self.header.update("procsup · no master", layout=False)

    def _apply_changes(self) -> None:
        changes = self.store.take()
        reset = changes.reset
        self._counts = self.store.counts()  # for the header: once per change, not every tick
        self.instances.sync(None if reset else changes.instances | changes.removed)
        self.tasks.sync(None if reset else changes.tasks | changes.tasks_removed)
        self.tasks.display = bool(self.store.tasks)
        self._header()
        self._titles()
        target = self.log_pane.target
        if target not in self.store.instances and target not in self.store.tasks:
            self._follow_selected()  # nothing followed yet, or its row is gone: the cursor's row
        if reset and self.freeze_gc:
            self.call_after_refresh(gc.freeze)

    freeze_gc = False
    """After a snapshot is shown, move every object alive into the collector's permanent
    generation (run_tui sets it). With 2,000 rows the heap is large, and a full collection
    took ~60 ms, landing on a key now and then (issue 14: keypress to repaint ≤ 50 ms); frozen
    objects are still freed when unreferenced, only cycles among them are kept."""

    async def _tick(self) -> None:
        """Once a second: the time columns and the header's clock. When the rows on screen
        are due fresh CPU/RSS, they are asked for first and shown in this same repaint (a
        slow answer, after STATS_WAIT, in the next one): one repaint a second, not two."""
        asked = self._stats_due()
        if asked is not None:
            await asyncio.wait({asked}, timeout=STATS_WAIT)
        if self.connected:
            if self.store.pending:  # stats (or events whose debounce has not fired yet)
                self._apply_changes()
            self.instances.tick()
            self.tasks.tick()
            self._header()

    def _header(self) -> None:
        text = header_text(self.store.master, self._counts, self.store.tasks, self.clock.now())
        if text.plain != self._header_plain:  # most ticks change nothing
            self._header_plain = text.plain
            self.header.update(text, layout=False)

    def _titles(self) -> None:
        for table, total, what in (
            (self.instances, len(self.store.instances), "instances"),
            (self.tasks, len(self.store.tasks), "tasks"),
        ):
            shown = f"{table.shown} of {total}" if table.filter_text else str(total)
            title = f"{what} ({shown})"
            arrow = "↓" if table.sort_reverse else "↑"
            sub = f"sort: {table.sort_by} {arrow}"
            if table.filter_text:
                sub += f" · filter: {table.filter_text}"
            if self._titles_shown.get(what) != (title, sub):  # setting one repaints the table
                self._titles_shown[what] = (title, sub)
                table.border_title, table.border_subtitle = title, sub

    # --- selection, filter, sorting -------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self._active_table():
            self._debounce.after_quiet("follow", FOLLOW_DELAY, self._follow_selected)

    @on(events.DescendantFocus)
    def _focus_moved(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, InstanceTable | TaskTable):
            self.last_table = event.widget
            self._debounce.after_quiet("follow", FOLLOW_DELAY, self._follow_selected)

    def _active_table(self) -> InstanceTable | TaskTable:
        """The focused table; with the focus elsewhere (the log pane), the one last focused."""
        if self.instances.has_focus or self.tasks.has_focus:
            return self.tasks if self.tasks.has_focus else self.instances
        return self.last_table if self.last_table.display else self.instances

    def _follow_selected(self) -> None:
        self.log_pane.follow(self._active_table().selected)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        kind = "task" if event.data_table is self.tasks else "instance"
        name = event.row_key.value
        if name is not None:
            self.show_details(kind, name)

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        table = event.data_table
        key = event.column_key.value
        if isinstance(table, InstanceTable | TaskTable) and key in table.SORTS:
            table.set_sort(key)
            self._titles()

    def action_fleet(self) -> None:
        """Every host of this master's cluster (tui/fleet.py), from its config's Redis."""
        from procsup.config.load import ConfigError, load_config
        from procsup.tui.fleet import FleetFeed, FleetScreen

        path = self.store.master.get("config")
        try:
            cfg = load_config(Path(path)).master if path else None
        except ConfigError as exc:
            self.notify(f"cannot read {path}: {exc.issues[0]}", severity="error")
            return
        if cfg is None or not cfg.cluster or not cfg.redis_url:
            self.notify('this master is in no cluster (cluster = "NAME" in [procsup])')
            return
        self.push_screen(FleetScreen(FleetFeed(cfg.redis_url, cfg.cluster)))

    def action_sort(self) -> None:
        self._active_table().cycle_sort()
        self._titles()

    def action_filter(self) -> None:
        """`/`: type into the filter line under the panes. It is always there (disabled until
        now), so opening it moves nothing on screen (issue 14: keypress to repaint)."""
        box = self.filter_box
        box.disabled = False
        box.focus()

    def action_escape(self) -> None:
        """Back out one step: the log search, then a maximised log pane, then the filter."""
        if self.search_box.has_class("shown") or self.log_pane.needle:
            self.close_search()
        elif self.screen.maximized is not None:
            self.screen.minimize()
        else:
            self.action_clear_filter()

    def action_clear_filter(self) -> None:
        box = self.filter_box
        if not box.disabled or box.value:
            self.instances.focus()  # first: the box disabled with the focus would drop it
            box.value = ""
            box.disabled = True
            self._apply_filter()

    @on(Input.Changed, "#search")
    def _search_changed(self) -> None:
        self._debounce.after_quiet("search", SEARCH_DELAY, self._apply_search)

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self._apply_search()
        self.log_pane.focus()

    def _apply_search(self) -> None:
        if self.search_box.value.strip().lower() != self.log_pane.needle:
            self.log_pane.search(self.search_box.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self._apply_filter()
        self.instances.focus()

    def _apply_filter(self) -> None:
        text = self.filter_box.value
        for table in (self.instances, self.tasks):
            if table.filter_text != text.strip().lower():
                table.set_filter(text)
        self._titles()
