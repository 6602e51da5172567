"""The notify hub in-process, with real datagram sockets and a real loop: a burst that arrives
while the hub rests costs one round, the first datagram after a quiet spell is read at once, a
socket left out of the hub (READY=1 awaited) is read at once even while it rests, and a
keep-alive waiting out the rest is read before a watchdog verdict."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from procsup.config.load import ProgramConfig
from procsup.engine import notifyhub
from procsup.engine.health import Health
from procsup.engine.notify import NotifySocket
from procsup.engine.notifyhub import NotifyHub
from procsup.engine.seams import LoopClock


def send(path: str, data: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(data, path)


async def until(predicate: Callable[[], bool], timeout: float) -> float:
    """Seconds it took for `predicate` to hold (the loop keeps running meanwhile)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("timed out")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


def sockets(tmp_path: Path, hub: NotifyHub, n: int, got: list[str]) -> list[NotifySocket]:
    loop = asyncio.get_running_loop()
    return [
        NotifySocket(
            str(tmp_path / f"{i}.sock"),
            loop,
            lambda fields, i=i: got.append(f"{i}:{','.join(fields)}"),
            lambda pid: True,
            hub,
        )
        for i in range(n)
    ]


def test_a_burst_during_the_rest_costs_one_round_and_quiet_rearms(tmp_path, monkeypatch):
    monkeypatch.setattr(notifyhub, "WINDOW", 1.0)

    async def scenario() -> None:
        hub, got = NotifyHub(asyncio.get_running_loop()), []
        socks = sockets(tmp_path, hub, 10, got)
        for s in socks:
            s.pool(True)
        send(socks[0].path, b"WATCHDOG=1")
        assert await until(lambda: len(got) == 1, 5) < 0.8  # after quiet: at once
        for s in socks:  # while the hub rests
            for _ in range(5):
                send(s.path, b"WATCHDOG=1\nSTATUS=x")
        await until(lambda: len(got) == 51, 5)
        assert hub.rounds == 2  # the first datagram, then the whole burst together
        await asyncio.sleep(2.2)  # a rest with nothing to read: the hub waits on the socket
        send(socks[3].path, b"READY=1")
        assert await until(lambda: len(got) == 52, 5) < 0.8
        assert got[-1] == "3:READY" and hub.rounds == 3
        for s in socks:
            s.close()
        hub.close()

    asyncio.run(scenario())


def test_a_socket_out_of_the_hub_is_read_at_once_while_the_hub_rests(tmp_path, monkeypatch):
    monkeypatch.setattr(notifyhub, "WINDOW", 5.0)

    async def scenario() -> None:
        hub, got = NotifyHub(asyncio.get_running_loop()), []
        pooled, direct = sockets(tmp_path, hub, 2, got)
        pooled.pool(True)
        send(pooled.path, b"WATCHDOG=1")
        await until(lambda: len(got) == 1, 5)
        send(pooled.path, b"WATCHDOG=1")  # waits for the end of the rest
        send(direct.path, b"READY=1")  # READY=1 awaited: never waits
        await until(lambda: "1:READY" in got, 3)
        assert got == ["0:WATCHDOG", "1:READY"]
        direct.pool(True)
        pooled.pool(False)  # back on the loop: what waits in it is read now
        await until(lambda: len(got) == 3, 3)
        assert got[-1] == "0:WATCHDOG"
        pooled.close()
        direct.close()
        hub.close()

    asyncio.run(scenario())


def test_a_keepalive_waiting_out_the_rest_is_read_before_the_watchdog_verdict(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(notifyhub, "WINDOW", 5.0)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        hub, hung = NotifyHub(loop), []
        cfg = ProgramConfig(name="w", command=("w",), notify=True, watchdog=0.5)
        health = Health(cfg, LoopClock(), hung.append)
        sock = NotifySocket(
            str(tmp_path / "w.sock"), loop, lambda f: health.apply(f), lambda pid: True, hub
        )
        sock.pool(True)
        health.pending = sock.drain
        health.begin()
        send(sock.path, b"WATCHDOG=1")
        await until(lambda: health.last_keepalive is not None, 3)
        await asyncio.sleep(0.2)
        send(sock.path, b"WATCHDOG=1")  # unread until the verdict asks: the hub rests 5 s
        await asyncio.sleep(0.6)
        assert hung == []  # the verdict read it first
        await until(lambda: hung != [], 3)  # nothing more came: hung
        assert hung == ["watchdog: no keep-alive for 500ms"]
        health.end()
        sock.close()
        hub.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("pooled", [False, True])
def test_a_flood_is_read_in_bounded_drains_and_nothing_is_lost(tmp_path, pooled, monkeypatch):
    monkeypatch.setattr(notifyhub, "WINDOW", 0.01)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        hub, got = NotifyHub(loop), []
        path = str(tmp_path / "f.sock")
        sock = NotifySocket(path, loop, lambda f: got.append(f["STATUS"]), lambda pid: True, hub)
        sock.pool(pooled)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as out:
            out.setblocking(False)
            for i in range(600):  # more than one drain reads (notify.DRAIN_MAX)
                while True:
                    try:
                        out.sendto(f"STATUS={i}".encode(), sock.path)
                        break
                    except BlockingIOError:  # the queue is full: let the loop read
                        await asyncio.sleep(0.001)
        await until(lambda: len(got) == 600, 5)
        assert got == [str(i) for i in range(600)]  # in order
        sock.close()
        hub.close()

    asyncio.run(scenario())
