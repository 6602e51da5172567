"""engine/dirfds: files opened through a held directory descriptor, never a stale one."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

from procsup.engine import dirfds


def read(directory: Path, name: str) -> bytes:
    fd = dirfds.open_in(str(directory), name)
    try:
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC  # children never inherit it
        return os.read(fd, 100)
    finally:
        os.close(fd)


def test_reads_through_the_held_directory(tmp_path: Path) -> None:
    (tmp_path / "leaf").mkdir()
    (tmp_path / "leaf" / "cpu.stat").write_text("usage_usec 12\n")
    assert read(tmp_path, "leaf/cpu.stat") == b"usage_usec 12\n"
    (tmp_path / "leaf" / "cpu.stat").write_text("usage_usec 13\n")
    assert read(tmp_path, "leaf/cpu.stat") == b"usage_usec 13\n"
    with pytest.raises(FileNotFoundError):
        read(tmp_path, "leaf/memory.current")


def test_a_directory_made_again_is_held_anew(tmp_path: Path) -> None:
    sub = tmp_path / "procsup-x"
    sub.mkdir()
    (sub / "a").write_text("old")
    assert read(sub, "a") == b"old"
    shutil.rmtree(sub)
    sub.mkdir()
    (sub / "a").write_text("new")
    assert read(sub, "a") == b"new"


def test_proc_files_of_this_process() -> None:
    assert read(Path("/proc"), f"{os.getpid()}/statm").split()[1].isdigit()


def test_at_most_max_held_descriptors(tmp_path: Path) -> None:
    for i in range(dirfds.MAX_HELD + 3):
        d = tmp_path / str(i)
        d.mkdir()
        (d / "f").write_text(str(i))
        assert read(d, "f") == str(i).encode()
    assert len(dirfds._held) <= dirfds.MAX_HELD
