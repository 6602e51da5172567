"""Task runs spawned through the launcher's helper (procsup/tasks/launcher.py, zygote.py) under
cgroup tracking: each run is still the master's own child in its own leaf, a run that exits at
once is recorded, the runs go on when the helper is killed, and the helper does not outlive a
killed master. A real master as root; without writable cgroups these skip (fail in CI)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil

from tests.harness import MasterProc, wait_for
from tests.integration.test_tasks import history, wait_runs
from tests.integration.test_tracking import require_cgroups


def helper(m: MasterProc) -> psutil.Process | None:
    assert m.proc is not None
    for proc in psutil.Process(m.proc.pid).children():
        try:
            if any(part.endswith("zygote.py") for part in proc.cmdline()):
                return proc
        except psutil.NoSuchProcess:
            continue
    return None


def ok_runs(m: MasterProc) -> list[dict[str, object]]:
    return [r for r in history(m, "where") if r["status"] == "ok"]


def reporting_task(out: Path, schedule: str = "@every 0.3s") -> str:
    line = 'echo "$PPID $(grep ^0:: /proc/self/cgroup)" >> ' + str(out)
    return f"""
        [tasks.where]
        command = ["bash", "-c", '{line}']
        schedule = "{schedule}"
        """


def test_a_run_is_the_masters_child_in_its_own_leaf(start_master, tmp_path: Path) -> None:
    require_cgroups()
    out = tmp_path / "where.txt"
    m = start_master(reporting_task(out))
    assert m.proc is not None
    wait_for(lambda: helper(m), 10, "the launcher's helper")
    wait_runs(m, "where", 3)
    lines = [line.split(" ", 1) for line in out.read_text().splitlines()]
    leaves = {cgroup.rsplit("/", 1)[-1].strip() for _, cgroup in lines}
    assert {int(ppid) for ppid, _ in lines} == {m.proc.pid}  # reaped by the master itself
    assert all(leaf.startswith("task-") for leaf in leaves), leaves
    assert len(leaves) == len(lines)  # a leaf per run


def test_runs_that_exit_at_once_are_all_recorded(start_master) -> None:
    require_cgroups()
    m = start_master(
        """
        [tasks.quick]
        command = "true"
        schedule = "@every 0.1s"
        [tasks.fails]
        command = ["sh", "-c", "exit 3"]
        schedule = "@every 0.1s"
        """
    )
    wait_runs(m, "quick", 20)
    failed = wait_runs(m, "fails", 20, status="failed")
    assert {r["exit_code"] for r in failed} == {3}
    assert not [r for r in history(m, "quick") if r["status"] not in ("ok", "running")]


def test_runs_go_on_when_the_helper_is_killed(start_master, tmp_path: Path) -> None:
    require_cgroups()
    out = tmp_path / "where.txt"
    m = start_master(reporting_task(out, "@every 0.2s"))
    first = wait_for(lambda: helper(m), 10, "the launcher's helper")
    wait_runs(m, "where", 2)
    os.kill(first.pid, signal.SIGKILL)
    wait_for(lambda: not first.is_running(), 5, "the helper to die")
    before = len(ok_runs(m))
    wait_for(lambda: len(ok_runs(m)) >= before + 5, 15, "5 more ok runs")
    again = wait_for(lambda: helper(m), 10, "a new helper")
    assert again.pid != first.pid
    assert "helper exited" in m.log()
    assert not [r for r in history(m, "where") if r["status"] == "failed"]


def test_the_helper_does_not_outlive_a_killed_master(start_master) -> None:
    require_cgroups()
    m = start_master(
        """
        [tasks.t]
        command = "true"
        schedule = "@every 0.5s"
        """
    )
    zygote = wait_for(lambda: helper(m), 10, "the launcher's helper")
    m.kill9()
    wait_for(lambda: not zygote.is_running() or zygote.status() == "zombie", 5, "it to go")
