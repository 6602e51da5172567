"""Tasks under `lock = "redis"` against a real redis-server: fencing tokens, leases that end with
the run, a run stopped before its lease can expire (lost lease, Redis gone, master killed), skips
when Redis is unreachable, and two masters sharing one Redis that never overlap, even when one of
them is killed with `kill -9` mid-run.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
import redis

from tests.harness import MasterProc, child, wait_for
from tests.integration.test_tasks import (
    assert_no_overlap,
    history,
    probe,
    probe_runs,
    task_row,
    wait_runs,
)
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis


def redis_task(server: RedisServer, command: str, extra: str = "", host: str = "") -> str:
    return f"""
        [procsup]
        redis_url = "{server.url}"
        [tasks.dist]
        command = "{command}"
        schedule = "* * * * * *"
        lock = "redis"
        lock_ttl = "2s"
        stop_timeout = "1s"
        environment = {{ PROBE_HOST = "{host}" }}
        {extra}
        """


def client(server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(server.url, decode_responses=True)


def started_run(m: MasterProc, out: Path) -> dict:
    """The run in progress, once its process has written its first line."""
    run = wait_for(lambda: task_row(m, "dist")["running"], 10, "a run")[0]
    wait_for(lambda: probe_runs(out).get(run["run_id"]), 10, "the run to have started")
    return run


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_fencing_tokens_increase_and_the_lease_ends_with_the_run(start_master, redis_server):
    out = redis_server.root / "fence.jsonl"
    m = start_master(redis_task(redis_server, probe(out, 0.2)))
    runs = wait_runs(m, "dist", 3)
    tokens = [r["fencing_token"] for r in sorted(runs, key=lambda r: r["started"])]
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens) and tokens[0] >= 1
    for rec in runs:
        assert probe_runs(out)[rec["run_id"]][0]["fence"] == str(rec["fencing_token"])
    r = client(redis_server)
    # between runs (0.2 s of every second) nobody holds the lease: it was deleted, not left
    wait_for(lambda: r.get("procsup:lock:dist") is None, 5, "the lease to be released")


def test_a_killed_master_s_run_stops_before_its_lease_expires(master_factory, redis_server):
    out = redis_server.root / "killed.jsonl"
    m = master_factory(redis_task(redis_server, probe(out, 30))).start()
    run = started_run(m, out)
    r = client(redis_server)
    m.kill9()
    expires = time.time() + r.pttl("procsup:lock:dist") / 1000
    wait_for(lambda: _gone(run["pid"]), 5, "the keeper to stop the run")
    last = probe_runs(out)[run["run_id"]][-1]
    assert last["event"] == "end" and last["t"] < expires
    wait_for(lambda: r.get("procsup:lock:dist") is None, 5, "the lease to expire")


def test_a_killed_master_s_run_leaves_nothing_behind_past_its_lease(master_factory, redis_server):
    """Even a daemon the run double-forked, that called setsid and ignores SIGTERM, is gone
    before the lease expires: the keeper is its subreaper and SIGKILLs it by pid."""
    pidfile = redis_server.root / "escaped.pid"
    m = master_factory(redis_task(redis_server, child("escaper.py", str(pidfile)))).start()
    escaped = int(wait_for(lambda: pidfile.exists() and pidfile.read_text(), 10, "the daemon"))
    r = client(redis_server)
    m.kill9()
    expires = time.monotonic() + r.pttl("procsup:lock:dist") / 1000
    wait_for(lambda: _gone(escaped), 5, "the escaped daemon to be killed")
    assert time.monotonic() < expires


def test_a_lost_lease_stops_the_run_and_leaves_the_new_holder_alone(start_master, redis_server):
    out = redis_server.root / "lost.jsonl"
    m = start_master(redis_task(redis_server, probe(out, 30)))
    run = started_run(m, out)
    r = client(redis_server)
    r.set("procsup:lock:dist", "someone-else", px=60_000)  # the lease passed to another holder
    taken = time.time()
    rec = wait_runs(m, "dist", 1, status="lock-lost")[0]
    assert rec["run_id"] == run["run_id"]
    assert "expired or was taken" in rec["reason"]
    assert probe_runs(out)[run["run_id"]][-1]["t"] < taken + 2  # within one lease
    assert r.get("procsup:lock:dist") == "someone-else"
    skipped = wait_runs(m, "dist", 1, status="skipped")
    assert skipped[0]["reason"] == "lock-held"


def test_redis_gone_mid_run_stops_the_run_before_the_lease_could_expire(start_master, redis_server):
    out = redis_server.root / "paused.jsonl"
    m = start_master(redis_task(redis_server, probe(out, 30)))
    run = started_run(m, out)
    redis_server.pause()  # SIGSTOP: renewals time out, nothing answers
    paused = time.time()
    try:
        wait_for(lambda: _gone(run["pid"]), 5, "the run to be stopped")
    finally:
        redis_server.resume()
    # the lease was renewed before the pause at the latest, so it expires within 2 s of it
    assert probe_runs(out)[run["run_id"]][-1]["t"] < paused + 2
    wait_for(
        lambda: any(
            x["run_id"] == run["run_id"] and x["status"] == "lock-lost" for x in history(m, "dist")
        ),
        10,
        "the run recorded as lock-lost",
    )


def test_redis_unreachable_skips_and_the_master_reconnects(start_master, redis_server):
    out = redis_server.root / "down.jsonl"
    m = start_master(redis_task(redis_server, probe(out, 0.1)))
    wait_runs(m, "dist", 1)
    redis_server.stop()
    skip = wait_for(
        lambda: [x for x in history(m, "dist") if x["status"] == "skipped"], 10, "a skip"
    )[0]
    assert skip["reason"].startswith("lock-unavailable: redis at redis://127.0.0.1:")
    assert m.call("hello")["pid"]
    before = len([x for x in history(m, "dist") if x["status"] == "ok"])
    redis_server.start()
    wait_runs(m, "dist", before + 2, timeout=15)


def test_on_lock_unavailable_run_goes_ahead_without_the_lock(start_master, redis_server):
    out = redis_server.root / "anyway.jsonl"
    redis_server.stop()
    m = start_master(redis_task(redis_server, probe(out, 0.1), extra='on_lock_unavailable = "run"'))
    rec = wait_runs(m, "dist", 1)[0]
    assert rec["reason"].startswith("lock-unavailable, ran anyway: redis at")
    assert rec["fencing_token"] is None


def test_two_masters_never_overlap_even_when_one_is_killed(master_factory, redis_server):
    """The issue's scenario: two hosts (two state_dirs), one Redis, a task every second that
    runs 3 s. Runs never overlap; after `kill -9` of the holder's master, the other takes over
    within lock_ttl."""
    out = redis_server.root / "two.jsonl"
    a = master_factory(redis_task(redis_server, probe(out, 3), host="a")).start()
    b = master_factory(redis_task(redis_server, probe(out, 3), host="b")).start()

    def hosts_seen() -> set[str]:
        return {lines[0]["host"] for lines in probe_runs(out).values()}

    wait_for(lambda: len(probe_runs(out)) >= 2, 20, "two runs")
    # kill whichever master holds the current run, mid-run
    current = wait_for(
        lambda: [lines for lines in probe_runs(out).values() if lines[-1]["event"] != "end"],
        10,
        "a run in progress",
    )[0]
    holder = a if current[0]["host"] == "a" else b
    other = b if holder is a else a
    holder.kill9()
    killed = time.time()
    other_host = "b" if holder is a else "a"
    takeover = wait_for(
        lambda: [
            lines[0]["t"]
            for lines in probe_runs(out).values()
            if lines[0]["host"] == other_host and lines[0]["t"] > killed
        ],
        10,
        "the other master to take over",
    )
    assert min(takeover) - killed < 2 + 1.5  # lock_ttl, plus the next whole second, plus slack
    wait_for(lambda: len(probe_runs(out)) >= 4, 20, "more runs after the takeover")
    other.stop()
    assert_no_overlap(out)
    starts = sorted((lines[0]["t"], int(lines[0]["fence"])) for lines in probe_runs(out).values())
    fences = [fence for _, fence in starts]
    assert fences == sorted(fences) and len(set(fences)) == len(fences)
    assert other_host in hosts_seen()
