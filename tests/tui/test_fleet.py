"""The dashboard's fleet view against one real redis-server and two real masters: `f` shows
both hosts with their counts by state, a stop on one host reaches the view through the
cluster's channel, and enter drills into that host's instances."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from rich.text import Text
from textual.widgets import DataTable

from procsup.tui.app import ProcsupApp
from procsup.tui.fleet import FleetScreen, HostScreen
from procsup.tui.source import MasterSource
from tests.harness import MasterProc, wait_for
from tests.integration.test_fleet import fleet_config, running_entry
from tests.redis_server import RedisServer
from tests.tui.fakes import until

pytestmark = pytest.mark.redis


def cell(table: DataTable, row: str, column: int) -> str:
    value = table.get_row(row)[column]
    return value.plain if isinstance(value, Text) else str(value)


def test_fleet_view_follows_the_channel_and_drills_into_a_host(
    start_master: Callable[[str], MasterProc], redis_server: RedisServer
) -> None:
    web1 = start_master(fleet_config(redis_server, "web-1"))
    start_master(fleet_config(redis_server, "web-2", "remote_control = true"))
    for node in ("web-1", "web-2"):
        wait_for(lambda node=node: running_entry(redis_server, node), 10, node)

    async def drive() -> None:
        app = ProcsupApp(MasterSource(web1.socket))
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: app.instances.shown == 2)
            # the header names the cluster (and would say if Redis did not answer)
            await until(pilot, lambda: "fleet t as web-1" in app._header_plain)
            await pilot.press("f")
            await until(pilot, lambda: isinstance(app.screen, FleetScreen))
            screen = app.screen
            assert isinstance(screen, FleetScreen)
            table = screen.table
            await until(pilot, lambda: table.row_count == 2)
            await until(pilot, lambda: cell(table, "web-1", 3).strip() == "2 RUNNING")
            assert cell(table, "web-2", 5) == "yes" and cell(table, "web-1", 1) == "live"
            await asyncio.to_thread(web1.cli, "stop", "worker:1")
            await until(pilot, lambda: "1 STOPPED" in cell(table, "web-1", 3))
            table.focus()
            await pilot.press("enter")  # the cursor is on web-1, the first row
            await until(pilot, lambda: isinstance(app.screen, HostScreen))
            host = app.screen
            assert isinstance(host, HostScreen) and host.node == "web-1"
            await until(pilot, lambda: host.table.row_count == 2)
            await until(pilot, lambda: cell(host.table, "worker:1", 1) == "STOPPED")
            assert cell(host.table, "worker:0", 1) == "RUNNING"
            await asyncio.to_thread(web1.cli, "start", "worker:1")
            await until(pilot, lambda: cell(host.table, "worker:1", 1) == "RUNNING")
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, FleetScreen))

    asyncio.run(drive())
