"""Remote control (remote_control = true): the master reads requests from its own Redis stream
(`procsup:fleet:NAME:control:NODE`) and answers each on its reply key. Only start, stop,
restart, signal and run are taken, with only their own arguments, and they go through this
master's control socket like a local `procsup` command: names it does not have are refused
as they would be locally, and nothing can add a program or a command. Every request is logged
with its sender's host and user. Who may send at all is Redis's to decide (ACLs, TLS).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from procsup.control.asyncclient import AsyncClient
from procsup.control.client import ClientError, NoMaster
from procsup.core import fleet
from procsup.tasks.redislock import open_client

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("procsup")

#: the arguments each remote command may carry; any other key is dropped
ALLOWED_ARGS: dict[str, frozenset[str]] = {
    "start": frozenset({"names", "wait"}),
    "stop": frozenset({"names"}),
    "restart": frozenset({"names", "rolling", "wait"}),
    "signal": frozenset({"signal", "names"}),
    "run": frozenset({"task", "wait"}),
}
assert set(ALLOWED_ARGS) == fleet.REMOTE_COMMANDS
REPLY_TTL_MS = 60_000  # a reply nobody collects is gone after a minute
BLOCK_MS = 1000


class RemoteControl:
    """Reads this node's control stream and serves each request through the local socket."""

    def __init__(self, url: str, cluster: str, node: str, socket_path: str) -> None:
        self.cluster = cluster
        self.node = node
        self.stream = fleet.control_stream(cluster, node)
        self.local = AsyncClient(socket_path)
        # a blocking XREAD needs a socket timeout longer than its block time
        self.redis: Redis = open_client(url, op_timeout=BLOCK_MS / 1000 + 2)
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="fleet-remote-control")

    async def close(self) -> None:
        for task in [self._task, *self._running]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(Exception):
            await self.redis.aclose()

    async def _loop(self) -> None:
        """Read from the stream's end as it was at start: older requests are not replayed."""
        from redis.exceptions import RedisError

        last = "$"
        while True:
            try:
                if last == "$":
                    newest: Any = await self.redis.xrevrange(self.stream, count=1)
                    last = str(newest[0][0]) if newest else "0-0"
                found: Any = await self.redis.xread({self.stream: last}, block=BLOCK_MS, count=10)
            except (RedisError, OSError):
                await asyncio.sleep(1)  # the heartbeat says Redis is away; retry quietly
                continue
            for _stream, messages in found or []:
                for msg_id, fields in messages:
                    last = msg_id
                    task = asyncio.create_task(self._serve(fields))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)

    async def _serve(self, fields: dict[str, str]) -> None:
        """Run one request (each in its own task: a slow restart does not hold up a signal)."""
        from redis.exceptions import RedisError

        try:
            request = json.loads(fields["request"])
            req_id = str(request["id"])
        except (KeyError, ValueError, TypeError):
            log.warning("fleet %s: ignored a malformed remote request %r", self.cluster, fields)
            return
        reply = await self.execute(request)
        body = json.dumps(reply, default=str)
        key = fleet.reply_key(self.cluster, req_id)
        try:
            await self.redis.rpush(key, body)
            await self.redis.pexpire(key, REPLY_TTL_MS)
        except (RedisError, OSError) as exc:
            log.warning("fleet %s: cannot answer request %s: %s", self.cluster, req_id, exc)

    async def execute(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply to one request, as the local socket would give it."""
        cmd = request.get("cmd")
        sender, user = request.get("sender", "?"), request.get("user", "?")
        raw = request.get("args")
        raw = raw if isinstance(raw, dict) else {}
        if cmd not in ALLOWED_ARGS:
            log.warning("remote %r from %s@%s refused: not a remote command", cmd, user, sender)
            allowed = ", ".join(sorted(ALLOWED_ARGS))
            message = f"{self.node} takes only {allowed} remotely, not {cmd!r}"
            return {"ok": False, "error": {"code": "not_allowed", "message": message}}
        args = {k: v for k, v in raw.items() if k in ALLOWED_ARGS[cmd]}
        log.info("remote %s %s from %s@%s (request %s)", cmd, args, user, sender, request["id"])
        try:
            return {"ok": True, "result": await self.local.call(cmd, args)}
        except ClientError as exc:
            return {"ok": False, "error": exc.to_json()}
        except NoMaster as exc:
            return {"ok": False, "error": {"code": "failed", "message": str(exc)}}
