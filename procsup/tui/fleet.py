"""The fleet view (`f`): every host of the cluster with its instances counted by state, live;
enter drills into one host's instances. Fed by the cluster's Redis channel (heartbeat
summaries and state changes the masters publish), after one read of the host entries taken
once subscribed, so no change slips between the two; no host is polled.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from procsup.core import fleet
from procsup.core.humanize import STATE_ORDER, format_size, state_style

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass
class HostView:
    """What the fleet view knows of one host."""

    node: str
    written: float
    interval: float
    remote_control: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    tasks: int = 0
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # instance name -> row
    changed: dict[str, float] = field(default_factory=dict)  # name -> time of its last event

    def take_rows(self, entry: dict[str, Any]) -> None:
        """An entry's rows, except those a later state event already brought."""
        for row in entry.get("instances", []):
            if self.changed.get(row["name"], 0.0) < entry["written"]:
                self.rows[row["name"]] = row

    def stale(self, now: float) -> bool:
        return fleet.is_stale(self.written, self.interval, now)


class FleetFeed:
    """The hosts of one cluster, kept current from its channel."""

    def __init__(self, url: str, cluster: str) -> None:
        self.url = url
        self.cluster = cluster
        self.hosts: dict[str, HostView] = {}
        self.error: str | None = None

    def client(self) -> Redis:
        from redis.asyncio import Redis

        return Redis.from_url(self.url, socket_connect_timeout=2, decode_responses=True)

    async def load(self, client: Redis) -> None:
        """Every host entry, once."""
        keys = [k async for k in client.scan_iter(match=fleet.host_pattern(self.cluster))]
        for body in await client.mget(keys) if keys else []:
            if body:
                self.take_entry(json.loads(body))

    def take_entry(self, entry: dict[str, Any]) -> None:
        host = HostView(entry["node"], entry["written"], entry["interval"])
        host.remote_control = bool(entry.get("remote_control"))
        host.take_rows(entry)
        host.tasks = len(entry.get("tasks", []))
        for row in host.rows.values():
            host.counts[row["state"]] = host.counts.get(row["state"], 0) + 1
        self.hosts[host.node] = host

    def apply(self, msg: dict[str, Any]) -> None:
        """One channel message: a heartbeat summary or a state change."""
        node = msg.get("node")
        if not isinstance(node, str):
            return
        if msg.get("type") == "heartbeat":
            host = self.hosts.get(node) or HostView(node, msg["written"], msg["interval"])
            host.written, host.interval = msg["written"], msg["interval"]
            host.remote_control = bool(msg.get("remote_control"))
            host.counts, host.tasks = dict(msg.get("counts", {})), int(msg.get("tasks", 0))
            self.hosts[node] = host
        elif msg.get("type") == "state" and node in self.hosts:
            host = self.hosts[node]
            old, new = msg.get("from"), msg.get("to")
            if old in host.counts:
                host.counts[old] = max(0, host.counts[old] - 1)
            if isinstance(new, str):
                host.counts[new] = host.counts.get(new, 0) + 1
            if isinstance(msg.get("row"), dict):
                host.rows[msg["name"]] = msg["row"]
                host.changed[msg["name"]] = float(msg.get("time", 0.0))

    def drop_expired(self, now: float) -> None:
        """A host whose entry has expired (three intervals without a heartbeat) is gone."""
        for node, host in list(self.hosts.items()):
            if now - host.written > host.interval * fleet.TTL_INTERVALS:
                del self.hosts[node]


def sync_rows(table: DataTable[str | Text], rows: dict[str, list[str | Text]]) -> None:
    """Show `rows` (key -> cells), updating cells in place while the keys stay the same, so
    the cursor stays on its row."""
    keys = [str(k.value) for k in table.rows]
    if keys != list(rows):
        table.clear()
        for key, cells in rows.items():
            table.add_row(*cells, key=key)
        return
    columns = list(table.columns)
    for key, cells in rows.items():
        for column, cell in zip(columns, cells, strict=True):
            table.update_cell(key, column, cell)


