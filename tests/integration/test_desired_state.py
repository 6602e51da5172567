"""Run-time desired state against the config file, with real masters: what the user stopped,
started, scaled or added is kept across reloads and restarts, shown in `list`, reported by
`reload`, and dropped by `reload --reset`. Also `procsup stop TASK`."""

from __future__ import annotations

import json
import sys

from tests.harness import MasterProc, child, wait_for

SLEEPER = child("sleeper.py")
CONFIG = f"""
    [programs.worker]
    command = "{SLEEPER}"
    numprocs = 2
    start_seconds = 0
    [programs.api]
    command = "{SLEEPER}"
    numprocs = 2
    start_seconds = 0
    [programs.manual]
    command = "{SLEEPER}"
    autostart = false
    start_seconds = 0
"""


def ok(m: MasterProc, *args: str) -> str:
    result = m.cli(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def overrides(m: MasterProc) -> dict[str, list[str]]:
    rows = json.loads(ok(m, "list", "--json"))
    return {r["name"]: [o["text"] for o in r["overrides"]] for r in rows}


def states(m: MasterProc) -> dict[str, str]:
    return {name: row["state"] for name, row in m.instances().items()}


def test_kept_changes_are_shown_and_reset_applies_the_file(start_master) -> None:
    m = start_master(CONFIG)
    m.wait_state("api:1", "RUNNING")
    ok(m, "scale", "worker", "4")
    ok(m, "stop", "api:1")
    ok(m, "start", "manual")
    ok(m, "start", "-n", "extra", "--", sys.executable, SLEEPER.split()[-1])

    rows = {r["name"]: r for r in json.loads(ok(m, "list", "--json"))}
    scaled = {"kind": "scaled", "numprocs": 4, "file_numprocs": 2}
    assert scaled.items() <= rows["worker:3"]["overrides"][0].items()
    assert rows["api:1"]["overrides"][0]["kind"] == "stopped"
    assert rows["api:1"]["overrides"][0]["at"] is not None
    assert rows["api:0"]["overrides"] == []
    assert rows["manual:0"]["overrides"][0]["kind"] == "started"
    assert rows["extra:0"]["overrides"][0]["kind"] == "adhoc"

    table = ok(m, "list")
    api1 = next(line for line in table.splitlines() if line.startswith("api:1"))
    assert "stopped by you" in api1
    assert "worker: scaled to 4, file says 2" in table
    assert "extra: added by you" in table and "not in the file" in table
    assert "reload --reset" in table

    out = ok(m, "reload")  # the file did not change: it says what it kept
    assert "nothing changed in the config file" in out
    assert "kept: " in out and "worker scaled to 4 (file says 2)" in out
    assert "api:1 stopped by you" in out and "manual started by you" in out
    assert "extra added by you" in out
    assert len([n for n in states(m) if n.startswith("worker:")]) == 4

    out = ok(m, "reload", "--reset")
    assert "undone by --reset: " in out and "worker scaled to 4 (file says 2)" in out
    wait_for(lambda: m.state("api:1")["state"] == "RUNNING", 10, "api:1 to start again")
    wait_for(lambda: m.state("manual:0")["state"] == "STOPPED", 10, "manual:0 to stop")
    now = states(m)
    assert sorted(now) == ["api:0", "api:1", "manual:0", "worker:0", "worker:1"]
    assert all(v == [] for v in overrides(m).values())
    out = ok(m, "reload")
    assert "kept" not in out and "reload --reset" not in ok(m, "list")


def test_stop_all_survives_a_restart_visibly_until_reset(start_master) -> None:
    m = start_master(CONFIG)
    m.wait_state("worker:1", "RUNNING")
    ok(m, "stop", "all")
    assert m.stop() == 0
    m.start()
    assert set(states(m).values()) == {"STOPPED"}  # kept: what the user did
    marks = overrides(m)
    assert all(marks[n][0].startswith("stopped by you") for n in ("worker:0", "api:1"))
    assert marks["manual:0"] == []  # the file does not start it either
    out = ok(m, "reload")
    assert "kept: " in out and "worker stopped by you" in out and "api stopped by you" in out
    ok(m, "reload", "--reset")
    for name in ("worker:0", "worker:1", "api:0", "api:1"):
        m.wait_state(name, "RUNNING")
    assert m.state("manual:0")["state"] == "STOPPED"


def test_a_changed_program_keeps_its_run_time_numprocs(start_master) -> None:
    m = start_master(CONFIG)
    m.wait_state("worker:1", "RUNNING")
    ok(m, "scale", "worker", "3")
    m.write_config(CONFIG.replace("numprocs = 2\n", 'numprocs = 2\n    environment = {X="1"}\n', 1))
    out = ok(m, "reload")
    assert "changed: worker" in out and "worker scaled to 3 (file says 2)" in out
    wait_for(lambda: m.state("worker:2")["state"] == "RUNNING", 10, "worker:2 to run")

    m.write_config(CONFIG.replace("numprocs = 2", "numprocs = 5", 1))  # the file's new count wins
    out = ok(m, "reload")
    assert "kept" not in out
    wait_for(lambda: m.state("worker:4")["state"] == "RUNNING", 10, "worker:4 to run")
    assert len([n for n in states(m) if n.startswith("worker:")]) == 5
    assert overrides(m)["worker:0"] == []


def test_stop_task_stops_its_run_and_nothing_else(start_master) -> None:
    m = start_master(f"""
        [programs.worker]
        command = "{SLEEPER}"
        start_seconds = 0
        [tasks.report]
        command = ["sh", "-c", "echo working; sleep 30"]
        schedule = "0 0 1 1 *"
    """)
    worker = m.wait_state("worker:0", "RUNNING")
    ok(m, "run", "report")
    running = wait_for(lambda: m.call("tasks")["tasks"][0]["running"], 10, "the run")
    out = ok(m, "stop", "report")
    assert f"report: run {running[0]['run_id']} stopped: by user" in out
    assert m.call("tasks")["tasks"][0]["running"] == []
    runs = m.call("history", {"task": "report"})["runs"]
    assert runs[0]["status"] == "stopped" and runs[0]["reason"] == "by user"
    assert m.state("worker:0")["pid"] == worker["pid"]  # the instance is untouched
    assert "report: no run in progress" in ok(m, "stop", "report")
    missing = m.cli("stop", "nope")
    assert missing.returncode == 1 and "no program, instance or task" in missing.stderr
