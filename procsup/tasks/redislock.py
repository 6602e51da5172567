"""Redis overlap locks for cron tasks: a lease that lives exactly as long as a run.

`SET key token NX PX ttl` taken together with a fencing token (an `INCR` that only ever grows),
renewed with compare-and-renew and released with compare-and-delete, each one Lua script, so a
holder whose lease expired can never extend or delete the lock of the next holder (README,
"Overlap locks that never go stale").

redis-py is imported lazily inside `RedisLocks`: only a master with a `lock = "redis"` task pays
for it. Every call gives up after `op_timeout` and turns every redis-py failure into
`LockUnavailable`; the client reconnects by itself on the next call once Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from redis.asyncio import Redis

LOCK_PREFIX = "procsup:lock:"
FENCE_PREFIX = "procsup:fence:"

# KEYS: lock, fence. ARGV: token, ttl_ms. Returns the new fence, or nil if someone holds it.
# Idempotent for one token, so redis-py may resend it after a connection error: if our first
# send was executed but its reply lost, the lock holds our token and the fence is still ours.
ACQUIRE_LUA = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return redis.call('INCR', KEYS[2])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return tonumber(redis.call('GET', KEYS[2]))
end
return false
"""

# KEYS: lock. ARGV: token, ttl_ms. Returns 1 if still ours and extended, else 0.
RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lock. ARGV: token. Returns 1 if it was ours and is now deleted, else 0.
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

T = TypeVar("T")


class LockUnavailable(Exception):
    """Redis could not be asked: unreachable, too slow, or it answered with an error."""


@dataclass
class Lease:
    """One holder's claim on a task's lock, valid at most until `expires` (monotonic)."""

    name: str
    key: str
    token: str
    fence: int
    ttl: float
    expires: float


def redact_url(url: str) -> str:
    """The URL with any password removed, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _cause(exc: BaseException) -> str:
    """The most telling words for why a call failed ("Connection refused", ...)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            # asyncio words a refused connect as "Connect call failed (host, port)"
            return os.strerror(seen.errno)
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


def _ttl_ms(ttl: float) -> int:
    if not (ttl > 0 and math.isfinite(ttl)):
        raise ValueError(f"lock ttl must be a positive number of seconds, not {ttl!r}")
    # Round up: the server's expiry is then never earlier than send time + ttl.
    return max(1, math.ceil(ttl * 1000))