def counts_text(counts: dict[str, int]) -> Text:
    text = Text()
    for state in STATE_ORDER:
        if counts.get(state):
            text.append(f"{counts[state]} {state} ", style=state_style(state))
    return text


class FleetScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f", "app.pop_screen", "back")]

    def __init__(self, feed: FleetFeed) -> None:
        super().__init__()
        self.feed = feed
        self.table: DataTable[str | Text] = DataTable(id="fleet-hosts", cursor_type="row")
        self.status = Static(id="fleet-status")

    def compose(self) -> ComposeResult:
        yield self.status
        yield self.table
        yield Footer()

    def on_mount(self) -> None:
        self.table.add_columns("HOST", "STATUS", "INSTANCES", "BY STATE", "TASKS", "REMOTE")
        self.set_interval(1.0, self.render_hosts)  # staleness moves with the clock alone
        self.run_worker(self._follow(), group="fleet", exit_on_error=False)

    async def _follow(self) -> None:
        from redis.exceptions import RedisError

        client = self.feed.client()
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(fleet.channel(self.feed.cluster))  # first, then read
                await self.feed.load(client)
                self.render_hosts()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.feed.apply(json.loads(message["data"]))
                        self.render_hosts()
        except (RedisError, OSError) as exc:
            self.feed.error = f"cannot follow cluster {self.feed.cluster!r}: {exc}"
            self.render_hosts()
        finally:
            await client.aclose()

    def render_hosts(self) -> None:
        now = time.time()
        self.feed.drop_expired(now)
        where = f"fleet {self.feed.cluster}: {len(self.feed.hosts)} hosts"
        self.status.update(self.feed.error or where + " · enter: its instances · escape: back")
        rows: dict[str, list[str | Text]] = {}
        for node, host in sorted(self.feed.hosts.items()):
            stale = host.stale(now)
            rows[node] = [
                node,
                Text("stale", style="bold red") if stale else Text("live", style="green"),
                str(sum(host.counts.values())),
                counts_text(host.counts),
                str(host.tasks),
                "yes" if host.remote_control else "no",
            ]
        sync_rows(self.table, rows)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        node = event.row_key.value
        if node in self.feed.hosts:
            self.app.push_screen(HostScreen(self.feed, node))


class HostScreen(Screen[None]):
    """One host's instances, as its entry had them and its state changes since."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "back")]

    def __init__(self, feed: FleetFeed, node: str) -> None:
        super().__init__()
        self.feed = feed
        self.node = node
        self.table: DataTable[str | Text] = DataTable(id="host-instances", cursor_type="row")

    def compose(self) -> ComposeResult:
        yield Static(f"{self.node}: instances · escape: back to the fleet", id="host-title")
        yield self.table
        yield Footer()

    def on_mount(self) -> None:
        self.table.add_columns("NAME", "STATE", "PID", "RESTARTS", "CPU", "MEM")
        self.run_worker(self._load(), group="host", exit_on_error=False)
        self.set_interval(0.5, self.render_rows)

    async def _load(self) -> None:
        """The host's full entry, once (the summaries on the channel carry only counts)."""
        client = self.feed.client()
        try:
            body = await client.get(fleet.host_key(self.feed.cluster, self.node))
        finally:
            await client.aclose()
        if body:
            host = self.feed.hosts.get(self.node)
            if host is not None:
                host.take_rows(json.loads(body))
        self.render_rows()

    def render_rows(self) -> None:
        host = self.feed.hosts.get(self.node)
        rows: dict[str, list[str | Text]] = {}
        for name, row in sorted((host.rows if host else {}).items()):
            cpu, rss = row.get("cpu"), row.get("rss")
            rows[name] = [
                name,
                Text(row["state"], style=state_style(row["state"])),
                str(row.get("pid") or "-"),
                str(row.get("restarts", 0)),
                f"{cpu:.1f}%" if cpu is not None else "-",
                format_size(rss) if rss is not None else "-",
            ]
        sync_rows(self.table, rows)
