"""Why a process died, said in one sentence everywhere people and scripts look, and restarts that
match what supervisord and pm2 users expect: at once after a run that got going, a doubling delay
after a failed start."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal

from procsup.control.client import Client
from tests.harness import child, wait_for

KILLED = re.compile(
    r"worker:0 exited: killed by SIGKILL after \S+ \(not expected\); restarting now"
)


def new_pid(m, name: str, old: int) -> dict:
    return wait_for(
        lambda: (r := m.state(name))["pid"] not in (None, old) and r, 10, f"a new pid for {name}"
    )


def test_kill_9_is_explained_in_the_log_events_list_and_logs(start_master):
    m = start_master(f"""
        [programs.worker]
        command = "{child("sleeper.py")}"
    """)
    first = m.wait_state("worker:0", "RUNNING")  # past start_seconds (1 s by default)
    with Client(m.socket, timeout=10) as client:
        stream = client.stream("events")
        next(stream)  # the snapshot
        os.kill(first["pid"], signal.SIGKILL)
        event = next(e for e in stream if e["type"] == "state" and e.get("reason"))
    assert (event["from"], event["to"]) == ("RUNNING", "STARTING")
    assert event["signal"] == "SIGKILL" and event["code"] == -9 and event["exit_code"] is None
    assert event["expected"] is False and event["next"] == "restart"
    assert event["uptime"] >= 1.0
    assert KILLED.fullmatch(event["reason"])

    new_pid(m, "worker:0", first["pid"])
    assert KILLED.search(m.log())
    rows = json.loads(m.cli("list", "--json").stdout)
    assert KILLED.fullmatch(rows[0]["last_exit_reason"]) and rows[0]["last_exit"] == -9
    wait_for(lambda: "ready worker:0" in m.cli("logs", "worker", "-n", "10").stdout, 5, "output")
    lines = m.cli("logs", "worker", "-n", "10").stdout.splitlines()
    marked = [ln for ln in lines if "***" in ln]
    assert len(marked) == 1 and KILLED.search(marked[0])
    assert lines.index(marked[0]) < max(i for i, ln in enumerate(lines) if "ready" in ln)
    assert "killed by SIGKILL" not in m.log_file("worker:0", "err").read_text()  # byte-exact


def test_logs_follow_shows_the_marked_line_between_the_output(start_master):
    m = start_master(f"""
        [programs.worker]
        command = "{child("sleeper.py")}"
    """)
    first = m.wait_state("worker:0", "RUNNING")
    with Client(m.socket, timeout=10) as client:
        stream = client.stream("logs", {"names": ["worker"], "follow": True, "lines": 1})
        os.kill(first["pid"], signal.SIGKILL)
        items: list[dict] = []
        for item in stream:
            items.append(item)
            if any(i["stream"] == "procsup" for i in items) and item["stream"] == "stdout":
                break
    marked = [i for i in items if i["stream"] == "procsup"]
    assert len(marked) == 1 and KILLED.fullmatch(marked[0]["line"])
    assert items[-1]["line"].startswith("ready worker:0")  # the new run's output follows it


def test_missing_command_names_the_os_error_and_the_directory(start_master, tmp_path):
    m = start_master(f"""
        [programs.worker]
        command = "./bin/worker.sh"
        directory = "{tmp_path}"
        restart_delay = "100ms"
        restart_delay_max = "100ms"
    """)
    row = wait_for(lambda: (r := m.state("worker:0"))["attempt"] >= 2 and r, 10, "a second attempt")
    want = f"No such file or directory: ./bin/worker.sh (relative to {tmp_path})"
    assert row["spawn_error"] == want
    assert re.fullmatch(
        rf"worker:0 could not start: {re.escape(want)}; retry in 100ms \(attempt \d+\)",
        row["last_exit_reason"],
    )
    assert f"worker:0 could not start: {want}; retry in 100ms (attempt 1)" in m.log()
    assert f"could not start: {want}" in m.cli("list").stdout


def test_a_directory_as_command_says_it_is_a_directory(start_master, tmp_path):
    (tmp_path / "bin").mkdir()
    m = start_master(f"""
        [programs.worker]
        command = "./bin"
        directory = "{tmp_path}"
        restart_delay = "100ms"
    """)
    row = wait_for(lambda: (r := m.state("worker:0"))["spawn_error"] and r, 10, "a failed spawn")
    want = f"Permission denied (a directory, not a program): ./bin (relative to {tmp_path})"
    assert row["spawn_error"] == want
    assert f"could not start: {want}" in m.cli("list").stdout


def test_expected_exit_under_on_failure_says_it_is_not_restarted(start_master):
    m = start_master("""
        [programs.once]
        command = "sh -c 'sleep 1.2'"
        autorestart = "on-failure"
    """)
    row = m.wait_state("once:0", "EXITED", timeout=10)
    assert re.fullmatch(
        r"once:0 exited with code 0 after 1s \(expected\); not restarted "
        r"\(autorestart = on-failure\)",
        row["last_exit_reason"],
    )


def test_stop_says_it_was_asked_for(start_master):
    m = start_master(f"""
        [programs.worker]
        command = "{child("sleeper.py")}"
        start_seconds = 0
    """)
    m.wait_state("worker:0", "RUNNING")
    assert m.cli("stop", "worker").returncode == 0
    reason = m.state("worker:0")["last_exit_reason"]
    assert re.fullmatch(
        r"worker:0 exited: killed by SIGTERM after \S+ \(stop requested\); stays stopped", reason
    )


def test_a_run_past_start_seconds_is_restarted_at_once_under_the_defaults(start_master):
    """The `while true` replacement: a script that works ~2 s and exits. Timing figures are in
    bench/bench_core.py; here only "well under a second", never a tight bound."""
    m = start_master("""
        [programs.batch]
        command = "sh -c 'sleep 2; exit 1'"
    """)
    first = m.wait_state("batch:0", "RUNNING")
    for _ in range(2):
        row = new_pid(m, "batch:0", first["pid"])
        assert row["started"] - row["last_exit_time"] < 0.5
        assert row["attempt"] == 0 and row["next_try"] is None
        assert (
            "exited with code 1 after 2s (not expected); restarting now"
            in (row["last_exit_reason"])
        )
        first = row
    assert first["restarts"] == 2


def test_an_instantly_exiting_program_backs_off_with_doubling_delays(start_master):
    m = start_master("""
        [programs.quick]
        command = "sh -c 'exit 1'"
        restart_delay = "100ms"
        restart_delay_max = "10s"
        max_restarts = 0
    """)
    with Client(m.socket, timeout=10) as client:
        stream = client.stream("events")
        next(stream)
        backoffs = []
        for event in stream:
            if event["type"] == "state" and event["to"] == "BACKOFF":
                backoffs.append(event)
            if len(backoffs) == 4:
                break
    first = backoffs[0]["attempt"]  # the first ones may come before the subscription
    assert [e["attempt"] for e in backoffs] == list(range(first, first + 4))
    assert [e["delay"] for e in backoffs] == [0.1 * 2 ** (e["attempt"] - 1) for e in backoffs]
    gaps = [b["time"] - a["time"] for a, b in itertools.pairwise(backoffs)]
    assert all(gap >= e["delay"] for gap, e in zip(gaps, backoffs, strict=False))
    assert all(e["next"] == "retry" and e["exit_code"] == 1 for e in backoffs)
    assert f"failed start, retry in {backoffs[0]['delay'] * 1000:.0f}ms" in backoffs[0]["reason"]


def test_a_task_run_records_why_it_failed(start_master):
    m = start_master("""
        [tasks.job]
        command = "sh -c 'exit 3'"
        schedule = "0 0 1 1 *"
        [tasks.gone]
        command = "./bin/missing"
        schedule = "0 0 1 1 *"
    """)
    assert m.cli("run", "job", "--wait").returncode == 3
    assert m.cli("run", "gone", "--wait").returncode == 1
    job = m.call("history", {"task": "job"})["runs"][0]
    assert job["status"] == "failed" and job["exit_code"] == 3
    assert re.fullmatch(r"exited with code 3 after \S+", job["reason"])
    gone = m.call("history", {"task": "gone"})["runs"][0]
    assert gone["reason"] == (
        f"could not start: No such file or directory: ./bin/missing (relative to {m.root})"
    )
    log = m.log()
    assert f"task job: run {job['run_id']} failed: exited with code 3 after" in log
    assert f"task gone: run {gone['run_id']} failed: could not start" in log
    assert "exit None" not in log
    history = m.cli("history", "job").stdout
    assert "failed: exited with code 3" in history
    assert "*** | task job: run" in m.cli("logs", "job").stdout


def test_restart_says_so_and_a_stop_that_needs_sigkill_says_why(start_master):
    m = start_master(f"""
        [programs.worker]
        command = "{child("sleeper.py")}"
        start_seconds = 0
        [programs.stubborn]
        command = "sh -c 'trap \\"\\" TERM; while :; do sleep 0.1; done'"
        start_seconds = 0
        stop_timeout = "300ms"
    """)
    m.wait_state("worker:0", "RUNNING")
    m.wait_state("stubborn:0", "RUNNING")
    assert m.cli("restart", "worker").returncode == 0
    assert re.search(
        r"worker:0 exited: killed by SIGTERM after \S+ \(restart requested\); restarting now",
        m.state("worker:0")["last_exit_reason"],
    )
    assert m.cli("stop", "stubborn").returncode == 0
    assert m.state("stubborn:0")["last_exit_reason"].endswith(
        "(stop requested; SIGKILL after stop_timeout 300ms); stays stopped"
    )
