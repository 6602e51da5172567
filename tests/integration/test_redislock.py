"""The Redis overlap lock against a real redis-server: leases, fencing, expiry, outages."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio

from procsup.tasks.redislock import FENCE_PREFIX, LOCK_PREFIX, Lease, LockUnavailable, RedisLocks
from tests.redis_server import RedisServer, free_port

pytestmark = pytest.mark.redis

OP_TIMEOUT = 0.5
SLACK = 0.5


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


@asynccontextmanager
async def locks_at(url: str, op_timeout: float = OP_TIMEOUT) -> AsyncIterator[RedisLocks]:
    locks = RedisLocks(url, op_timeout=op_timeout)
    try:
        yield locks
    finally:
        await locks.close()


async def wait_until(
    predicate: Callable[[], Awaitable[Any]], timeout: float = 5.0, what: str = "condition"
) -> Any:
    """Await `predicate` until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await predicate()
        if last:
            return last
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def must_acquire(locks: RedisLocks, name: str, ttl: float) -> Lease:
    lease = await locks.acquire(name, ttl)
    assert lease is not None, f"{name} unexpectedly held by {await locks.holder(name)}"
    return lease


@pytest.fixture
def name() -> str:
    return f"task-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def url(redis_server_session: RedisServer) -> str:
    return redis_server_session.url


def test_acquire_gives_a_lease_and_others_get_none(url: str, name: str) -> None:
    async def scenario() -> None:
        async with locks_at(url) as a, locks_at(url) as b:
            before = time.monotonic()
            lease = await must_acquire(a, name, 5)
            assert lease.name == name and lease.key == LOCK_PREFIX + name
            assert lease.token.count(":") >= 2 and lease.fence >= 1 and lease.ttl == 5
            assert before + 5 <= lease.expires <= time.monotonic() + 5
            assert await b.acquire(name, 5) is None
            assert await a.acquire(name, 5) is None  # not re-entrant either
            assert await b.holder(name) == lease.token

    run(scenario())


def test_tokens_are_unique(url: str, name: str) -> None:
    async def scenario() -> None:
        async with locks_at(url) as locks:
            tokens = set()
            for _ in range(5):
                lease = await must_acquire(locks, name, 5)
                tokens.add(lease.token)
                assert await locks.release(lease)
            assert len(tokens) == 5

    run(scenario())


def test_fence_strictly_increases_across_acquisitions_and_holders(url: str, name: str) -> None:
    async def scenario() -> None:
        async with locks_at(url) as a, locks_at(url) as b:
            fences = []
            for locks in [a, b, a, a, b, b, a]:
                lease = await must_acquire(locks, name, 5)
                fences.append(lease.fence)
                assert await locks.release(lease)
            assert fences == sorted(set(fences)), fences

    run(scenario())


def test_renew_extends_the_key_and_the_lease(url: str, name: str) -> None:
    async def scenario() -> None:
        async with locks_at(url) as locks, redis.asyncio.Redis.from_url(url) as raw:
            lease = await must_acquire(locks, name, 0.6)
            first_expiry = lease.expires

            async def pttl_low() -> bool:
                return 0 < int(await raw.pttl(lease.key)) < 400

            await wait_until(pttl_low, 2, "the lock's PTTL to drop")
            before = time.monotonic()
            assert await locks.renew(lease)
            assert 400 < int(await raw.pttl(lease.key)) <= 600
            assert lease.expires > first_expiry
            assert before + 0.6 <= lease.expires <= time.monotonic() + 0.6

    run(scenario())


def test_renewing_every_third_of_ttl_keeps_the_lock_past_its_ttl(url: str, name: str) -> None:
    async def scenario() -> None:
        async with locks_at(url) as a, locks_at(url) as b:
            lease = await must_acquire(a, name, 0.9)
            end = time.monotonic() + 2.0
            while time.monotonic() < end:
                await asyncio.sleep(0.3)
                assert await a.renew(lease)
                assert await b.acquire(name, 1) is None
            assert await b.holder(name) == lease.token

    run(scenario())


