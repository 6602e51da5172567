"""Cron tasks on a real master: runs, overlap policies, the local flock lock, timeouts, hooks,
catch-up, history, the `tasks`/`run`/`history` verbs, and planned program restarts.

Schedules are second-level ("* * * * * *", "@every 1s") so every test finishes in seconds; tasks
report themselves through tests/children/task_probe.py, which writes timestamps to a file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import psutil

from tests.harness import MasterProc, child, wait_for


def probe(path: Path, seconds: float, code: int = 0) -> str:
    return child("task_probe.py", str(path), str(seconds), str(code))


def probe_runs(path: Path) -> dict[str, list[dict[str, Any]]]:
    """run id → its lines, in order."""
    runs: dict[str, list[dict[str, Any]]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            item = json.loads(line)
            runs.setdefault(item["run"], []).append(item)
    return runs


def intervals(path: Path) -> list[tuple[float, float, str]]:
    """(first, last) timestamp of every run, sorted by start."""
    return sorted((lines[0]["t"], lines[-1]["t"], run) for run, lines in probe_runs(path).items())


def assert_no_overlap(path: Path) -> None:
    spans = intervals(path)
    for (_, e1, r1), (s2, _, r2) in itertools.pairwise(spans):
        assert e1 <= s2, f"run {r2} started at {s2} while {r1} still ran (until {e1})"


def history(m: MasterProc, task: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    args: dict[str, Any] = {"limit": limit}
    if task:
        args["task"] = task
    return m.call("history", args)["runs"]


def wait_runs(m: MasterProc, task: str, n: int, status: str = "ok", timeout: float = 15) -> list:
    def enough() -> list[dict[str, Any]] | None:
        runs = [r for r in history(m, task) if r["status"] == status]
        return runs if len(runs) >= n else None

    return wait_for(enough, timeout, f"{n} {status} run(s) of {task}")


def task_row(m: MasterProc, name: str) -> dict[str, Any]:
    return next(t for t in m.call("tasks")["tasks"] if t["name"] == name)


def test_scheduled_runs_get_their_identity_and_output(start_master, tmp_path):
    out = tmp_path / "tick.jsonl"
    m = start_master(
        f"""
        [tasks.tick]
        command = "{probe(out, 0.05)}"
        schedule = "* * * * * *"
        """
    )
    runs = wait_runs(m, "tick", 3)
    lines = probe_runs(out)
    for rec in runs:
        start = lines[rec["run_id"]][0]
        assert start["task"] == "tick"
        scheduled = float(start["scheduled_epoch"])
        assert scheduled == rec["scheduled"] and scheduled == int(scheduled)  # whole seconds
        assert dt.datetime.fromisoformat(start["scheduled"]).timestamp() == scheduled
        assert scheduled <= start["t"] < scheduled + 1
        assert rec["trigger"] == "schedule" and rec["exit_code"] == 0 and rec["duration"] > 0
    row = task_row(m, "tick")
    assert row["next_run"] > time.time() - 1 and row["next_run_local"]
    assert row["last"]["status"] in ("ok", "running") or row["running"]
    logs = m.call("logs", {"names": ["tick"], "lines": 50})["lines"]
    assert any(item["line"].startswith("probe ") and item["name"] == "tick" for item in logs)
    assert (m.root / "logs" / "task-tick.out.log").read_text().count("probe ") >= 3


def test_overlap_skip_never_runs_two_at_once(start_master, tmp_path):
    out = tmp_path / "slow.jsonl"
    m = start_master(
        f"""
        [tasks.slow]
        command = "{probe(out, 1.6)}"
        schedule = "* * * * * *"
        overlap = "skip"
        """
    )
    wait_runs(m, "slow", 2, timeout=20)
    skipped = [r for r in history(m, "slow") if r["status"] == "skipped"]
    assert skipped and all(r["reason"] == "overlap" for r in skipped)
    assert_no_overlap(out)


def test_overlap_replace_stops_the_running_one(start_master, tmp_path):
    out = tmp_path / "rep.jsonl"
    m = start_master(
        f"""
        [tasks.rep]
        command = "{probe(out, 30)}"
        schedule = "@every 1s"
        overlap = "replace"
        stop_timeout = "2s"
        """
    )
    stopped = wait_runs(m, "rep", 2, status="stopped")
    assert all(r["reason"] == "replaced" and r["exit_code"] == 143 for r in stopped)
    assert_no_overlap(out)
    ends = [lines[-1]["event"] for lines in probe_runs(out).values()]
    assert ends.count("end") >= 2  # each replaced run got SIGTERM and said goodbye


def test_overlap_allow_runs_side_by_side(start_master, tmp_path):
    out = tmp_path / "par.jsonl"
    m = start_master(
        f"""
        [tasks.par]
        command = "{probe(out, 2.5)}"
        schedule = "* * * * * *"
        overlap = "allow"
        """
    )
    wait_for(lambda: len(task_row(m, "par")["running"]) >= 2, 10, "two runs at once")
    assert not [r for r in history(m, "par") if r["status"] == "skipped"]


def test_local_lock_outlives_a_killed_master_and_frees_with_the_run(master_factory, tmp_path):
    """The flock is inherited by the run: after `kill -9` of the master the run keeps it, a new
    master skips with lock-held, and the lock frees the moment the run's last process ends."""
    out = tmp_path / "long.jsonl"
    config = f"""
        [tasks.long]
        command = "{probe(out, 4)}"
        schedule = "@every 1s"
        """
    m = master_factory(config).start()
    first = wait_for(lambda: task_row(m, "long")["running"], 10, "a run")[0]
    # the probe prints once as it starts; killed before that, it would die on the broken pipe
    wait_for(lambda: probe_runs(out).get(first["run_id"]), 10, "the run to have started")
    m.kill9()
    assert psutil.pid_exists(first["pid"])
    m2 = MasterProc(m.root, config).start()
    try:
        held = wait_for(
            lambda: [r for r in history(m2, "long") if r.get("reason") == "lock-held"],
            10,
            "a lock-held skip",
        )
        assert held[0]["status"] == "skipped"
        abandoned = [r for r in history(m2, "long") if r["run_id"] == first["run_id"]]
        assert abandoned and abandoned[0]["status"] == "unknown"
        wait_for(lambda: not psutil.pid_exists(first["pid"]), 10, "the first run to end")
        wait_runs(m2, "long", 1, status="running", timeout=10)
        assert_no_overlap(out)
    finally:
        m2.stop()


