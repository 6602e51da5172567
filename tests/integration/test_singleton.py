"""`singleton = true` across three masters on one real redis-server (hosts simulated by their
own state_dirs): one writer at a time, from the daemon's own timestamps, through a holder killed
with `kill -9`, a holder frozen with SIGSTOP (cut off from Redis), and a `procsup stop` that
hands the program over; each failover under lock_ttl + 1 s, fencing tokens only growing."""

from __future__ import annotations

import itertools
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness import MasterProc, child, wait_for
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis

TTL = 2.0


def config(server: RedisServer, out: Path, host: str) -> str:
    return f"""
        [procsup]
        redis_url = "{server.url}"
        [programs.leader]
        command = "{child("singleton_writer.py")} {out}"
        singleton = true
        lock_ttl = "{TTL}s"
        stop_timeout = "0.5s"
        start_seconds = 0
        environment = {{ PROBE_HOST = "{host}" }}
        """


def trace(out: Path) -> list[tuple[str, int, float, float]]:
    if not out.exists():
        return []
    rows = []
    for line in out.read_text().splitlines():
        host, token, start, end = line.split()
        rows.append((host, int(token), float(start), float(end)))
    return rows


def writer(out: Path) -> tuple[str, int] | None:
    """The host and token of the last line, once there is one."""
    rows = trace(out)
    return (rows[-1][0], rows[-1][1]) if rows else None


def new_writer(out: Path, old: tuple[str, int]) -> tuple[str, int]:
    def changed() -> tuple[str, int] | None:
        now = writer(out)
        return now if now is not None and now[0] != old[0] else None

    return wait_for(changed, TTL + 8, f"another host to take over from {old}")


def check_trace(rows: list[tuple[str, int, float, float]]) -> list[float]:
    """Never two writers at once, tokens only increase; returns the gaps at each failover."""
    rows.sort(key=lambda r: r[2])
    gaps = []
    for prev, cur in itertools.pairwise(rows):
        assert cur[1] >= prev[1], f"fencing token went back: {prev} then {cur}"
        if cur[1] != prev[1]:
            assert cur[2] >= prev[3], f"two writers at once: {prev} and {cur}"
            gaps.append(cur[2] - prev[3])
        else:
            assert cur[0] == prev[0], f"one token, two hosts: {prev} and {cur}"
    return gaps


def test_singleton_fails_over_without_overlap(
    master_factory: Callable[[str], MasterProc], redis_server: RedisServer, tmp_path: Path
) -> None:
    out = tmp_path / "trace"
    masters = {}
    for host in ("h0", "h1", "h2"):
        masters[host] = master_factory(config(redis_server, out, host)).start()
    first = wait_for(lambda: writer(out), 10, "a first writer")
    standby = [m for h, m in masters.items() if h != first[0]]
    holder_name = f"{socket.gethostname()}:{masters[first[0]].root / 'run'}"
    for m in standby:
        row = wait_for(lambda m=m: m.state("leader:0")["standby"] not in ("?", ""), 5)
        row = m.state("leader:0")
        assert row["state"] == "STOPPED" and row["standby"] == holder_name, row
        assert f"STANDBY (held by {holder_name})" in m.cli("list").stdout

    masters[first[0]].kill9()  # the holder's host dies
    second = new_writer(out, first)
    assert second[1] > first[1]

    frozen = masters[second[0]]
    assert frozen.proc is not None
    frozen.proc.send_signal(signal.SIGSTOP)  # cut off: it can renew nothing
    try:
        third = new_writer(out, second)
    finally:
        frozen.proc.send_signal(signal.SIGCONT)
    assert third[1] > second[1]
    # the frozen master wakes up, finds its lease gone and stays on standby
    wait_for(lambda: frozen.state("leader:0")["standby"], 10, "the woken master to stand by")
    holder = masters[third[0]]
    holder.cli("stop", "leader")  # hands it over to the woken one
    fourth = new_writer(out, third)
    assert fourth[0] == second[0] and fourth[1] > third[1]
    wait_for(lambda: len([r for r in trace(out) if r[1] == fourth[1]]) >= 5, 5, "writes")

    gaps = check_trace(trace(out))
    assert len(gaps) == 3, gaps
    assert all(0 <= gap < TTL + 1 for gap in gaps), gaps
    print("failover gaps:", ", ".join(f"{g:.2f}s" for g in gaps))


def test_singleton_needs_redis_url(start_master: Callable[[str], MasterProc]) -> None:
    m = start_master("[procsup]\n")
    m.write_config(
        f"""
        [programs.leader]
        command = "{child("sleeper.py")}"
        singleton = true
        """
    )
    out = m.cli("reload")
    assert out.returncode != 0
    assert "programs.leader.singleton" in out.stdout + out.stderr
    assert "needs redis_url" in out.stdout + out.stderr


def test_stop_everywhere_parks_until_a_start(
    master_factory: Callable[[str], MasterProc], redis_server: RedisServer, tmp_path: Path
) -> None:
    out = tmp_path / "trace"
    masters = {h: master_factory(config(redis_server, out, h)).start() for h in ("h0", "h1")}
    first = wait_for(lambda: writer(out), 10, "a first writer")
    holder, other = masters[first[0]], masters["h1" if first[0] == "h0" else "h0"]
    assert holder.cli("stop", "--everywhere", "leader").returncode == 0
    wait_for(lambda: other.state("leader:0")["standby"] == "", 5, "the lease to be free")
    lines = len(trace(out))
    time.sleep(TTL + 1)  # the window asserted: longer than any takeover would take
    assert len(trace(out)) == lines
    assert other.state("leader:0")["state"] == "STOPPED"

    assert other.cli("start", "leader").returncode == 0  # unparks it: runs on a master again
    second = wait_for(lambda: writer(out) if len(trace(out)) > lines else None, 10, "a writer")
    assert second[1] > first[1]
    check_trace(trace(out))


def test_a_holder_where_it_cannot_start_hands_it_over(
    master_factory: Callable[[str], MasterProc], redis_server: RedisServer, tmp_path: Path
) -> None:
    def host(ok_file: Path) -> str:
        return f"""
            [procsup]
            redis_url = "{redis_server.url}"
            [programs.leader]
            command = "{child("flaky.py")} {ok_file}"
            singleton = true
            lock_ttl = "{TTL}s"
            restart_delay = "0.1s"
            max_restarts = 1
            """

    tmp = tmp_path
    (tmp / "ok").touch()
    broken = master_factory(host(tmp / "missing")).start()
    # it ran (so it held the lease) and failed there
    wait_for(lambda: broken.state("leader:0")["last_exit"] == 3, 5, "the broken host to try")
    healthy = master_factory(host(tmp / "ok")).start()
    healthy.wait_state("leader:0", "RUNNING", timeout=10)
    row = broken.state("leader:0")
    assert row["state"] == "FATAL" and row["standby"], row