def test_renew_after_expiry_returns_false(url: str, name: str) -> None:
    async def scenario() -> None:
        async with locks_at(url) as locks:
            lease = await must_acquire(locks, name, 0.2)
            await wait_until(lambda: _gone(locks, name), 3, f"{name} to expire")
            assert not await locks.renew(lease)
            assert await locks.holder(name) is None  # renew must not resurrect it

    run(scenario())


async def _gone(locks: RedisLocks, name: str) -> bool:
    return await locks.holder(name) is None


def test_stale_holder_never_touches_the_next_holders_lock(url: str, name: str) -> None:
    # Laravel's forget() deleted the lock by key alone: a run that outlived its expiry freed
    # the lock of the run that had taken over. Compare-and-delete/renew must refuse.
    async def scenario() -> None:
        async with locks_at(url) as a, locks_at(url) as b:
            old = await must_acquire(a, name, 0.3)
            await wait_until(lambda: _gone(b, name), 3, f"{name} to expire")
            new = await must_acquire(b, name, 5)
            assert new.fence > old.fence
            assert not await a.release(old)
            assert await b.holder(name) == new.token
            assert not await a.renew(old)
            assert await b.holder(name) == new.token
            assert await b.renew(new)
            assert await b.release(new)

    run(scenario())


def test_a_resent_acquire_returns_the_same_fence(url: str, name: str) -> None:
    # redis-py resends once after a connection error; if the first send was executed and only
    # its reply lost, the resend must find its own lease, not report the lock as taken.
    async def scenario() -> None:
        async with locks_at(url) as locks:
            keys = [LOCK_PREFIX + name, FENCE_PREFIX + name]
            args: list[str | int] = ["me:1:abc", 5000]
            first = await locks._acquire(keys=keys, args=args)
            assert await locks._acquire(keys=keys, args=args) == first
            assert await locks._acquire(keys=keys, args=["other:2:def", 5000]) is None

    run(scenario())


def test_release_frees_it_for_the_next_acquire(url: str, name: str) -> None:
    async def scenario() -> None:
        async with locks_at(url) as a, locks_at(url) as b:
            lease = await must_acquire(a, name, 30)
            assert await b.acquire(name, 30) is None
            assert await a.release(lease)
            assert await a.holder(name) is None
            assert not await a.release(lease)  # a second release is a no-op
            await must_acquire(b, name, 30)

    run(scenario())


def test_expiry_frees_the_lock_within_ttl_without_release(url: str, name: str) -> None:
    async def scenario() -> None:
        async with locks_at(url) as a, locks_at(url) as b:
            lease = await must_acquire(a, name, 0.4)
            assert await b.acquire(name, 5) is None

            async def b_gets_it() -> Lease | None:
                return await b.acquire(name, 5)

            taken = await wait_until(b_gets_it, 0.4 + 1.0, "the expired lock to be free")
            assert time.monotonic() >= lease.expires  # never free before our deadline
            assert taken.fence > lease.fence

    run(scenario())


def test_twenty_racing_acquires_give_exactly_one_lease(url: str, name: str) -> None:
    async def scenario() -> None:
        async with locks_at(url, op_timeout=2.0) as locks:
            results = await asyncio.gather(*(locks.acquire(name, 10) for _ in range(20)))
            winners = [r for r in results if r is not None]
            assert len(winners) == 1
            assert await locks.holder(name) == winners[0].token

    run(scenario())


def test_ttl_must_be_positive(url: str, name: str) -> None:
    async def scenario() -> None:
        async with locks_at(url) as locks:
            for bad in (0, -1, float("nan"), float("inf")):
                with pytest.raises(ValueError, match="ttl"):
                    await locks.acquire(name, bad)

    run(scenario())


def test_nothing_listening_raises_lock_unavailable_quickly() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"

    async def scenario() -> None:
        async with locks_at(url) as locks:
            for call in (lambda: locks.acquire("x", 5), lambda: locks.holder("x")):
                started = time.monotonic()
                with pytest.raises(LockUnavailable) as caught:
                    await call()
                assert time.monotonic() - started < OP_TIMEOUT + SLACK
                assert str(caught.value) == f"redis at {url} unreachable: Connection refused"

    run(scenario())


