"""The dashboard's view of a master: the narrow interface the app depends on.

`Source` is what the app needs; `MasterSource` is the real one, a thin layer over the asyncio face
of the one protocol client (control/client.py), so the TUI has no reader, result unpacking or
error classes of its own. Snapshot tests use a fixed in-memory Source instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from procsup.control.asyncclient import AsyncClient, KeptConnection


class Source(Protocol):
    """Where the dashboard's data comes from and where its commands go."""

    address: str
    stats_interval: float  # seconds between two `stats` calls for the rows shown
    stats_feed: bool  # the master has no `stats` command: `events` sends stats instead

    def events(self) -> AsyncIterator[dict[str, Any]]:
        """The `events` stream with stats: a snapshot item, then events; NoMaster at the end."""
        ...

    def logs(self, name: str, lines: int) -> AsyncIterator[dict[str, Any]]:
        """Recent then new output lines of one instance or task."""
        ...

    async def call(self, cmd: str, args: dict[str, Any]) -> Any:
        """One request; returns the result or raises ClientError / NoMaster."""
        ...

    def close(self) -> None:
        """Let go of what the source keeps open (the app is closing)."""
        ...


class MasterSource:
    """A Source talking to a real master at a unix socket path."""

    def __init__(self, path: str, stats_interval: float = 2.0) -> None:
        self.address = path
        self.stats_interval = stats_interval  # how often the CPU/RSS of the rows shown are asked
        self.stats_feed = False  # True: `events` sends every instance's stats (an older master)
        self.client = AsyncClient(path)
        self.kept = KeptConnection(self.client)  # for `stats`, asked every stats_interval

    async def call(self, cmd: str, args: dict[str, Any]) -> Any:
        if cmd == "stats":  # read-only, asked often: no connect and `hello` each time
            return await self.kept.call(cmd, args)
        return await self.client.call(cmd, args)

    def close(self) -> None:
        self.kept.close()

    def events(self) -> AsyncIterator[dict[str, Any]]:
        args: dict[str, Any] = {"stats": True}  # the snapshot's rows with CPU/RSS
        if self.stats_feed:
            args["stats_interval"] = self.stats_interval
        return self.client.stream("events", args)

    def logs(self, name: str, lines: int) -> AsyncIterator[dict[str, Any]]:
        return self.client.stream("logs", {"names": [name], "follow": True, "lines": lines})