def test_a_master_without_tasks_still_reports_the_runs_a_killed_master_left(
    master_factory, tmp_path
):
    """The history opens on first use (a master without tasks never loads SQLite); what it
    shows then is what an eager open showed: the run the killed master left is abandoned."""
    out = tmp_path / "long.jsonl"
    m = master_factory(f"""
        [tasks.long]
        command = "{probe(out, 30)}"
        schedule = "@every 60s"
        """).start()
    m.cli("run", "long")
    first = wait_for(lambda: task_row(m, "long")["running"], 10, "a run")[0]
    wait_for(lambda: _committed(m, first["run_id"]), 10, "the run's row to be committed")
    m.kill9()
    os.kill(first["pid"], signal.SIGKILL)
    m2 = MasterProc(m.root, "[programs.idle]\ncommand = 'sleep 60'").start()
    try:
        (run,) = [r for r in history(m2) if r["run_id"] == first["run_id"]]
        assert run["status"] == "unknown"
        assert run["reason"] == "the master stopped while it ran"
        warned = "1 task run(s) were still running when the last master stopped"
        wait_for(lambda: warned in m2.log(), 5, "the warning in the master's log")
    finally:
        m2.stop()


def _committed(m: MasterProc, run_id: str) -> bool:
    """The run's row is in the database file (the master commits a few ms after a write)."""
    with contextlib.closing(sqlite3.connect(m.root / "run" / "history.sqlite3")) as db:
        return bool(db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone())


