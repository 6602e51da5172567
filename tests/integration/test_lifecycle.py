"""Programs start, stop, crash and come back, as a user sees it through the socket and the CLI."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psutil

from tests.harness import child, wait_for


def test_numprocs_instances_run_and_list_shows_them(start_master):
    m = start_master(f"""
        [programs.worker]
        command = "{child("sleeper.py")}"
        numprocs = 2
        start_seconds = 0.2
    """)
    for name in ("worker:0", "worker:1"):
        row = m.wait_state(name, "RUNNING")
        assert psutil.pid_exists(row["pid"])
    out = m.cli("list", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {"worker:0", "worker:1"}
    for key in ("state", "pid", "uptime", "restarts", "cpu", "rss", "last_exit"):
        assert key in rows["worker:0"]
    true_rss = psutil.Process(rows["worker:0"]["pid"]).memory_info().rss
    assert 0.5 * true_rss < rows["worker:0"]["rss"] < 2 * true_rss
    assert 0 <= rows["worker:0"]["cpu"] < 200
    table = m.cli("list")
    assert table.returncode == 0
    assert "worker:1" in table.stdout and "RUNNING" in table.stdout


def test_instances_get_their_environment(start_master):
    m = start_master(f"""
        [programs.worker]
        command = "{child("sleeper.py")}"
        numprocs = 2
        start_seconds = 0
    """)
    row = m.wait_state("worker:1", "RUNNING")
    env = psutil.Process(row["pid"]).environ()
    assert env["PROCSUP_PROGRAM"] == "worker"
    assert env["PROCSUP_PROCESS_NAME"] == "worker:1"
    assert env["PROCSUP_PROCESS_NUM"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"


def test_stop_kills_a_setsid_grandchild_that_ignores_sigterm(start_master):
    m = start_master(f"""
        [programs.esc]
        command = "{child("escaper.py", "{num}.pid")}"
        directory = "."
        start_seconds = 0
        stop_timeout = "1s"
    """)
    m.wait_state("esc:0", "RUNNING")
    pidfile = m.root / "0.pid"
    wait_for(pidfile.exists, 10, "the grandchild pid file")
    grandchild = psutil.Process(int(pidfile.read_text()))
    assert grandchild.is_running()
    started = time.monotonic()
    result = m.cli("stop", "esc")
    assert result.returncode == 0, result.stderr
    assert m.state("esc:0")["state"] == "STOPPED"
    assert not grandchild.is_running() or grandchild.status() == psutil.STATUS_ZOMBIE
    assert time.monotonic() - started >= 0.9  # it was killed after stop_timeout, not before
    assert m.marked_processes() == []


def test_crash_loop_backs_off_with_doubling_delay_and_recovers(start_master):
    m = start_master(f"""
        [programs.flaky]
        command = "{child("flaky.py", "ok")}"
        directory = "."
        start_seconds = 0.2
        restart_delay = "200ms"
        restart_delay_max = "800ms"
    """)
    delays = []
    seen = set()

    def backoff_attempt() -> bool:
        row = m.state("flaky:0")
        if row["state"] == "BACKOFF" and row["attempt"] not in seen:
            seen.add(row["attempt"])
            delays.append((row["attempt"], row["next_try"] - row["last_exit_time"]))
        return len(seen) >= 4

    wait_for(backoff_attempt, 15, "four backoff attempts")
    by_attempt = dict(delays)
    assert abs(by_attempt[1] - 0.2) < 0.1
    assert abs(by_attempt[2] - 0.4) < 0.1
    assert abs(by_attempt[3] - 0.8) < 0.1
    assert abs(by_attempt[4] - 0.8) < 0.1  # capped at restart_delay_max
    assert m.state("flaky:0")["state"] != "FATAL"
    (m.root / "ok").write_text("")
    m.wait_state("flaky:0", "RUNNING", timeout=5)


def test_daemon_that_dies_after_start_seconds_is_back_at_once(start_master):
    m = start_master(f"""
        [programs.daemon]
        command = "{child("crash_on_signal.py")}"
        restart_delay = "30s"
    """)
    first = m.wait_state("daemon:0", "RUNNING")  # up for start_seconds (1 s): the point here
    os.kill(first["pid"], signal.SIGUSR1)
    row = wait_for(
        lambda: (r := m.state("daemon:0"))["pid"] not in (None, first["pid"]) and r, 2, "a new pid"
    )
    assert row["state"] == "STARTING" and row["next_try"] is None  # no backoff delay
    assert row["last_exit"] == 1
    assert row["restarts"] == 1


def test_spawn_error_backs_off_and_stop_cancels_the_retry(start_master):
    m = start_master("""
        [programs.missing]
        command = "/nonexistent/binary --flag"
        restart_delay = "5s"
    """)
    row = m.wait_state("missing:0", "BACKOFF")
    assert "No such file" in row["spawn_error"]
    assert row["attempt"] == 1
    listing = m.cli("list")
    assert "could not start" in listing.stdout and "next try" in listing.stdout
    assert m.cli("stop", "missing").returncode == 0
    assert m.state("missing:0")["state"] == "STOPPED"


def test_manual_start_clears_the_backoff(start_master):
    m = start_master(f"""
        [programs.flaky]
        command = "{child("flaky.py", "ok")}"
        directory = "."
        restart_delay = "60s"
    """)
    m.wait_state("flaky:0", "BACKOFF")
    (m.root / "ok").write_text("")
    started = time.monotonic()
    assert m.cli("start", "flaky").returncode == 0
    m.wait_state("flaky:0", "RUNNING", timeout=5)
    assert time.monotonic() - started < 10  # did not wait out the 60 s delay


def test_max_restarts_gives_up_with_fatal(start_master):
    m = start_master("""
        [programs.bad]
        command = "sh -c 'echo ran; exit 2'"
        restart_delay = "100ms"
        max_restarts = 2
    """)
    row = m.wait_state("bad:0", "FATAL", timeout=10)
    # the first run, then exactly max_restarts retries, each of which failed too; then no more
    assert row["last_exit"] == 2 and row["restarts"] == 2
    assert m.log_file("bad:0").read_text().splitlines() == ["ran"] * 3


def test_autorestart_on_failure_leaves_clean_exits_alone(start_master):
    m = start_master("""
        [programs.once]
        command = "sh -c 'exit 0'"
        autorestart = "on-failure"
        start_seconds = 0
    """)
    row = m.wait_state("once:0", "EXITED")
    assert row["last_exit"] == 0 and row["restarts"] == 0


def test_restart_and_signal_reach_instances(start_master):
    m = start_master(f"""
        [programs.sig]
        command = "{child("signal_logger.py")}"
        numprocs = 2
        start_seconds = 0
    """)
    m.wait_state("sig:1", "RUNNING")
    wait_for(lambda: "listening" in m.log_file("sig:1").read_text(), 5, "listening")
    result = m.cli("signal", "USR1", "sig:1")
    assert result.returncode == 0, result.stderr
    wait_for(lambda: "got SIGUSR1" in m.log_file("sig:1").read_text(), 5, "the signal")
    assert "got SIGUSR1" not in m.log_file("sig:0").read_text()
    old = m.state("sig:0")["pid"]
    assert m.cli("restart", "sig*").returncode == 0
    assert m.state("sig:0")["pid"] != old


def test_rolling_restart_keeps_instances_up(start_master):
    m = start_master(f"""
        [programs.pool]
        command = "{child("sleeper.py")}"
        numprocs = 3
        start_seconds = 0.3
    """)
    for n in range(3):
        m.wait_state(f"pool:{n}", "RUNNING")
    before = {n: r["pid"] for n, r in m.instances("pool").items()}
    result = m.cli("restart", "--rolling", "pool")
    assert result.returncode == 0, result.stderr
    after = m.instances("pool")
    assert all(r["state"] == "RUNNING" and r["pid"] != before[n] for n, r in after.items())


def test_unknown_name_is_a_clear_error(start_master):
    m = start_master(f"""
        [programs.worker]
        command = "{child("sleeper.py")}"
    """)
    result = m.cli("stop", "nope")
    assert result.returncode != 0
    assert "nope" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_status_exit_code(start_master):
    m = start_master(f"""
        [programs.worker]
        command = "{child("sleeper.py")}"
        start_seconds = 0
        [programs.off]
        command = "{child("sleeper.py")}"
        autostart = false
    """)
    m.wait_state("worker:0", "RUNNING")
    assert m.cli("status", "worker").returncode == 0
    assert m.cli("status", "off").returncode == 1


def test_no_master_exit_code_3(master_factory):
    m = master_factory("""
        [programs.x]
        command = "true"
    """)
    result = m.cli("list")
    assert result.returncode == 3
    assert "no procsup master" in result.stderr


def test_cli_autostarts_a_background_master(master_factory):
    m = master_factory(f"""
        [programs.worker]
        command = "{child("sleeper.py")}"
        start_seconds = 0
    """)
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "procsup", "-c", str(m.config), "start"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    m.wait_state("worker:0", "RUNNING")
    info = m.call("hello")
    assert Path(m.socket).exists()
    assert m.cli("shutdown").returncode == 0
    wait_for(lambda: not psutil.pid_exists(info["pid"]), 15, "the master to exit")
    assert m.marked_processes() == []


def test_max_memory_restarts_an_instance_over_its_limit(start_master):
    m = start_master(f"""
        [programs.hog]
        command = "{child("hog.py", "80")}"
        start_seconds = 0
        max_memory = "40MB"
        restart_delay = "100ms"
    """)
    first = m.wait_state("hog:0", "RUNNING")["pid"]
    row = wait_for(
        lambda: (r := m.state("hog:0"))["pid"] not in (None, first) and r,
        15,
        "a restart because of max_memory",
    )
    assert row["last_exit"] is not None
