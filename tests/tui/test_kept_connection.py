"""The dashboard asks for CPU/RSS every 2 s over one kept connection (asyncclient.py
`KeptConnection`, issue 14: the idle dashboard): no connect and `hello` each time, and the
answers keep coming after the master closed the connection for idleness."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from procsup.control.asyncclient import AsyncClient, KeptConnection
from procsup.tui.source import MasterSource
from tests.harness import MasterProc

CONFIG = """
[procsup]
idle_timeout = 0.3

[programs.w]
command = "sleep 3600"
numprocs = 2
start_seconds = 0
"""


class CountingClient(AsyncClient):
    """The real client, counting the connections it opens."""

    opened = 0

    async def _open(self) -> Any:
        self.opened += 1
        return await super()._open()


def test_stats_are_asked_over_one_kept_connection(
    start_master: Callable[[str], MasterProc],
) -> None:
    m = start_master(CONFIG)
    m.wait_state("w:1", "RUNNING")
    source = MasterSource(m.socket)
    source.client = source.kept.client = CountingClient(m.socket)

    async def drive() -> None:
        first = await source.call("stats", {"names": ["w:0", "w:1"]})
        conn = source.kept._conn
        again = await source.call("stats", {"names": ["w:0"]})
        assert conn is not None and source.kept._conn is conn  # the same connection
        assert set(first["instances"]) == {"w:0", "w:1"}
        assert set(again["instances"]) == {"w:0"}
        assert first["instances"]["w:0"]["rss"] > 0
        assert source.client.opened == 1  # type: ignore[attr-defined]
        source.close()
        assert source.kept._conn is None

    asyncio.run(drive())


def test_a_kept_connection_the_master_closed_is_opened_again(
    start_master: Callable[[str], MasterProc],
) -> None:
    m = start_master(CONFIG)
    m.wait_state("w:1", "RUNNING")
    client = CountingClient(m.socket)
    kept = KeptConnection(client)

    async def drive() -> None:
        for _ in range(3):
            result = await kept.call("stats", {"names": ["w:1"]})
            assert set(result["instances"]) == {"w:1"}
            await asyncio.sleep(0.6)  # past the master's idle timeout: it closes the connection
        assert client.opened == 3  # each ask found its connection closed, and opened one
        kept.close()

    asyncio.run(drive())
