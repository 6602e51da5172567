"""depends_on between programs and after between tasks: unknown names and cycles are config
errors with their key path; start_order gives the waves the engine starts in."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from procsup.config.load import ConfigError, ConfigIssue, load_config
from procsup.config.order import start_order
from procsup.tasks.chains import chain_meets


def issues_of(tmp_path: Path, text: str) -> dict[str, ConfigIssue]:
    path = tmp_path / "procsup.toml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return {issue.key: issue for issue in info.value.issues}


def test_depends_on_unknown_name_and_cycle(tmp_path: Path) -> None:
    issues = issues_of(
        tmp_path,
        """
        [programs.web]
        command = "sleep 1"
        depends_on = { db = "ready", cache = "started" }
        [programs.db]
        command = "sleep 1"
        depends_on = { web = "started" }
        """,
    )
    assert "no program named 'cache'" in issues["programs.web.depends_on.cache"].message
    cycle = [i for i in issues.values() if "a cycle" in i.message]
    assert len(cycle) == 1
    assert "web -> db -> web" in cycle[0].message or "db -> web -> db" in cycle[0].message


def test_depends_on_bad_condition(tmp_path: Path) -> None:
    issues = issues_of(
        tmp_path,
        """
        [programs.web]
        command = "sleep 1"
        depends_on = { db = "up" }
        [programs.db]
        command = "sleep 1"
        """,
    )
    assert '"ready", "started", "completed"' in issues["programs.web.depends_on"].message


def test_task_chain_cycle_and_unknown(tmp_path: Path) -> None:
    issues = issues_of(
        tmp_path,
        """
        [tasks.a]
        command = "true"
        schedule = "@daily"
        after = { b = "ok", nope = "done" }
        [tasks.b]
        command = "true"
        schedule = "@daily"
        after = { a = "failed" }
        """,
    )
    assert "no task named 'nope'" in issues["tasks.a.after.nope"].message
    assert any("a cycle" in i.message and i.key.startswith("tasks.") for i in issues.values())


def test_valid_graph_loads(tmp_path: Path) -> None:
    path = tmp_path / "procsup.toml"
    path.write_text(
        textwrap.dedent(
            """
            [programs.web]
            command = "sleep 1"
            depends_on = { db = "ready", migrate = "completed" }
            [programs.db]
            command = "sleep 1"
            [programs.migrate]
            command = "true"
            autorestart = "never"
            depends_on = { db = "started" }
            [tasks.import]
            command = "true"
            schedule = "@daily"
            [tasks.report]
            command = "true"
            schedule = "@daily"
            after = { import = "ok" }
            before = "test -d /"
            """
        )
    )
    config = load_config(path)
    assert config.programs["web"].depends_on == {"db": "ready", "migrate": "completed"}
    assert config.tasks["report"].after == {"import": "ok"}
    assert config.tasks["report"].before == ("test", "-d", "/")


def test_start_order_waves() -> None:
    edges = {"web": {"db": "ready", "cache": "started"}, "db": {}, "cache": {}, "cron": {}}
    assert start_order(edges) == [["cache", "cron", "db"], ["web"]]


@pytest.mark.parametrize(
    ("condition", "status", "runs"),
    [
        ("ok", "ok", True),
        ("ok", "failed", False),
        ("failed", "failed", True),
        ("failed", "timeout", True),
        ("failed", "ok", False),
        ("done", "ok", True),
        ("done", "lock-lost", True),
        ("done", "skipped", False),
        ("done", "stopped", False),
        (None, "ok", False),
    ],
)
def test_chain_conditions(condition: str | None, status: str, runs: bool) -> None:
    assert chain_meets(condition, status) is runs
