"""The master and the open-file limit: 300 instances under a login shell's `ulimit -Sn 1024`, and
under a hard limit too low for them, where running out of descriptors must never be fatal."""

from __future__ import annotations

import functools
import os
import resource
import subprocess

import pytest

from tests.harness import PY, wait_for

CONFIG = """
    [programs.w]
    command = "sleep 3600"
    numprocs = 300
    start_seconds = 0
    restart_delay = "200ms"
    stop_timeout = "5s"
"""


def nofile(soft: int, hard: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def counts(m) -> dict[str, int]:
    found: dict[str, int] = {}
    for row in m.call("list", {"stats": False})["instances"]:
        found[row["state"]] = found.get(row["state"], 0) + 1
    return found


def shut_down_clean(m) -> None:
    """`shutdown` ends the master (exit 0) and leaves no process of it behind."""
    assert m.cli("shutdown", timeout=60).returncode == 0
    assert m.proc.wait(60) == 0, m.log()[-2000:]
    assert m.marked_processes() == []


def test_300_instances_under_a_soft_limit_of_1024(master_factory):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 1400:
        if os.geteuid() == 0:
            hard = 4096  # root may raise the hard limit for the master it starts
        elif os.environ.get("CI") == "true":
            pytest.fail(f"the hard open-file limit ({hard}) must allow 1400 descriptors in CI")
        else:
            pytest.skip(f"the hard open-file limit ({hard}) leaves no room to raise the soft one")
    m = master_factory(CONFIG)
    m.start(preexec_fn=functools.partial(nofile, 1024, hard))
    wait_for(lambda: counts(m).get("RUNNING") == 300, 30, "300 RUNNING instances")
    assert "open-file limit raised from 1024 to" in m.log()
    assert "Too many open files" not in m.log()
    assert m.cli("list").returncode == 0
    shut_down_clean(m)


def test_a_hard_limit_too_low_leaves_instances_in_backoff_and_the_master_up(master_factory):
    m = master_factory(CONFIG)
    m.start(preexec_fn=functools.partial(nofile, 256, 256))
    wait_for(lambda: counts(m).get("BACKOFF", 0) > 200, 30, "instances short of descriptors")
    assert "the open-file limit is 256, below the descriptors this config needs" in m.log()
    rows = m.call("list", {"stats": False})["instances"]
    waiting = [r for r in rows if r["state"] == "BACKOFF"]
    assert all(r["spawn_error"].startswith("Too many open files") for r in waiting)
    assert "could not start: Too many open files" in waiting[0]["last_exit_reason"]
    running = [r for r in rows if r["state"] == "RUNNING"]
    assert len(running) >= 20  # what fits keeps running
    # retries keep failing without taking the master down; it still answers every command
    wait_for(lambda: max(r["attempt"] for r in m.call("list")["instances"]) >= 3, 30, "retries")
    listing = m.cli("list")
    assert listing.returncode == 0 and "Too many open files" in listing.stdout
    assert m.cli("stop", "w:0").returncode == 0
    assert m.proc.poll() is None
    shut_down_clean(m)


def test_check_warns_when_the_hard_limit_is_too_low(master_factory):
    m = master_factory(CONFIG)
    result = subprocess.run(
        [PY, "-m", "procsup", "-c", str(m.config), "check"],
        capture_output=True,
        text=True,
        preexec_fn=functools.partial(nofile, 256, 256),
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "warning: the open-file limit is 256" in result.stderr
    # 300 × (4 + 3 held open for `list`) + the master's own + the reserve
    assert "about 2188" in result.stderr
