"""Control handlers driven in-process through their seam: they see the engine only as a
MasterView, so a small fake stands in for the master, and what reaches the engine (or the
error a client gets) is asserted directly. The explicit command table is checked too."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from procsup.control import protocol
from procsup.control.handlers import state
from procsup.control.handlers.base import scale
from procsup.control.handlers.table import COMMANDS
from procsup.control.protocol import ProtocolError
from procsup.engine.names import NotFound, match_tasks, no_match


class FakeView:
    """The part of MasterView that `stop` and `scale` use: two tasks, no instances."""

    def __init__(self) -> None:
        self.stopped: list[list[str]] = []
        self.scaled: list[tuple[str, int]] = []

    def targets(self, names: list[str]) -> tuple[list[Any], list[str]]:
        tasks: list[str] = []
        for name in names:
            matched = match_tasks(["backup", "report"], name, all_tasks=False)
            if not matched:
                raise NotFound(no_match(name))
            tasks += matched
        return [], tasks

    async def stop(self, insts: list[Any]) -> None:
        assert insts == []

    async def stop_task_runs(self, names: list[str]) -> list[Any]:
        self.stopped.append(names)
        return []

    def rows(self, insts: list[Any], stats: bool = False) -> list[dict[str, Any]]:
        return []

    async def scale(self, program: str, numprocs: int) -> Any:
        self.scaled.append((program, numprocs))
        return type("Prog", (), {"numprocs": numprocs})()


def call(handler: Any, view: FakeView, args: dict[str, Any]) -> Any:
    return asyncio.run(handler(view, args, None))


def test_stop_reaches_the_engine_with_resolved_task_names_and_reports_unknown_ones() -> None:
    view = FakeView()
    reply = call(state.stop, view, {"names": ["b*"]})
    assert reply == {"instances": [], "tasks": ["backup"], "runs": []}
    assert view.stopped == [["backup"]]
    with pytest.raises(ProtocolError) as err:
        call(state.stop, view, {"names": ["nope"]})
    assert err.value.code == protocol.NOT_FOUND and "'nope'" in err.value.message
    with pytest.raises(ProtocolError) as err:
        call(state.stop, view, {})
    assert err.value.code == protocol.INVALID


def test_scale_checks_its_arguments_before_the_engine_sees_them() -> None:
    view = FakeView()
    for bad in ({"program": "web", "numprocs": True}, {"program": "web", "numprocs": 10001}):
        with pytest.raises(ProtocolError) as err:
            call(scale, view, bad)
        assert err.value.code == protocol.INVALID
    assert view.scaled == []
    assert call(scale, view, {"program": "web", "numprocs": 3}) == {"program": "web", "numprocs": 3}


def test_the_command_table_names_every_documented_command() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()
    commands = doc.split("\n## Commands", 1)[1].split("\n## ", 1)[0]
    assert set(COMMANDS) == set(re.findall(r"^### `([a-z]+)`", commands, re.MULTILINE))
