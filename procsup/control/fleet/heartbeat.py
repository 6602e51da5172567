"""Heartbeats: every `heartbeat_interval` the master writes its host entry (its facts, every
instance row with CPU and RSS, its task rows and recent runs) to `procsup:fleet:NAME:host:NODE`
with a TTL of three intervals, so a master that dies disappears from the fleet on its own; state
changes are published on the cluster's channel as they happen (the TUI's fleet view listens).

Redis being away never touches supervision: a failed write is logged once, shown in `list` and
the TUI header (MasterInfo `fleet.redis`), and retried at the next beat; redis-py reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from procsup.core import fleet
from procsup.engine.events import Event
from procsup.tasks.redislock import open_client, redact_url

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from procsup.config.load import MasterConfig
    from procsup.control.handlers.view import MasterView
    from procsup.core.schema import FleetStatus

log = logging.getLogger("procsup")
T = TypeVar("T")
OP_TIMEOUT = 1.0


class RedisDown(Exception):
    """A call to the cluster's Redis failed or did not answer in time."""


class Heartbeat:
    """Writes the host entry every interval and forwards state events to the channel."""

    def __init__(self, view: MasterView, cfg: MasterConfig, node: str) -> None:
        assert cfg.cluster and cfg.redis_url, "a heartbeat needs cluster and redis_url"
        self.view = view
        self.cluster = cfg.cluster
        self.node = node
        self.interval = cfg.heartbeat_interval
        self.remote_control = cfg.remote_control
        self.url = cfg.redis_url
        self.redis: Redis = open_client(cfg.redis_url, OP_TIMEOUT)
        self.error: str | None = "not connected yet"
        self._tasks: list[asyncio.Task[None]] = []

    def status(self) -> FleetStatus:
        return {
            "cluster": self.cluster,
            "node": self.node,
            "redis": "connected" if self.error is None else self.error,
            "remote_control": self.remote_control,
        }

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._beat_loop(), name="fleet-heartbeat"),
            asyncio.create_task(self._forward_events(), name="fleet-events"),
        ]

    async def close(self) -> None:
        """Stop beating and delete the entry, so a clean shutdown leaves the fleet at once."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(RedisDown):
            await self.call("delete", self.redis.delete(fleet.host_key(self.cluster, self.node)))
        with contextlib.suppress(Exception):
            await self.redis.aclose()

    def entry(self) -> dict[str, Any]:
        """This host as the fleet sees it (docs/protocol.md, "Host entry")."""
        view = self.view
        runs = view.history(None, fleet.RECENT_RUNS)
        return {
            "node": self.node,
            "cluster": self.cluster,
            "master": view.info(),
            "written": time.time(),
            "interval": self.interval,
            "remote_control": self.remote_control,
            "instances": view.rows(view.instances(), stats=True),
            "tasks": view.task_rows(),
            "runs": [r.to_json() for r in runs],
        }

    async def beat(self) -> None:
        """Write the entry, then tell the channel (the fleet view) this host's counts."""
        entry = self.entry()
        body = json.dumps(entry, separators=(",", ":"), default=str)
        key = fleet.host_key(self.cluster, self.node)
        await self.call("write", self.redis.set(key, body, px=fleet.ttl_ms(self.interval)))
        counts: dict[str, int] = {}
        for row in entry["instances"]:
            counts[row["state"]] = counts.get(row["state"], 0) + 1
        summary = {
            "type": "heartbeat",
            "node": self.node,
            "written": entry["written"],
            "interval": self.interval,
            "remote_control": self.remote_control,
            "counts": counts,
            "tasks": len(entry["tasks"]),
        }
        channel = fleet.channel(self.cluster)
        await self.call("publish", self.redis.publish(channel, json.dumps(summary)))

    async def _beat_loop(self) -> None:
        while True:
            with contextlib.suppress(RedisDown):
                await self.beat()
            await asyncio.sleep(self.interval)

    async def _forward_events(self) -> None:
        """State changes to the channel, as they happen; none queue up while Redis is away."""
        events = self.view.events
        sub = events.subscribe()
        try:
            while True:
                event = await sub.queue.get()
                if event.type not in ("state", "program", "run") or self.error is not None:
                    continue
                message = json.dumps({"node": self.node, **event.to_json()}, default=str)
                with contextlib.suppress(RedisDown):
                    channel = fleet.channel(self.cluster)
                    await self.call("publish", self.redis.publish(channel, message))
        finally:
            events.unsubscribe(sub)

    async def call(self, what: str, op: Awaitable[T]) -> T:
        """Await `op` within OP_TIMEOUT; note when Redis goes away and when it comes back."""
        from redis.exceptions import RedisError

        try:
            async with asyncio.timeout(OP_TIMEOUT):
                result = await op
        except (TimeoutError, RedisError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            error = f"redis at {redact_url(self.url)} unreachable: {reason}"
            if self.error is None or self.error == "not connected yet":
                log.warning("fleet %s: %s (%s); supervising locally", self.cluster, error, what)
                self.error = error
                self._announce()
            self.error = error
            raise RedisDown(error) from exc
        if self.error is not None:
            if self.error != "not connected yet":
                log.info("fleet %s: redis at %s answers again", self.cluster, redact_url(self.url))
            self.error = None
            self._announce()
        return result

    def _announce(self) -> None:
        """Tell the master's clients (the dashboard's header) that Redis answers or not."""
        data = {"event": "fleet", "fleet": self.status()}
        self.view.events.publish(Event("master", self.node, data))
