"""The master as a whole: reload, signals, shutdown, crash safety, persisted desired state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

from tests.harness import child, wait_for

TWO = f"""
    [programs.keep]
    command = "{child("sleeper.py")}"
    start_seconds = 0
    [programs.change]
    command = "{child("sleeper.py")}"
    start_seconds = 0
    [programs.drop]
    command = "{child("sleeper.py")}"
    start_seconds = 0
    [programs.grow]
    command = "{child("sleeper.py")}"
    numprocs = 2
    start_seconds = 0
"""

AFTER = f"""
    [programs.keep]
    command = "{child("sleeper.py")}"
    start_seconds = 0
    [programs.change]
    command = "{child("sleeper.py")}"
    start_seconds = 0
    environment = {{ COLOUR = "blue" }}
    [programs.grow]
    command = "{child("sleeper.py")}"
    numprocs = 3
    start_seconds = 0
    [programs.fresh]
    command = "{child("sleeper.py")}"
    start_seconds = 0
"""


def _pids(m) -> dict[str, int]:
    return {n: r["pid"] for n, r in m.instances().items()}


def _alive(proc: psutil.Process) -> bool:
    """Whether `proc` still runs: not exited, not a zombie, its pid not reused by another
    process. Free of the race where it exits between two questions."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _all_running(m, names) -> bool:
    rows = m.instances()
    return all(n in rows and rows[n]["state"] == "RUNNING" for n in names)


@pytest.mark.parametrize("how", ["cli", "sighup"])
def test_reload_applies_only_the_difference(start_master, how):
    m = start_master(TWO)
    wait_for(lambda: _all_running(m, ["keep:0", "change:0", "drop:0", "grow:0", "grow:1"]), 10)
    before = _pids(m)
    dropped = psutil.Process(before["drop:0"])  # remembers its start time: a reused pid is not it
    m.write_config(AFTER)
    if how == "cli":
        result = m.cli("reload")
        assert result.returncode == 0, result.stderr
        assert "added: fresh" in result.stdout and "removed: drop" in result.stdout
    else:
        m.proc.send_signal(signal.SIGHUP)
    expected = ["keep:0", "change:0", "grow:0", "grow:1", "grow:2", "fresh:0"]
    wait_for(lambda: _all_running(m, expected), 10, "the new set to run")
    after = _pids(m)
    assert set(after) == set(expected)
    assert after["keep:0"] == before["keep:0"]
    assert after["grow:0"] == before["grow:0"] and after["grow:1"] == before["grow:1"]
    assert after["change:0"] != before["change:0"]
    assert psutil.Process(after["change:0"]).environ()["COLOUR"] == "blue"
    wait_for(lambda: not _alive(dropped), 10, "drop:0 to be stopped")


def test_broken_config_is_rejected_whole_and_nothing_changes(start_master):
    m = start_master(TWO)
    wait_for(lambda: _all_running(m, ["keep:0", "drop:0"]), 10)
    before = _pids(m)
    m.write_config(
        AFTER
        + """
    [programs.broken]
    command = "x"
    numprocs = -1
    autorestart = "sometimes"
    stop_signal = "NOPE"
    """
    )
    result = m.cli("reload")
    assert result.returncode == 2
    for needle in (
        "programs.broken.numprocs",
        "programs.broken.autorestart",
        "programs.broken.stop_signal",
        str(m.config),
    ):
        assert needle in result.stderr, result.stderr
    assert _pids(m) == before
    m.proc.send_signal(signal.SIGHUP)  # the same through SIGHUP: logged, master carries on
    wait_for(lambda: "reload rejected" in m.log(), 5, "the rejection in the log")
    assert _pids(m) == before and m.call("hello")


def test_sigterm_stops_everything_and_exits_0(start_master):
    m = start_master(f"""
        [programs.esc]
        command = "{child("escaper.py", "{num}.pid")}"
        directory = "."
        numprocs = 2
        start_seconds = 0
        stop_timeout = "1s"
        [programs.worker]
        command = "{child("sleeper.py")}"
        numprocs = 3
        start_seconds = 0
    """)
    wait_for(lambda: (m.root / "1.pid").exists() and (m.root / "0.pid").exists(), 10)
    assert len(m.marked_processes()) == 7  # 2 leaders + 2 escaped grandchildren + 3 workers
    assert m.stop(timeout=20) == 0
    assert m.marked_processes() == []
    assert not os.path.exists(m.socket)


