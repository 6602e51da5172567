"""`metrics_listen`: /metrics scraped from a real master over HTTP and read back with
prometheus-client's own parser; every family with its labels, values that follow what ran."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.harness import MasterProc, child, wait_for
from tests.redis_server import RedisServer, free_port

pytestmark = pytest.mark.redis


def scrape(port: int) -> dict[str, list[Sample]]:
    """Every sample by its family's name, as prometheus-client parses them."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        text = resp.read().decode()
    return {fam.name: fam.samples for fam in text_string_to_metric_families(text)}


def value(samples: list[Sample], metric: str, /, **labels: str) -> float | None:
    for s in samples:
        if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def test_metrics_endpoint_exposes_every_family(
    start_master: Callable[[str], MasterProc], redis_server: RedisServer, tmp_path: Path
) -> None:
    port = free_port()
    redis.Redis.from_url(redis_server.url).set("procsup:lock:blocked", "someone-else")
    ok_file = tmp_path / "never"
    m = start_master(
        f"""
        [procsup]
        redis_url = "{redis_server.url}"
        metrics_listen = "127.0.0.1:{port}"
        [programs.web]
        command = "{child("sleeper.py")}"
        [programs.crashy]
        command = "{child("flaky.py")} {ok_file}"
        restart_delay = "0.1s"
        max_restarts = 2
        [programs.lone]
        command = "{child("sleeper.py")}"
        singleton = true
        lock_ttl = "3s"
        [tasks.quick]
        command = "true"
        schedule = "* * * * * *"
        [tasks.held]
        command = "sleep 30"
        schedule = "* * * * * *"
        lock = "redis"
        lock_ttl = "3s"
        stop_timeout = "1s"
        [tasks.blocked]
        command = "true"
        schedule = "* * * * * *"
        lock = "redis"
        """
    )
    m.wait_state("web:0", "RUNNING")
    m.wait_state("crashy:0", "FATAL")

    def ready() -> dict[str, list[Sample]] | None:
        fams = scrape(port)
        runs = fams.get("procsup_task_runs", [])
        quick = value(runs, "procsup_task_runs_total", task="quick", result="ok")
        skips = fams.get("procsup_task_lock_skips", [])
        blocked = value(skips, "procsup_task_lock_skips_total", task="blocked", reason="lock-held")
        leases = fams.get("procsup_lease_held", [])
        held = value(leases, "procsup_lease_held", name="held")
        lone = value(leases, "procsup_lease_held", name="singleton:lone")
        return fams if quick and blocked and held and lone else None

    fams = wait_for(ready, 10, "runs, lock skips and a held lease in /metrics")

    inst = fams["procsup_instance_up"]
    assert value(inst, "procsup_instance_up", instance="web:0", program="web") == 1
    assert value(inst, "procsup_instance_up", instance="crashy:0", program="crashy") == 0
    states = fams["procsup_instance_state"]
    assert value(states, "procsup_instance_state", instance="web:0", state="RUNNING") == 1
    assert value(states, "procsup_instance_state", instance="web:0", state="STOPPED") == 0
    assert value(states, "procsup_instance_state", instance="crashy:0", state="FATAL") == 1
    restarts = fams["procsup_instance_restarts"]
    assert value(restarts, "procsup_instance_restarts_total", instance="crashy:0") is not None
    exits = fams["procsup_instance_exits"]
    crashes = value(exits, "procsup_instance_exits_total", instance="crashy:0", reason="unexpected")
    assert crashes == 3  # the first try and max_restarts = 2 more
    cpu = fams["procsup_instance_cpu_seconds"]
    assert value(cpu, "procsup_instance_cpu_seconds_total", instance="web:0") > 0
    rss = fams["procsup_instance_rss_bytes"]
    assert value(rss, "procsup_instance_rss_bytes", instance="web:0", program="web") > 1_000_000
    ready = fams["procsup_instance_ready"]
    assert value(ready, "procsup_instance_ready", instance="web:0", program="web") == 1
    assert value(ready, "procsup_instance_ready", instance="crashy:0", program="crashy") == 0

    duration = fams["procsup_task_run_duration_seconds"]
    assert value(duration, "procsup_task_run_duration_seconds_count", task="quick") >= 1
    assert value(duration, "procsup_task_run_duration_seconds_bucket", task="quick", le="+Inf")
    delay = fams["procsup_task_start_delay_seconds"]
    assert value(delay, "procsup_task_start_delay_seconds_count", task="quick") >= 1
    held = [s for s in fams["procsup_lease_held"] if s.labels["name"] == "held"]
    assert len(held) == 1 and int(held[0].labels["fencing_token"]) >= 1
    holder = fams["procsup_singleton_holder"]
    me = f"{socket.gethostname()}:{m.root / 'run'}"
    assert value(holder, "procsup_singleton_holder", program="lone", holder=me) == 1
    assert value(fams["procsup_loop_lag_seconds"], "procsup_loop_lag_seconds") < 1.0
    assert value(fams["procsup_loop_lag_max_seconds"], "procsup_loop_lag_max_seconds") >= 0


def test_only_metrics_path_is_served(start_master: Callable[[str], MasterProc]) -> None:
    port = free_port()
    start_master(
        f"""
        [procsup]
        metrics_listen = "127.0.0.1:{port}"
        """
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
    assert err.value.code == 404
    assert "procsup_loop_lag_seconds" in scrape(port)


def test_bad_metrics_listen_is_a_config_error(start_master: Callable[[str], MasterProc]) -> None:
    m = start_master("[procsup]\n")
    m.write_config('[procsup]\nmetrics_listen = "localhost"\n')
    out = m.cli("reload")
    assert out.returncode != 0
    assert "metrics_listen" in out.stdout + out.stderr
    assert "HOST:PORT" in out.stdout + out.stderr
