"""The fleet over one real redis-server: several masters on this machine, each with its own
state_dir and node_name, write heartbeats; `list/tasks/history --cluster` read them; a killed
master vanishes within the TTL; a master that loses Redis goes on and says so."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable

import pytest
import redis

from tests.harness import MasterProc, child, wait_for
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis

CLUSTER = "t"


def fleet_config(server: RedisServer, node: str, extra: str = "", url: str = "") -> str:
    return f"""
        [procsup]
        redis_url = "{url or server.url}"
        cluster = "{CLUSTER}"
        node_name = "{node}"
        heartbeat_interval = "300ms"
        {extra}
        [programs.worker]
        command = "{child("sleeper.py")}"
        numprocs = 2
        start_seconds = 0
        """


def entry(server: RedisServer, node: str) -> dict | None:
    body = redis.Redis.from_url(server.url).get(f"procsup:fleet:{CLUSTER}:host:{node}")
    return None if body is None else json.loads(body)


def running_entry(server: RedisServer, node: str) -> dict | None:
    found = entry(server, node)
    states = [r["state"] for r in found["instances"]] if found else []
    return found if states and set(states) == {"RUNNING"} else None


def test_heartbeat_appears_with_instances_and_leaves_at_shutdown(
    start_master: Callable[[str], MasterProc], redis_server: RedisServer
) -> None:
    m = start_master(fleet_config(redis_server, "web-1"))
    found = wait_for(lambda: running_entry(redis_server, "web-1"), 10, "the host entry")
    assert found["master"]["pid"] == m.proc.pid
    assert {r["name"] for r in found["instances"]} == {"worker:0", "worker:1"}
    assert all(r["pid"] and "rss" in r and "cpu" in r for r in found["instances"])
    ttl = redis.Redis.from_url(redis_server.url).pttl(f"procsup:fleet:{CLUSTER}:host:web-1")
    assert 0 < ttl <= 900
    info = m.call("hello")
    assert info["fleet"] == {
        "cluster": CLUSTER,
        "node": "web-1",
        "redis": "connected",
        "remote_control": False,
    }
    m.call("shutdown")
    wait_for(lambda: entry(redis_server, "web-1") is None, 5, "the entry to be deleted")


def test_list_cluster_shows_three_masters_with_a_host_column(
    start_master: Callable[[str], MasterProc], redis_server: RedisServer
) -> None:
    masters = [start_master(fleet_config(redis_server, f"web-{i}")) for i in (1, 2, 3)]
    for i in (1, 2, 3):
        wait_for(lambda i=i: running_entry(redis_server, f"web-{i}"), 10, f"web-{i}")
    out = masters[0].cli("list", "--cluster")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["HOST", "NAME", "STATE"]
    hosts = [line.split()[:3] for line in lines[1:]]
    assert hosts == [[f"web-{i}", f"worker:{n}", "RUNNING"] for i in (1, 2, 3) for n in (0, 1)]
    rows = json.loads(masters[1].cli("list", "--cluster", "--json").stdout)
    assert {(r["host"], r["name"], r["stale"]) for r in rows} == {
        (f"web-{i}", f"worker:{n}", False) for i in (1, 2, 3) for n in (0, 1)
    }


def test_a_killed_master_is_marked_stale_then_vanishes_within_the_ttl(
    start_master: Callable[[str], MasterProc], redis_server: RedisServer
) -> None:
    keep = start_master(fleet_config(redis_server, "web-1"))
    doomed = start_master(fleet_config(redis_server, "web-2"))
    wait_for(lambda: running_entry(redis_server, "web-2"), 10, "web-2's entry")
    doomed.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()

    def stale_rows() -> list:
        rows = json.loads(keep.cli("list", "--cluster", "--json").stdout)
        return [r for r in rows if r["host"] == "web-2" and r["stale"]]

    wait_for(stale_rows, 5, "web-2 marked stale")
    wait_for(lambda: entry(redis_server, "web-2") is None, 5, "web-2 to vanish")
    assert time.monotonic() - killed < 0.9 + 0.5  # TTL = 3 x 300 ms, plus slack for the poll
    assert entry(redis_server, "web-1") is not None


def test_redis_down_keeps_supervising_and_says_so_then_reconnects(
    start_master: Callable[[str], MasterProc], redis_server: RedisServer
) -> None:
    m = start_master(fleet_config(redis_server, "web-1"))
    wait_for(lambda: running_entry(redis_server, "web-1"), 10, "the host entry")
    redis_server.stop()
    wait_for(lambda: "unreachable" in m.call("hello")["fleet"]["redis"], 5, "redis down noted")
    listed = m.cli("list")
    assert listed.returncode == 0 and "worker:0" in listed.stdout
    assert "unreachable" in listed.stdout
    restarted = m.cli("restart", "worker")
    assert restarted.returncode == 0, restarted.stderr
    redis_server.start()
    wait_for(lambda: m.call("hello")["fleet"]["redis"] == "connected", 5, "reconnected")
    wait_for(lambda: running_entry(redis_server, "web-1"), 5, "the entry back")


def test_tasks_and_history_cluster_show_where_each_run_ran(
    start_master: Callable[[str], MasterProc], redis_server: RedisServer
) -> None:
    task = """
        [tasks.tick]
        command = "true"
        schedule = "@every 1h"
        """
    a = start_master(fleet_config(redis_server, "web-1", extra="") + task)
    b = start_master(fleet_config(redis_server, "web-2") + task)
    for m in (a, b):
        assert m.cli("run", "tick", "--wait").returncode == 0

    def runs() -> list:
        return json.loads(a.cli("history", "--cluster", "--json").stdout)

    found = wait_for(lambda: len(runs()) == 2 and runs(), 5, "both runs in the fleet")
    assert sorted(r["host"] for r in found) == ["web-1", "web-2"]
    table = a.cli("tasks", "--cluster").stdout.splitlines()
    assert table[0].split()[:2] == ["HOST", "TASK"]
    assert sorted(line.split()[0] for line in table[1:]) == ["web-1", "web-2"]
    history = a.cli("history", "--cluster").stdout.splitlines()
    assert history[0].split()[:2] == ["HOST", "RUN"]


def test_cluster_needs_redis_url_and_says_so(master_factory: Callable[[str], MasterProc]) -> None:
    m = master_factory('[procsup]\ncluster = "t"\n')
    out = m.cli("check")
    assert out.returncode == 2
    assert "procsup.cluster" in out.stderr + out.stdout and "redis_url" in out.stderr + out.stdout
