"""Many tasks due at the same second: their runs are launched in one go, the spawns overlapped
through the spawn helper (Task.launch_now), and each one must still end up in the history
exactly as a lone run would: its true exit code even when the child exits the moment it has
exec'd (before the master has watched it), a spawn error as a failed run of its own task only,
and the overlap lock and the skip rules of each task kept."""

from __future__ import annotations

from pathlib import Path

from procsup.engine.cgroups import subtree_path
from tests.integration.test_tasks import assert_no_overlap, history, probe, wait_runs
from tests.integration.test_tracking import require_cgroups

QUICK = 8  # tasks whose child exits at once with code 3


def config(out: Path) -> str:
    quick = "".join(
        f'[tasks.quick{i}]\ncommand = "sh -c \'exit 3\'"\nschedule = "* * * * * *"\n'
        for i in range(QUICK)
    )
    return f"""
        {quick}
        [tasks.broken]
        command = "/nonexistent/bin/import"
        schedule = "* * * * * *"
        [tasks.slow]
        command = "{probe(out, 1.5)}"
        schedule = "* * * * * *"
        overlap = "skip"
        [tasks.fine]
        command = "true"
        schedule = "* * * * * *"
        overlap = "allow"
        [tasks.off]
        command = "true"
        schedule = "* * * * * *"
        enabled = false
        """


def test_runs_of_one_instant_keep_their_own_outcome(start_master, tmp_path):
    out = tmp_path / "slow.jsonl"
    m = start_master(config(out))
    for i in range(QUICK):
        runs = wait_runs(m, f"quick{i}", 2, status="failed")
        assert all(r["exit_code"] == 3 and r["trigger"] == "schedule" for r in runs), runs
        assert all(r["reason"].startswith("exited with code 3") for r in runs), runs
        assert all(r["scheduled"] == int(r["scheduled"]) for r in runs), runs
    failed = wait_runs(m, "broken", 2, status="failed")
    assert failed[0]["reason"] == (
        "could not start: No such file or directory: /nonexistent/bin/import"
    )
    assert all(r["exit_code"] is None for r in failed)
    wait_runs(m, "fine", 3)
    wait_runs(m, "slow", 2, timeout=20)
    skipped = [r for r in history(m, "slow") if r["status"] == "skipped"]
    assert skipped and all(r["reason"] == "overlap" for r in skipped)
    assert_no_overlap(out)
    assert [r["reason"] for r in history(m, "off")] == ["disabled"]
    # every run of the instant was recorded once: no run id twice, none left running
    ids = [r["run_id"] for r in history(m, limit=1000)]
    assert len(ids) == len(set(ids))


def test_a_killed_runs_leaf_is_never_cloned_into_again(start_master, tmp_path):
    """A run's leaf is kept for the task's next run only when it is empty and was never
    cgroup.kill'ed (a clone into a killed cgroup is killed at birth): a run that ignores
    SIGTERM past its timeout is killed that way, and every later run still runs its course
    (a timeout again, not a death at birth); a task whose runs just end keeps one leaf."""
    require_cgroups()
    m = start_master(
        """
        [tasks.stubborn]
        command = "sh -c 'trap \\"\\" TERM; echo up; sleep 5'"
        schedule = "* * * * * *"
        timeout = "0.4s"
        stop_timeout = "0.2s"
        [tasks.quick]
        command = "true"
        schedule = "* * * * * *"
        """
    )
    runs = wait_runs(m, "stubborn", 3, status="timeout", timeout=20)
    assert all(r["reason"] == "ran longer than 0.4s" for r in runs), runs
    assert all(r["duration"] >= 0.4 for r in runs), runs
    assert not [r for r in history(m, "stubborn") if r["status"] == "failed"]
    wait_runs(m, "quick", 3)
    subtree = Path(subtree_path(str(m.root / "run")))
    # the quick task's spare, and at most one of each task in use or being removed
    assert len([p for p in subtree.iterdir() if p.is_dir()]) <= 4
    logs = m.call("logs", {"names": ["stubborn"], "lines": 50})["lines"]
    assert sum(item["line"] == "up" for item in logs) >= 3
