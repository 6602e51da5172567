"""core/schema.py and docs/protocol.md describe the same wire: every documented key of each row
and event is in the schema, and every schema key is documented. A field added to one and not
the other fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from procsup.core import schema

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
BASE = {"type", "name", "time"}


def section(heading: str) -> str:
    """The text from `heading` to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = DOC.index(heading + "\n")
    rest = DOC[start + len(heading) + 1 :]
    end = re.search(rf"^#{{1,{len(level)}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def tables(text: str) -> list[list[list[str]]]:
    """The markdown tables of `text`, each as rows of cells (header and rule left out)."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        line = line.strip()
        if line.startswith("|"):
            current.append([c.strip() for c in line.strip("|").split("|")])
        elif current:
            found.append(current[2:])
            current = []
    return found


def keys(cell: str) -> set[str]:
    """`cpu`, `rss` -> {"cpu", "rss"}; words in parentheses are notes, not keys."""
    return set(re.findall(r"`([a-z_]+)`", re.sub(r"\(.*?\)", "", cell)))


def first_column(table: list[list[str]]) -> set[str]:
    return set().union(*(keys(row[0]) for row in table))


@pytest.mark.parametrize(
    ("heading", "which", "schema_type"),
    [
        ("### Instance row", 0, schema.InstanceRow),
        ("### Instance row", 1, schema.Override),
        ("### Task row", 0, schema.TaskRow),
        ("### Run record", 0, schema.RunRow),
        ("### `hello`", 0, schema.MasterInfo),
    ],
)
def test_documented_objects_match_the_schema(heading: str, which: int, schema_type: type) -> None:
    documented = first_column(tables(section(heading))[which])
    assert documented == schema.fields(schema_type)


def test_running_runs_and_log_status_match_the_schema() -> None:
    task = {row[0]: row[2] for row in tables(section("### Task row"))[0]}
    running = set(re.findall(r'"([a-z_]+)"', task["`running`"]))
    assert running == schema.fields(schema.RunningRun)
    row = first_column(tables(section("### Instance row"))[0])
    assert schema.fields(schema.LogStatus) <= row


def test_exit_keys_match_the_schema() -> None:
    events = section("## Events")
    exit_table = next(t for t in tables(events) if "reason" in first_column(t))
    assert first_column(exit_table) == schema.fields(schema.ExitFacts)
    assert schema.fields(schema.ExitFacts) <= schema.fields(schema.StateEvent)


def test_every_event_type_is_documented_with_its_keys() -> None:
    events = section("## Events")
    table = next(t for t in tables(events) if "state" in keys(t[0][0]))
    documented = {next(iter(keys(row[0]))): keys(row[1]) for row in table}
    assert set(documented) == set(schema.EVENT_TYPES)
    for name, schema_type in schema.EVENT_TYPES.items():
        besides = schema.fields(schema_type) - BASE
        assert documented[name] == besides, name
    base = first_column(tables(events)[0])
    assert base == BASE


def test_the_state_extra_keys_are_state_event_keys() -> None:
    events = section("## Events")
    extra = next(t for t in tables(events) if any("RUNNING" in row[0] for row in t))
    named = set().union(*(keys(row[1]) for row in extra)) - {"row"}
    assert named <= schema.fields(schema.StateEvent)


def test_builders_refuse_a_field_the_schema_does_not_have() -> None:
    with pytest.raises(KeyError, match="last_exit_code"):
        schema.instance_row("web:0", "RUNNING", last_exit_code=1)
    with pytest.raises(KeyError, match="exitcode"):
        schema.run_row("report", "r1", "ok", exitcode=0)
    row = schema.instance_row("web:0", "RUNNING", pid=7)
    assert set(row) == schema.InstanceRow.__required_keys__ and row["pid"] == 7
