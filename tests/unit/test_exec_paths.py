"""Where a spawned child tries exec (cgspawn.exec_paths): the PATH of its own environment, from
the first entry that is there on, so its exec errors read as Popen's."""

from __future__ import annotations

import os
from pathlib import Path

from procsup.engine.cgspawn import exec_paths


def _tool(folder: Path, name: str = "tool") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_starts_at_the_first_entry_that_is_there(tmp_path: Path):
    empty, first, second = tmp_path / "empty", tmp_path / "first", tmp_path / "second"
    empty.mkdir()
    _tool(first)
    _tool(second)
    env = {"PATH": os.pathsep.join(str(d) for d in (tmp_path / "gone", empty, first, second))}
    got = exec_paths(b"tool", env)
    assert got == [bytes(first / "tool"), bytes(second / "tool")]


def test_entries_after_the_first_are_kept_even_when_missing(tmp_path: Path):
    _tool(tmp_path / "a")
    env = {"PATH": f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'missing'}"}
    assert exec_paths(b"tool", env) == [
        bytes(tmp_path / "a" / "tool"),
        bytes(tmp_path / "missing" / "tool"),
    ]


def test_when_none_is_there_every_entry_is_tried(tmp_path: Path):
    env = {"PATH": f"{tmp_path / 'x'}{os.pathsep}{tmp_path / 'y'}"}
    assert exec_paths(b"nothing", env) == [
        bytes(tmp_path / "x" / "nothing"),
        bytes(tmp_path / "y" / "nothing"),
    ]


def test_a_name_with_a_slash_is_used_as_it_is():
    assert exec_paths(b"./run.sh", {"PATH": "/usr/bin"}) == [b"./run.sh"]