def test_hundreds_of_children_exiting_at_once_do_not_flood_the_master(start_master):
    # 800 SIGCHLDs at once overflow asyncio's signal self-pipe (about 280 bytes); CPython's
    # report of each lost byte once spun a master at 100% CPU in the middle of a shutdown.
    m = start_master("""
        [programs.many]
        command = "sleep 3600"
        numprocs = 800
        start_seconds = 0
        stop_timeout = "5s"
    """)
    wait_for(lambda: _all_running(m, [f"many:{n}" for n in range(800)]), 30, "800 running")
    assert m.stop(timeout=30) == 0
    assert m.marked_processes() == []
    assert "signal wakeup fd" not in m.log()


def test_second_master_on_the_same_state_dir_is_refused(start_master):
    m = start_master(f"""
        [programs.worker]
        command = "{child("sleeper.py")}"
    """)
    second = subprocess.run(
        [sys.executable, "-m", "procsup", "-c", str(m.config), "daemon", "-f"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 1
    assert "another procsup master" in second.stderr
    assert m.call("hello")["pid"] == m.proc.pid


def test_kill9_of_the_master_never_leaves_two_copies(start_master):
    m = start_master(f"""
        [programs.worker]
        command = "{child("sleeper.py")}"
        numprocs = 3
        start_seconds = 0
        [programs.esc]
        command = "{child("escaper.py", "{num}.pid")}"
        directory = "."
        start_seconds = 0
        stop_timeout = "1s"
    """)
    wait_for(lambda: _all_running(m, ["worker:0", "worker:1", "worker:2", "esc:0"]), 10)
    wait_for((m.root / "0.pid").exists, 10)
    old = m.marked_processes()
    assert len(old) == 5
    m.kill9()
    m.start()
    wait_for(lambda: _all_running(m, ["worker:0", "worker:1", "worker:2", "esc:0"]), 20)
    wait_for(
        lambda: not any(_alive(p) for p in old),
        15,
        "the old copies to go",
    )
    names = [
        p.environ().get("PROCSUP_PROCESS_NAME")
        for p in m.marked_processes()
        if p.pid in {r["pid"] for r in m.instances().values()}
    ]
    assert sorted(names) == ["esc:0", "worker:0", "worker:1", "worker:2"]


def test_desired_state_survives_a_master_restart(start_master):
    m = start_master(f"""
        [programs.worker]
        command = "{child("sleeper.py")}"
        numprocs = 2
        start_seconds = 0
        [programs.manual]
        command = "{child("sleeper.py")}"
        autostart = false
        start_seconds = 0
    """)
    m.wait_state("worker:1", "RUNNING")
    assert m.cli("stop", "worker:1").returncode == 0
    assert m.cli("start", "manual").returncode == 0
    assert m.cli("scale", "worker", "3").returncode == 0
    added = m.cli("start", "-n", "extra", "--", sys.executable, child("sleeper.py").split()[-1])
    assert added.returncode == 0, added.stderr
    m.wait_state("extra:0", "RUNNING")
    assert m.stop() == 0
    m.start()
    m.wait_state("worker:0", "RUNNING")
    m.wait_state("worker:2", "RUNNING")
    m.wait_state("manual:0", "RUNNING")
    m.wait_state("extra:0", "RUNNING")
    assert m.state("worker:1")["state"] == "STOPPED"


def test_save_writes_the_running_set_into_the_config(start_master):
    m = start_master(f"""
        [programs.worker]
        command = "{child("sleeper.py")}"
        start_seconds = 0
    """)
    assert m.cli("scale", "worker", "2").returncode == 0
    assert (
        m.cli(
            "start", "-n", "extra", "--numprocs", "2", "--", *child("sleeper.py").split()
        ).returncode
        == 0
    )
    result = m.cli("save")
    assert result.returncode == 0, result.stderr
    import tomllib

    doc = tomllib.loads(m.config.read_text())
    assert doc["programs"]["worker"]["numprocs"] == 2
    assert doc["programs"]["extra"]["numprocs"] == 2
    assert (m.root / "procsup.toml.bak").exists()
    assert m.cli("check").returncode == 0
    before = _pids(m)
    assert m.cli("reload").returncode == 0  # the saved file is what runs: nothing restarts
    assert _pids(m) == before