def open_client(url: str, op_timeout: float) -> Redis:
    """An asyncio redis-py client for calls bounded by `op_timeout` (locks, fleet heartbeats)."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.maint_notifications import MaintNotificationsConfig

    # Redis(host=...) defaults to 10 retries with backoff and 5 s socket timeouts, which
    # could stretch one call far past a renewal period. Here: one immediate retry, on a
    # connection error only (a pooled connection the server had closed; the scripts are
    # safe to resend), never on a timeout; asyncio.timeout in the caller bounds the whole
    # call, connect + retry + NOSCRIPT reload included.
    # Maintenance notifications (Redis Enterprise) are off: redis-py 8.1 auto-enables them
    # on RESP3 pools, which skips the pool's dead-connection check (redis-py PR #4260).
    return Redis.from_url(
        url,
        socket_timeout=op_timeout,
        socket_connect_timeout=op_timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
        decode_responses=True,
    )


class RedisLocks:
    """Leases on `procsup:lock:<task>` in one Redis, shared by every master of a fleet."""

    def __init__(self, url: str, op_timeout: float = 1.0) -> None:
        self.url = url
        self.shown_url = redact_url(url)
        self.op_timeout = op_timeout
        self._client: Redis = open_client(url, op_timeout)
        self._acquire = self._client.register_script(ACQUIRE_LUA)
        self._renew = self._client.register_script(RENEW_LUA)
        self._release = self._client.register_script(RELEASE_LUA)
        self._host = socket.gethostname()
        # key -> (token, monotonic deadline) of acquires that raised but may have set the key
        self._orphans: dict[str, list[tuple[str, float]]] = {}

    def new_token(self) -> str:
        return f"{self._host}:{os.getpid()}:{uuid.uuid4().hex}"

    async def acquire(self, name: str, ttl: float) -> Lease | None:
        """Take the lock of task `name` for `ttl` seconds; None if someone else holds it.

        If this raises, the SET may still run once Redis answers again (a frozen server works
        off its backlog): the next acquire of `name` deletes that orphan, else it frees itself
        within `ttl`, like the lease of a crashed master.
        """
        ms = _ttl_ms(ttl)
        key, token = LOCK_PREFIX + name, self.new_token()
        await self._drop_orphans(key)
        sent = time.monotonic()
        try:
            fence = await self._call(
                f"acquire {key}",
                self._acquire(keys=[key, FENCE_PREFIX + name], args=[token, ms]),
            )
        except LockUnavailable:
            self._orphans.setdefault(key, []).append((token, sent + ttl))
            raise
        if fence is None:
            return None
        return Lease(name, key, token, int(fence), ttl, sent + ttl)

    async def _drop_orphans(self, key: str) -> None:
        """Compare-and-delete the leases that failed acquires of `key` may have left behind."""
        for token, deadline in list(self._orphans.get(key, [])):
            if time.monotonic() < deadline:
                await self._call(f"release {key}", self._release(keys=[key], args=[token]))
            self._orphans[key].remove((token, deadline))
        self._orphans.pop(key, None)

    async def renew(self, lease: Lease) -> bool:
        """Extend `lease` by its ttl if it is still ours; False means it was lost."""
        ms = _ttl_ms(lease.ttl)
        sent = time.monotonic()
        done = await self._call(
            f"renew {lease.key}", self._renew(keys=[lease.key], args=[lease.token, ms])
        )
        if done != 1:
            return False
        lease.expires = sent + lease.ttl
        return True

    async def release(self, lease: Lease) -> bool:
        """Delete the lock if it is still `lease`'s; False if it had expired or been taken."""
        done = await self._call(
            f"release {lease.key}", self._release(keys=[lease.key], args=[lease.token])
        )
        return bool(done == 1)

    async def holder(self, name: str) -> str | None:
        """The token now holding task `name`'s lock, if any."""
        key = LOCK_PREFIX + name
        token = await self._call(f"get {key}", self._client.get(key))
        return None if token is None else str(token)

    async def put(self, key: str, value: str, ttl: float | None = None) -> None:
        """SET a plain key beside the leases (a holder's name, a flag); None ttl: no expiry."""
        px = _ttl_ms(ttl) if ttl is not None else None
        await self._call(f"set {key}", self._client.set(key, value, px=px))

    async def get(self, key: str) -> str | None:
        value = await self._call(f"get {key}", self._client.get(key))
        return None if value is None else str(value)

    async def remaining(self, name: str) -> float | None:
        """Seconds until the lock of `name` expires; None when nobody holds it."""
        key = LOCK_PREFIX + name
        ms = int(await self._call(f"pttl {key}", self._client.pttl(key)))
        return ms / 1000 if ms >= 0 else None

    async def delete(self, key: str) -> None:
        await self._call(f"del {key}", self._client.delete(key))

    async def close(self) -> None:
        from redis.exceptions import RedisError

        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()

    async def _call(self, what: str, op: Awaitable[T]) -> T:
        """Await `op` within op_timeout; any failure becomes one LockUnavailable."""
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import RedisError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        where = f"redis at {self.shown_url}"
        try:
            async with asyncio.timeout(self.op_timeout):
                return await op
        except (TimeoutError, RedisTimeoutError) as exc:
            raise LockUnavailable(
                f"{where} unreachable: no answer within {self.op_timeout:g}s ({what})"
            ) from exc
        except (RedisConnectionError, OSError) as exc:
            raise LockUnavailable(f"{where} unreachable: {_cause(exc)}") from exc
        except RedisError as exc:
            raise LockUnavailable(f"{where} failed to {what}: {_cause(exc)}") from exc

    def __repr__(self) -> str:
        return f"RedisLocks({self.shown_url!r}, op_timeout={self.op_timeout:g})"
