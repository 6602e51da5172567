"""Reading the fleet from Redis, for `procsup list/tasks/history --cluster`: every live host
entry the masters of a cluster wrote (control/fleet/heartbeat.py), with staleness worked out.

redis-py is imported here only, and only the `--cluster` verbs import this module.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, cast

from procsup.core import fleet

if TYPE_CHECKING:
    from procsup.core.schema import InstanceRow


class FleetError(Exception):
    """The cluster's Redis cannot be read, or the config names no cluster."""


class Host:
    """One master's host entry as read from Redis."""

    def __init__(self, entry: dict[str, Any], now: float) -> None:
        self.entry = entry
        self.node: str = entry["node"]
        self.written: float = entry["written"]
        self.interval: float = entry["interval"]
        self.stale = fleet.is_stale(self.written, self.interval, now)
        self.remote_control: bool = bool(entry.get("remote_control"))

    @property
    def label(self) -> str:
        """The HOST column: the node name, marked when the master missed its heartbeats."""
        return f"{self.node} (stale)" if self.stale else self.node

    def instances(self, now: float) -> list[InstanceRow]:
        """Instance rows with uptime brought up to `now` (the entry was written earlier)."""
        rows = []
        for row in self.entry.get("instances", []):
            if row.get("uptime") is not None and row.get("started") is not None:
                row = {**row, "uptime": max(0.0, now - row["started"])}
            rows.append(cast("InstanceRow", row))
        return rows


def read_hosts(url: str, cluster: str, timeout: float = 2.0) -> list[Host]:
    """Every host entry of `cluster`, sorted by node name."""
    import redis

    try:
        client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )
        with client:
            keys = sorted(client.scan_iter(match=fleet.host_pattern(cluster), count=1000))
            bodies = client.mget(keys) if keys else []
    except redis.RedisError as exc:
        from procsup.tasks.redislock import redact_url

        raise FleetError(f"cannot read cluster {cluster!r} from {redact_url(url)}: {exc}") from None
    now = time.time()
    hosts = [Host(json.loads(body), now) for body in bodies if body]
    return sorted(hosts, key=lambda h: h.node)
