"""`depends_on` on a real master: programs start in dependency order (the children write the
time they started and stopped), stop in reverse, and a start held back shows what it waits for."""

from __future__ import annotations

from pathlib import Path

from tests.harness import child, wait_for


def stamps(path: Path) -> dict[tuple[str, str], float]:
    """(what, instance) -> time, from the lines the children wrote."""
    found: dict[tuple[str, str], float] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            what, name, at = line.split()
            found[(what, name)] = float(at)
    return found


def stamps_if(path: Path, n: int) -> dict[tuple[str, str], float] | None:
    """The stamps once there are `n` of them."""
    found = stamps(path)
    return found if len(found) == n else None


def test_start_in_dependency_order_and_stop_in_reverse(master_factory, tmp_path):
    out = tmp_path / "stamps"
    m = master_factory(
        f"""
        [programs.db]
        command = "{child("stamp.py", str(out))}"
        start_seconds = 1
        [programs.migrate]
        command = "{child("stamp.py", str(out), "0")}"
        autorestart = "never"
        start_seconds = 0
        depends_on = {{ db = "started" }}
        [programs.cache]
        command = "{child("stamp.py", str(out))}"
        start_seconds = 0.6
        [programs.web]
        command = "{child("stamp.py", str(out))}"
        numprocs = 2
        start_seconds = 0
        depends_on = {{ db = "ready", migrate = "completed", cache = "started" }}
        """
    )
    m.start()
    for inst in ("web:0", "web:1"):
        m.wait_state(inst, "RUNNING")
    t = wait_for(lambda: stamps_if(out, 5), 10, "five starts")
    assert m.state("migrate:0")["state"] == "EXITED"
    # margins well inside start_seconds: the children's own interpreter start-up varies
    assert t[("start", "migrate:0")] >= t[("start", "db:0")] + 0.7  # after db's start_seconds
    for web in ("web:0", "web:1"):
        assert t[("start", web)] >= t[("start", "migrate:0")]
        assert t[("start", web)] >= t[("start", "cache:0")] + 0.4
        assert t[("start", web)] >= t[("start", "db:0")] + 0.7
    assert abs(t[("start", "cache:0")] - t[("start", "db:0")]) < 0.5  # independent: together
    assert m.stop() == 0
    t = stamps(out)
    for web in ("web:0", "web:1"):
        assert t[("stop", web)] < t[("stop", "db:0")]
        assert t[("stop", web)] < t[("stop", "cache:0")]


def test_stop_all_goes_in_reverse_order(start_master, tmp_path):
    out = tmp_path / "stamps"
    m = start_master(
        f"""
        [programs.db]
        command = "{child("stamp.py", str(out))}"
        start_seconds = 0
        [programs.web]
        command = "{child("stamp.py", str(out))}"
        start_seconds = 0
        depends_on = {{ db = "started" }}
        """
    )
    wait_for(lambda: ("start", "web:0") in stamps(out), 10, "web started")
    assert m.cli("stop", "all").returncode == 0
    t = stamps(out)
    assert t[("stop", "web:0")] < t[("stop", "db:0")]


def test_unmet_dependency_shows_what_it_waits_for(start_master, tmp_path):
    out = tmp_path / "stamps"
    m = start_master(
        f"""
        [programs.db]
        command = "{child("stamp.py", str(out))}"
        autostart = false
        start_seconds = 1  # ready a second after its spawn: its own stamp is written by then
        [programs.web]
        command = "{child("stamp.py", str(out))}"
        start_seconds = 0
        depends_on = {{ db = "ready" }}
        """
    )
    row = wait_for(lambda: m.state("web:0")["waiting"], 10, "web waiting")
    assert row == "waiting for db (ready)"
    assert m.state("web:0")["state"] == "STOPPED" and m.state("web:0")["pid"] is None
    listing = m.cli("list").stdout
    assert "waiting for db (ready)" in listing
    held = m.cli("start", "web")
    assert held.returncode == 1 and "web:0: STOPPED, waiting for db (ready)" in held.stdout
    assert m.cli("start", "db").returncode == 0
    m.wait_state("web:0", "RUNNING")
    assert m.state("web:0")["waiting"] is None
    t = wait_for(lambda: stamps_if(out, 2), 10, "two starts")
    assert t[("start", "web:0")] >= t[("start", "db:0")]


def test_cycle_and_unknown_name_are_config_errors(master_factory, tmp_path):
    m = master_factory(
        """
        [programs.a]
        command = "sleep 60"
        depends_on = { b = "started" }
        [programs.b]
        command = "sleep 60"
        depends_on = { a = "ready", nope = "completed" }
        """
    )
    result = m.cli("check")
    assert result.returncode == 2
    assert (
        "programs.b.depends_on.nope" in result.stderr and "no program named 'nope'" in result.stderr
    )
    assert "a cycle" in result.stderr


def test_start_waits_for_an_instance_its_dependency_releases(start_master):
    m = start_master(
        """
        [programs.db]
        command = "sleep 60"
        autostart = false
        start_seconds = 0.5
        [programs.web]
        command = "sleep 60"
        autostart = false
        start_seconds = 0.5
        depends_on = { db = "started" }
        """
    )
    result = m.cli("start", "db", "web")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "web:0: RUNNING" in result.stdout  # not STARTING: released by db, then waited for
