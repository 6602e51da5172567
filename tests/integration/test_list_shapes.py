"""`procsup list` and `list --json` read the master's `columns` reply (control/rowjson.py) and
show what the full rows say: `--json` is exactly json.dumps(rows, indent=2) of the rows `list`
returns, run-time overrides (nested in the rows) included."""

from __future__ import annotations

import json

from tests.harness import child


def _rows_now(m, names=()):  # the protocol's own rows, with stats, without the shapes
    return m.call("list", {"names": list(names), "stats": True})["instances"]


def test_list_json_prints_the_rows_of_list_laid_out_by_json(start_master):
    m = start_master(f"""
        [programs.web]
        command = "{child("sleeper.py")}"
        numprocs = 2
        start_seconds = 0
        [programs.idle]
        command = "{child("sleeper.py")}"
        autostart = false
    """)
    m.wait_state("web:1", "RUNNING")
    assert m.cli("scale", "web", "3").returncode == 0  # rows with a nested override
    m.wait_state("web:2", "RUNNING")

    out = m.cli("list", "--json")
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    assert out.stdout == json.dumps(printed, indent=2) + "\n"  # json's own layout, to the byte
    rows = _rows_now(m)
    assert [list(r) for r in printed] == [list(r) for r in rows]  # every key, in order
    # the same rows but for what moves between two calls
    moving = ("uptime", "cpu", "rss")
    still = [{k: v for k, v in r.items() if k not in moving} for r in rows]
    assert [{k: v for k, v in r.items() if k not in moving} for r in printed] == still
    scaled = {r["name"]: r["overrides"] for r in printed}
    assert scaled["web:2"] and scaled["web:2"][0]["kind"] == "scaled"
    assert scaled["idle:0"] == []

    one = m.cli("list", "--json", "idle")
    assert json.loads(one.stdout)[0]["name"] == "idle:0" and len(json.loads(one.stdout)) == 1


def test_list_table_from_columns_shows_every_instance(start_master):
    m = start_master(f"""
        [programs.web]
        command = "{child("sleeper.py")}"
        numprocs = 2
        start_seconds = 0
    """)
    m.wait_state("web:1", "RUNNING")
    shaped = m.call("list", {"stats": True, "columns": True})
    assert "instances" not in shaped and shaped["columns"][0] == "name"
    assert [r[0] for r in shaped["rows"]] == ["web:0", "web:1"]
    table = m.cli("list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "STATE", "PID"]
    pids = {r["name"]: r["pid"] for r in _rows_now(m)}
    assert [line.split()[:3] for line in lines[1:3]] == [
        ["web:0", "RUNNING", str(pids["web:0"])],
        ["web:1", "RUNNING", str(pids["web:1"])],
    ]
