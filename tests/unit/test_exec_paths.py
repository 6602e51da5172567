"""Where a spawned child tries exec (cgspawn.exec_paths): every entry of the PATH of its own
environment, in order, as Popen does, so its exec errors read as Popen's."""

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


def test_every_entry_in_order_missing_ones_too(tmp_path: Path):
    empty, first = tmp_path / "empty", tmp_path / "first"
    empty.mkdir()
    _tool(first)
    dirs = (tmp_path / "gone", empty, first, tmp_path / "missing")
    env = {"PATH": os.pathsep.join(str(d) for d in dirs)}
    assert exec_paths(b"tool", env) == [bytes(d / "tool") for d in dirs]


def test_the_path_of_the_childs_environment_each_time(tmp_path: Path):
    env = {"PATH": f"{tmp_path / 'x'}{os.pathsep}{tmp_path / 'y'}"}
    assert exec_paths(b"nothing", env) == [
        bytes(tmp_path / "x" / "nothing"),
        bytes(tmp_path / "y" / "nothing"),
    ]
    env["PATH"] = str(tmp_path / "z")
    assert exec_paths(b"nothing", env) == [bytes(tmp_path / "z" / "nothing")]
    assert exec_paths(b"other", env) == [bytes(tmp_path / "z" / "other")]


def test_a_name_with_a_slash_is_used_as_it_is():
    assert exec_paths(b"./run.sh", {"PATH": "/usr/bin"}) == [b"./run.sh"]