def test_timeout_kills_the_whole_tree(start_master, tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    m = start_master(
        f"""
        [tasks.hang]
        command = "{child("escaper.py", str(pidfile))}"
        schedule = "@every 30s"
        timeout = "1s"
        stop_timeout = "0.5s"
        """
    )
    m.cli("run", "hang")
    rec = wait_runs(m, "hang", 1, status="timeout")[0]
    assert rec["reason"] == "ran longer than 1.0s"
    grandchild = int(wait_for(lambda: pidfile.exists() and pidfile.read_text(), 5, "pid file"))
    wait_for(lambda: not _alive(grandchild), 10, "the setsid'd grandchild to be killed")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_missing_command_is_a_failed_run_and_the_master_carries_on(start_master, tmp_path):
    out = tmp_path / "ok.jsonl"
    m = start_master(
        f"""
        [tasks.broken]
        command = "/nonexistent/bin/import"
        schedule = "* * * * * *"
        [tasks.fine]
        command = "{probe(out, 0)}"
        schedule = "* * * * * *"
        """
    )
    failed = wait_runs(m, "broken", 2, status="failed")
    assert (
        failed[0]["reason"] == "could not start: No such file or directory: /nonexistent/bin/import"
    )
    wait_runs(m, "fine", 2)
    result = m.cli("run", "broken", "--wait")
    assert result.returncode == 1 and "No such file or directory" in result.stdout


def test_run_now_waits_and_returns_the_exit_code(start_master, tmp_path):
    out = tmp_path / "job.jsonl"
    m = start_master(
        f"""
        [tasks.job]
        command = "{probe(out, 0.2, 7)}"
        schedule = "0 0 1 1 *"
        """
    )
    result = m.cli("run", "job", "--wait")
    assert result.returncode == 7, result.stdout + result.stderr
    assert "failed: exited with code 7 after" in result.stdout
    rec = history(m, "job")[0]
    assert rec["trigger"] == "manual" and rec["scheduled"] is None and rec["exit_code"] == 7
    started = m.cli("run", "job")
    assert started.returncode == 0 and "started" in started.stdout
    unknown = m.cli("run", "nosuch")
    assert unknown.returncode == 1 and "no task named 'nosuch'" in unknown.stderr


def test_jitter_delays_within_its_bound(start_master, tmp_path):
    out = tmp_path / "jit.jsonl"
    m = start_master(
        f"""
        [tasks.jit]
        command = "{probe(out, 0)}"
        schedule = "@every 1s"
        jitter = "0.5s"
        """
    )
    wait_runs(m, "jit", 4)
    delays = [
        lines[0]["t"] - float(lines[0]["scheduled_epoch"]) for lines in probe_runs(out).values()
    ]
    assert all(0 <= d < 1.0 for d in delays), delays
    assert max(delays) - min(delays) > 0.01  # not the same delay every time


def test_hooks_learn_the_result(start_master, tmp_path):
    hook_out = tmp_path / "hooks.txt"
    hook = f"sh -c 'echo $PROCSUP_TASK $PROCSUP_STATUS $PROCSUP_EXIT_CODE >> {hook_out}'"
    m = start_master(
        f"""
        [tasks.good]
        command = "true"
        schedule = "0 0 1 1 *"
        on_success = "{hook}"
        on_failure = "{hook}"
        [tasks.bad]
        command = "false"
        schedule = "0 0 1 1 *"
        on_failure = "{hook}"
        """
    )
    assert m.cli("run", "good", "--wait").returncode == 0
    assert m.cli("run", "bad", "--wait").returncode == 1
    lines = wait_for(
        lambda: hook_out.exists() and len(hook_out.read_text().splitlines()) == 2 and hook_out,
        10,
        "both hooks",
    )
    assert sorted(lines.read_text().splitlines()) == ["bad failed 1", "good ok 0"]


def test_disabled_task_records_coalesced_skips(start_master, tmp_path):
    m = start_master(
        """
        [tasks.off]
        command = "true"
        schedule = "* * * * * *"
        enabled = false
        """
    )
    row = wait_for(
        lambda: [r for r in history(m, "off") if r.get("count", 0) >= 2],
        10,
        "two coalesced skips",
    )[0]
    assert row["status"] == "skipped" and row["reason"] == "disabled"
    assert len(history(m, "off")) == 1
    assert "disabled" in m.cli("tasks").stdout


def test_catch_up_runs_once_after_downtime(master_factory, tmp_path):
    out = tmp_path / "cu.jsonl"
    config = f"""
        [tasks.cu]
        command = "{probe(out, 0)}"
        schedule = "*/2 * * * * *"
        catch_up = true
        [tasks.nocu]
        command = "true"
        schedule = "*/2 * * * * *"
        """
    m = master_factory(config)
    m.start()
    wait_runs(m, "cu", 1)
    assert m.stop() == 0
    down_until = time.time() + 2.5
    wait_for(lambda: time.time() > down_until, 5, "downtime over a due time")
    m.start()
    rec = wait_runs(m, "cu", 1, status="ok")
    catch = [r for r in history(m, "cu") if r["trigger"] == "catch-up"]
    assert len(catch) == 1 and catch[0]["scheduled"] < time.time()
    assert not [r for r in history(m, "nocu") if r["trigger"] == "catch-up"]
    assert rec


def test_run_events_on_the_stream(start_master, tmp_path):
    from procsup.control.client import Client

    m = start_master(
        """
        [tasks.ev]
        command = "true"
        schedule = "0 0 1 1 *"
        """
    )
    with Client(m.socket, timeout=10) as client:
        stream = client.stream("events")
        snapshot = next(stream)
        assert [t["name"] for t in snapshot["tasks"]] == ["ev"]
        m.cli("run", "ev")
        seen: list[tuple[str, str]] = []
        for item in stream:
            if item["type"] == "run":
                seen.append((item["event"], item["run"]["status"]))
            if ("end", "ok") in seen:
                break
    assert seen == [("start", "running"), ("end", "ok")]


def test_reload_adds_changes_and_removes_tasks(start_master, tmp_path):
    out = tmp_path / "r.jsonl"
    m = start_master(
        f"""
        [tasks.stay]
        command = "true"
        schedule = "0 0 1 1 *"
        [tasks.go]
        command = "{probe(out, 30)}"
        schedule = "0 0 1 1 *"
        """
    )
    m.cli("run", "go")
    pid = wait_for(lambda: task_row(m, "go")["running"], 10, "go running")[0]["pid"]
    m.write_config(
        """
        [tasks.stay]
        command = "true"
        schedule = "0 0 2 1 *"
        [tasks.new]
        command = "true"
        schedule = "* * * * * *"
        """
    )
    result = m.cli("reload")
    assert result.returncode == 0, result.stderr
    assert "tasks added: new" in result.stdout and "tasks removed: go" in result.stdout
    assert "tasks changed: stay" in result.stdout
    assert not _alive(pid)
    assert history(m, "go")[0]["status"] == "stopped"
    assert task_row(m, "stay")["schedule"] == "0 0 2 1 *"
    wait_runs(m, "new", 1)


def test_tasks_and_history_verbs(start_master):
    m = start_master(
        """
        [tasks.report]
        command = "sh -c 'echo done'"
        schedule = "30 2 * * *"
        timezone = "Europe/Berlin"
        """
    )
    assert m.cli("run", "report", "--wait").returncode == 0
    tasks = m.cli("tasks")
    assert tasks.returncode == 0
    header, line = tasks.stdout.splitlines()[:2]
    assert header.split()[:4] == ["TASK", "SCHEDULE", "ZONE", "NEXT"]
    assert "Europe/Berlin" in line and "02:30:00" in line and " ok " in line
    as_json = json.loads(m.cli("tasks", "--json").stdout)
    assert as_json[0]["next_run_local"].endswith(("+01:00", "+02:00"))
    hist = m.cli("history", "report")
    assert hist.returncode == 0 and "manual" in hist.stdout and "ok" in hist.stdout
    assert json.loads(m.cli("history", "--json").stdout)[0]["task"] == "report"
    missing = m.cli("history", "nosuch")
    assert missing.returncode == 1 and "no task named 'nosuch'" in missing.stderr


def test_restart_schedule_restarts_the_program(start_master):
    m = start_master(
        f"""
        [programs.leaky]
        command = "{child("sleeper.py")}"
        start_seconds = 0
        restart_schedule = "*/2 * * * * *"
        """
    )
    first = m.wait_state("leaky:0", "RUNNING")["pid"]
    wait_for(
        lambda: (
            m.state("leaky:0")["pid"] not in (None, first)
            and m.state("leaky:0")["state"] == "RUNNING"
        ),
        10,
        "a planned restart",
    )
    assert m.state("leaky:0")["restarts"] == 0  # planned, not a crash


def test_shutdown_stops_runs_and_records_them(master_factory, tmp_path):
    out = tmp_path / "sd.jsonl"
    m = master_factory(
        f"""
        [tasks.sd]
        command = "{probe(out, 30)}"
        schedule = "0 0 1 1 *"
        """
    ).start()
    m.cli("run", "sd")
    pid = wait_for(lambda: task_row(m, "sd")["running"], 10, "a run")[0]["pid"]
    assert m.stop() == 0
    assert not _alive(pid)
    m.start()
    rec = history(m, "sd")[0]
    assert rec["status"] == "stopped" and rec["reason"] == "shutdown"


def test_shutdown_cancels_fires_waiting_out_their_jitter(master_factory, tmp_path):
    out = tmp_path / "jitter.jsonl"
    m = master_factory(
        f"""
        [tasks.late]
        command = "{probe(out, 30)}"
        schedule = "* * * * * *"
        jitter = "20s"
        """
    ).start()
    began = time.time()
    wait_for(lambda: time.time() - began > 2.5, 5, "a few fires to be waiting out their jitter")
    assert m.stop() == 0
    stopped = time.time()
    for lines in probe_runs(out).values():  # a run that did start was stopped with the master
        assert lines[-1]["event"] == "end" and lines[-1]["t"] <= stopped
    assert not [p for p in psutil.process_iter(["environ"]) if _task_of(p) == "late"]


def _task_of(proc: psutil.Process) -> str | None:
    try:
        return (proc.info.get("environ") or {}).get("PROCSUP_TASK")
    except psutil.Error:
        return None
