"""Task chains (`after`), `pause`/`resume` and the `before` hook on a real master with real runs
(tests/children/task_probe.py writes one JSON line per run step)."""

from __future__ import annotations

import time

from tests.harness import wait_for
from tests.integration.test_tasks import history, probe, probe_runs, task_row, wait_runs


def test_chain_runs_on_ok_and_on_failed(start_master, tmp_path):
    ok_out, fail_out, never_out = (tmp_path / f"{n}.jsonl" for n in ("ok", "fail", "never"))
    m = start_master(
        f"""
        [tasks.good]
        command = "{probe(tmp_path / "good.jsonl", 0)}"
        schedule = "@yearly"
        [tasks.bad]
        command = "{probe(tmp_path / "bad.jsonl", 0, 3)}"
        schedule = "@yearly"
        [tasks.report]
        command = "{probe(ok_out, 0)}"
        schedule = "@yearly"
        after = {{ good = "ok" }}
        [tasks.alert]
        command = "{probe(fail_out, 0)}"
        schedule = "@yearly"
        after = {{ bad = "failed" }}
        [tasks.never]
        command = "{probe(never_out, 0)}"
        schedule = "@yearly"
        after = {{ good = "failed" }}
        """
    )
    good = m.call("run", {"task": "good", "wait": True})["run"]
    report = wait_runs(m, "report", 1)[0]
    assert report["trigger"] == f"after good {good['run_id']}"
    bad = m.call("run", {"task": "bad", "wait": True})["run"]
    assert bad["status"] == "failed"
    alert = wait_runs(m, "alert", 1)[0]
    assert alert["trigger"] == f"after bad {bad['run_id']}"
    assert len(probe_runs(ok_out)) == 1 and len(probe_runs(fail_out)) == 1
    assert not history(m, "never") and not never_out.exists()
    assert task_row(m, "report")["after"] == {"good": "ok"}
    assert "after good ok" in m.cli("tasks").stdout
    assert f"after good {good['run_id']}" in m.cli("history", "report").stdout


def test_chained_run_goes_through_its_own_overlap_rule(start_master, tmp_path):
    m = start_master(
        f"""
        [tasks.feed]
        command = "true"
        schedule = "@yearly"
        overlap = "allow"
        [tasks.slow]
        command = "{probe(tmp_path / "slow.jsonl", 3)}"
        schedule = "@yearly"
        after = {{ feed = "done" }}
        """
    )
    m.call("run", {"task": "feed", "wait": True})
    wait_for(lambda: task_row(m, "slow")["running"], 10, "the chained run")
    m.call("run", {"task": "feed", "wait": True})
    skip = wait_for(
        lambda: [r for r in history(m, "slow") if r["status"] == "skipped"], 10, "a skip"
    )[0]
    assert skip["reason"] == "overlap" and skip["trigger"].startswith("after feed ")


def test_pause_and_resume_survive_a_master_restart(master_factory, tmp_path):
    out = tmp_path / "tick.jsonl"
    m = master_factory(
        f"""
        [tasks.tick]
        command = "{probe(out, 0)}"
        schedule = "* * * * * *"
        """
    )
    m.start()
    wait_runs(m, "tick", 1)
    result = m.cli("pause", "tick")
    assert result.returncode == 0 and "tick: paused" in result.stdout
    assert task_row(m, "tick")["paused"] is True
    paused_since = time.time()
    wait_for(lambda: [r for r in history(m, "tick") if r["reason"] == "paused"], 10, "paused skips")
    assert "paused" in m.cli("tasks").stdout
    assert m.stop() == 0
    m.start()
    assert task_row(m, "tick")["paused"] is True
    wait_for(
        lambda: [r for r in history(m, "tick") if r["reason"] == "paused" and r["count"] >= 2],
        10,
        "paused skips after the restart",
    )
    ran = [r for r in history(m, "tick") if r["status"] == "ok" and r["started"] > paused_since]
    assert not ran
    assert m.cli("resume", "tick").returncode == 0
    assert task_row(m, "tick")["paused"] is False
    wait_for(
        lambda: [
            r
            for r in history(m, "tick")
            if r["status"] == "ok"
            and r["started"] > time.time() - 5
            and r["started"] > paused_since
        ],
        10,
        "a run after resume",
    )
    bad = m.cli("pause", "nope")
    assert bad.returncode != 0 and "nope" in bad.stderr


def test_failing_before_hook_skips_the_run(start_master, tmp_path):
    out, ok_out = tmp_path / "never.jsonl", tmp_path / "ok.jsonl"
    m = start_master(
        f"""
        [tasks.guarded]
        command = "{probe(out, 0)}"
        schedule = "@yearly"
        before = "sh -c 'exit 4'"
        [tasks.checked]
        command = "{probe(ok_out, 0)}"
        schedule = "@yearly"
        before = "true"
        """
    )
    rec = m.call("run", {"task": "guarded", "wait": True})["run"]
    assert rec["status"] == "skipped"
    assert rec["reason"] == "before hook failed: sh exited with 4"
    assert not out.exists()
    assert history(m, "guarded")[0]["reason"] == "before hook failed: sh exited with 4"
    assert m.call("run", {"task": "checked", "wait": True})["run"]["status"] == "ok"
    assert len(probe_runs(ok_out)) == 1
