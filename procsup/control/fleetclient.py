"""Reading the fleet from Redis, for `procsup list/tasks/history --cluster`: every live host
entry the masters of a cluster wrote (control/fleet/heartbeat.py), with staleness worked out.

redis-py is imported here only, and only the `--cluster` verbs import this module.
"""

from __future__ import annotations

import getpass
import json
import time
import uuid
from typing import TYPE_CHECKING, Any, cast

from procsup.control.client import ClientError, result_of
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
    from procsup.control import resp

    if resp.handles(url):  # the fast path: no redis-py import (control/resp.py)
        try:
            bodies = resp.scan_get(url, fleet.host_pattern(cluster), timeout)
        except resp.RespError as exc:
            raise FleetError(_unreadable(url, cluster, exc)) from None
    else:
        bodies = _read_with_redis_py(url, cluster, timeout)
    now = time.time()
    hosts = [Host(json.loads(body), now) for body in bodies if body]
    return sorted(hosts, key=lambda h: h.node)


def _read_with_redis_py(url: str, cluster: str, timeout: float) -> list[str]:
    import redis

    try:
        client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )
        with client:
            keys = sorted(client.scan_iter(match=fleet.host_pattern(cluster), count=1000))
            return [str(b) for b in client.mget(keys) if b is not None] if keys else []
    except redis.RedisError as exc:
        raise FleetError(_unreadable(url, cluster, exc)) from None


def read_host(url: str, cluster: str, node: str, timeout: float = 2.0) -> Host | None:
    """`node`'s host entry, or None when no live master of that name is in the cluster."""
    import redis

    try:
        with redis.Redis.from_url(url, socket_timeout=timeout, decode_responses=True) as client:
            body = client.get(fleet.host_key(cluster, node))
    except redis.RedisError as exc:
        raise FleetError(_unreadable(url, cluster, exc)) from None
    return None if body is None else Host(json.loads(body), time.time())


def _unreadable(url: str, cluster: str, exc: Exception) -> str:
    from procsup.tasks.redislock import redact_url

    return f"cannot read cluster {cluster!r} from {redact_url(url)}: {exc}"


class RemoteClient:
    """The blocking client's face (`call`, `set_timeout`) over Redis, for `procsup --host NODE`:
    a request goes onto NODE's control stream and the reply comes back on its own key, the
    same reply the local socket would give, so every command prints and exits as it does
    locally. Checks first that NODE is live and takes remote control."""

    def __init__(self, url: str, cluster: str, node: str, sender: str) -> None:
        self.url = url
        self.cluster = cluster
        self.node = node
        self.sender = sender
        self.timeout: float | None = 60.0

    def set_timeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def check_host(self) -> Host:
        """NODE's entry, or ClientError saying why it cannot be reached."""
        host = read_host(self.url, self.cluster, self.node)
        if host is None:
            raise ClientError(
                "not_found",
                f"no host {self.node!r} in cluster {self.cluster!r} (see `procsup list --cluster`)",
            )
        if host.stale:
            ago = time.time() - host.written
            raise ClientError(
                "stale",
                f"host {self.node!r} is stale: no heartbeat for {ago:.1f}s (its master is down "
                "or cut off from Redis); nothing was sent",
            )
        if not host.remote_control:
            raise ClientError(
                "not_allowed",
                f"host {self.node!r} does not take remote control (remote_control = true in "
                "its [procsup] turns it on)",
            )
        return host

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        if cmd not in fleet.REMOTE_COMMANDS:
            allowed = ", ".join(sorted(fleet.REMOTE_COMMANDS))
            raise ClientError("not_allowed", f"only {allowed} work with --host, not {cmd!r}")
        self.check_host()
        import redis

        req_id = uuid.uuid4().hex
        request = {
            "id": req_id,
            "cmd": cmd,
            "args": args or {},
            "sender": self.sender,
            "user": getpass.getuser(),
            "sent": time.time(),
        }
        stream = fleet.control_stream(self.cluster, self.node)
        try:
            with redis.Redis.from_url(self.url, socket_timeout=5, decode_responses=True) as client:
                client.xadd(stream, {"request": json.dumps(request)}, maxlen=1000)
                reply = self._await_reply(client, fleet.reply_key(self.cluster, req_id))
        except redis.RedisError as exc:
            raise FleetError(_unreadable(self.url, self.cluster, exc)) from None
        return result_of(reply)

    def _await_reply(self, client: Any, key: str) -> dict[str, Any]:
        """Wait for the reply a second at a time, giving up when the host goes away (or after
        the timeout, when one is set)."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while deadline is None or time.monotonic() < deadline:
            found = client.blpop([key], timeout=1)
            if found is not None:
                reply: dict[str, Any] = json.loads(found[1])
                return reply
            host = read_host(self.url, self.cluster, self.node)
            if host is None or host.stale:
                raise ClientError("failed", f"host {self.node!r} went away before it answered")
        raise ClientError("timeout", f"host {self.node!r} did not answer within {self.timeout:g}s")
