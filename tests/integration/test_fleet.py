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


def fleet_config(
    server: RedisServer, node: str, extra: str = "", url: str = "", interval: str = "300ms"
) -> str:
    return f"""
        [procsup]
        redis_url = "{url or server.url}"
        cluster = "{CLUSTER}"
        node_name = "{node}"
        heartbeat_interval = "{interval}"
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
    master_factory: Callable[[str], MasterProc], redis_server: RedisServer
) -> None:
    def start_master(text: str) -> MasterProc:
        return master_factory(text).start()

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
    # a URL with options goes through redis-py instead of the plain RESP read: the same table
    with_options = redis_server.url + "?health_check_interval=5"
    reader = master_factory(fleet_config(redis_server, "ops", url=with_options))
    via_redis_py = reader.cli("list", "--cluster")
    assert via_redis_py.returncode == 0, via_redis_py.stderr
    assert [line.split()[:3] for line in via_redis_py.stdout.splitlines()[1:]] == hosts


def test_a_killed_master_is_marked_stale_then_vanishes_within_the_ttl(
    start_master: Callable[[str], MasterProc], redis_server: RedisServer
) -> None:
    keep = start_master(fleet_config(redis_server, "web-1"))
    doomed = start_master(fleet_config(redis_server, "web-2", interval="1s"))
    wait_for(lambda: running_entry(redis_server, "web-2"), 10, "web-2's entry")
    doomed.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    # stale after 2 missed intervals (2 s), gone after 3 (the TTL)
    wait_for(lambda: time.time() - entry(redis_server, "web-2")["written"] > 2.05, 5, "stale")
    assert "web-2 (stale)" in keep.cli("list", "--cluster").stdout
    wait_for(lambda: entry(redis_server, "web-2") is None, 5, "web-2 to vanish")
    assert time.monotonic() - killed < 3.0 + 0.5  # the TTL, plus slack for the poll
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


def pids(m: MasterProc) -> dict[str, int]:
    return {name: row["pid"] for name, row in m.instances().items()}


def remote_pair(start_master: Callable[[str], MasterProc], server: RedisServer) -> tuple:
    """web-1 takes remote control, web-2 does not; both are live in the cluster."""
    web1 = start_master(fleet_config(server, "web-1", "remote_control = true"))
    web2 = start_master(fleet_config(server, "web-2"))
    for node in ("web-1", "web-2"):
        wait_for(lambda node=node: running_entry(server, node), 10, node)
    return web1, web2


def test_remote_restart_answers_as_locally_and_is_logged_by_the_receiver(
    start_master: Callable[[str], MasterProc], redis_server: RedisServer
) -> None:
    web1, web2 = remote_pair(start_master, redis_server)
    before = pids(web1)
    out = web2.cli("--host", "web-1", "restart", "worker")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "worker:0: RUNNING\nworker:1: RUNNING\n"
    after = pids(web1)
    assert set(after.values()).isdisjoint(before.values())
    assert "remote restart" in web1.log() and "@web-2" in web1.log()
    local = web1.cli("restart", "worker")
    assert local.stdout == out.stdout
    # an unknown name: the same message and exit code as locally, nothing added
    remote_bad = web2.cli("--host", "web-1", "restart", "nosuch")
    local_bad = web1.cli("restart", "nosuch")
    assert (remote_bad.returncode, remote_bad.stderr) == (local_bad.returncode, local_bad.stderr)
    assert remote_bad.returncode == 1
    signalled = web2.cli("--host", "web-1", "signal", "HUP", "worker:0")
    assert signalled.returncode == 0 and "sent SIGHUP to worker:0" in signalled.stdout


def test_remote_control_is_refused_when_off_and_unknown_or_stale_hosts_are_errors(
    start_master: Callable[[str], MasterProc], redis_server: RedisServer
) -> None:
    web1, web2 = remote_pair(start_master, redis_server)
    before = pids(web2)
    off = web1.cli("--host", "web-2", "restart", "worker")
    assert off.returncode == 1 and "does not take remote control" in off.stderr
    assert pids(web2) == before
    unknown = web1.cli("--host", "web-9", "restart", "worker")
    assert unknown.returncode == 1 and "no host 'web-9'" in unknown.stderr
    not_remote = web2.cli("--host", "web-1", "list")
    assert not_remote.returncode == 1 and "only restart, run, signal, start, stop" in (
        not_remote.stderr
    )
    slow = start_master(fleet_config(redis_server, "web-3", "remote_control = true", "", "1s"))
    wait_for(lambda: running_entry(redis_server, "web-3"), 10, "web-3")
    slow.proc.send_signal(signal.SIGSTOP)  # alive, but its heartbeats stop
    try:  # stale after 2 missed seconds, gone after 3
        wait_for(lambda: time.time() - entry(redis_server, "web-3")["written"] > 2.05, 5, "stale")
        out = web2.cli("--host", "web-3", "restart", "worker")
        assert out.returncode == 1 and "host 'web-3' is stale" in out.stderr, out.stderr
    finally:
        slow.proc.send_signal(signal.SIGCONT)


def test_restart_cluster_reaches_every_host(
    start_master: Callable[[str], MasterProc], redis_server: RedisServer
) -> None:
    masters = [
        start_master(fleet_config(redis_server, f"web-{i}", "remote_control = true"))
        for i in (1, 2)
    ]
    for i in (1, 2):
        wait_for(lambda i=i: running_entry(redis_server, f"web-{i}"), 10, f"web-{i}")
    before = [pids(m) for m in masters]
    out = masters[0].cli("restart", "worker", "--cluster")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "[web-1]\nworker:0: RUNNING\nworker:1: RUNNING\n" * 1 + (
        "[web-2]\nworker:0: RUNNING\nworker:1: RUNNING\n"
    )
    for m, old in zip(masters, before, strict=True):
        assert set(pids(m).values()).isdisjoint(old.values())


def test_a_redis_acl_user_with_password_in_the_url_works(
    master_factory: Callable[[str], MasterProc], redis_server: RedisServer
) -> None:
    def start_master(text: str) -> MasterProc:
        return master_factory(text).start()

    admin = redis.Redis.from_url(redis_server.url)
    admin.execute_command(
        "ACL", "SETUSER", "fleet", "on", ">s3cret", "~procsup:fleet:*", "&procsup:fleet:*", "+@all"
    )
    url = f"redis://fleet:s3cret@127.0.0.1:{redis_server.port}/0"
    web1 = start_master(fleet_config(redis_server, "web-1", "remote_control = true", url=url))
    web2 = start_master(fleet_config(redis_server, "web-2", url=url))
    wait_for(lambda: running_entry(redis_server, "web-1"), 10, "web-1 through the ACL user")
    assert web1.call("hello")["fleet"]["redis"] == "connected"
    listed = web2.cli("list", "--cluster")
    assert listed.returncode == 0 and "web-1" in listed.stdout
    out = web2.cli("--host", "web-1", "restart", "worker")
    assert out.returncode == 0, out.stderr
    assert "s3cret" not in web1.log() + out.stderr
    wrong = url.replace("s3cret", "wrong")
    refused = master_factory(fleet_config(redis_server, "ops", url=wrong)).cli("list", "--cluster")
    assert refused.returncode == 1 and "cannot read cluster 't'" in refused.stderr
    assert "wrong" not in refused.stderr
    bad = start_master(fleet_config(redis_server, "web-3", url=wrong))
    wait_for(lambda: "unreachable" in bad.call("hello")["fleet"]["redis"], 5, "auth refused")
    assert "wrong" not in bad.call("hello")["fleet"]["redis"]
