"""`procsup describe` / `show`: the effective config with file:line or "default", instances
from the master, log files, a task's next five fire times; the config part with no master."""

from __future__ import annotations

import re

from tests.harness import child


def test_describe_a_program_with_and_without_a_master(master_factory):
    m = master_factory(
        f"""
        [programs.web]
        command = "{child("sleeper.py")}"
        numprocs = 2
        stop_timeout = "5s"
        """
    )
    offline = m.cli("describe", "web")
    assert offline.returncode == 0, offline.stderr
    assert re.search(rf"stop_timeout\s+5s\s+{m.config}:5$", offline.stdout, re.MULTILINE)
    assert re.search(r"^  restart_delay\s+1s\s+default$", offline.stdout, re.MULTILINE)
    assert "no master is running" in offline.stderr
    m.start()
    m.wait_state("web:1", "RUNNING")
    online = m.cli("show", "web:1")
    assert online.returncode == 0, online.stderr
    assert re.search(r"^  web:1\s+RUNNING\s+pid \d+", online.stdout, re.MULTILINE)
    assert "web:0 " not in online.stdout
    assert f"{m.root}/logs/web-1.out.log" in online.stdout
    missing = m.cli("describe", "nope")
    assert missing.returncode == 2 and "known: web" in missing.stderr


def test_describe_a_task_shows_its_next_five_runs_in_its_zone(master_factory):
    m = master_factory(
        """
        [tasks.report]
        command = "true"
        schedule = "30 4 * * *"
        timezone = "Asia/Shanghai"
        """
    )
    result = m.cli("describe", "report")
    assert result.returncode == 0, result.stderr
    runs = re.findall(r"^  (\S+T04:30:00\+08:00)$", result.stdout, re.MULTILINE)
    assert len(runs) == 5 and "next runs (Asia/Shanghai):" in result.stdout