def test_password_never_appears_in_errors() -> None:
    port = free_port()

    async def scenario() -> None:
        async with locks_at(f"redis://ops:s3cret@127.0.0.1:{port}/2") as locks:
            with pytest.raises(LockUnavailable) as caught:
                await locks.acquire("x", 5)
            assert "s3cret" not in str(caught.value)
            assert f"redis://ops@127.0.0.1:{port}/2" in str(caught.value)

    run(scenario())


def test_a_blackholed_port_times_out_within_op_timeout() -> None:
    # A listening socket nobody accept()s: the kernel completes the handshake, nothing replies.
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        url = f"redis://127.0.0.1:{hole.getsockname()[1]}/0"

        async def scenario() -> None:
            async with locks_at(url) as locks:
                started = time.monotonic()
                with pytest.raises(LockUnavailable, match=r"no answer within 0\.5s") as caught:
                    await locks.acquire("x", 5)
                assert OP_TIMEOUT - 0.1 < time.monotonic() - started < OP_TIMEOUT + SLACK
                assert url in str(caught.value)

        run(scenario())


def test_a_frozen_server_times_out_then_works_again(redis_server: RedisServer, name: str) -> None:
    async def scenario() -> None:
        async with locks_at(redis_server.url) as locks:
            lease = await must_acquire(locks, name, 30)
            other = name + "-b"
            redis_server.pause()
            try:
                for call in (lambda: locks.acquire(other, 0.5), lambda: locks.renew(lease)):
                    started = time.monotonic()
                    with pytest.raises(LockUnavailable, match="no answer"):
                        await call()
                    assert time.monotonic() - started < OP_TIMEOUT + SLACK
            finally:
                redis_server.resume()
            assert await locks.renew(lease)
            assert await locks.release(lease)

    run(scenario())


def test_a_timed_out_acquire_leaves_no_orphan(redis_server: RedisServer, name: str) -> None:
    # A frozen server works off its backlog when it wakes: the acquire that timed out still
    # sets the key, with a token nobody holds a Lease for. The next acquire deletes it.
    async def scenario() -> None:
        async with locks_at(redis_server.url) as locks:
            # a pooled connection and a loaded script: the EVALSHA goes out at once
            assert await locks.release(await must_acquire(locks, name, 30))
            redis_server.pause()
            try:
                with pytest.raises(LockUnavailable, match="no answer"):
                    await locks.acquire(name, 30)
            finally:
                redis_server.resume()
            await wait_until(lambda: locks.holder(name), 2, "the backlog to set the orphan")
            lease = await must_acquire(locks, name, 30)
            assert await locks.holder(name) == lease.token

    run(scenario())


def test_same_object_works_after_redis_restarts(redis_server: RedisServer, name: str) -> None:
    async def scenario() -> None:
        async with locks_at(redis_server.url) as locks:
            old = await must_acquire(locks, name, 30)
            redis_server.stop()
            with pytest.raises(LockUnavailable, match="unreachable"):
                await locks.acquire(name, 30)
            with pytest.raises(LockUnavailable):
                await locks.renew(old)
            redis_server.start()
            async with redis.asyncio.Redis.from_url(redis_server.url) as raw:
                shas = [s.sha for s in (locks._acquire, locks._renew, locks._release)]
                assert await raw.script_exists(*shas) == [False] * 3  # the cache was lost
                assert not await locks.renew(old)  # the key was lost with it
                lease = await must_acquire(locks, name, 30)
                assert await locks.release(lease)
                assert await raw.script_exists(*shas) == [True] * 3
            # restarted while idle: the first call finds its pooled connection dead, reconnects
            redis_server.stop()
            redis_server.start()
            assert await locks.holder(name) is None
            await must_acquire(locks, name, 30)

    run(scenario())
