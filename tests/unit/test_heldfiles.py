"""engine/heldfiles: small files read again through a held descriptor see the current content,
a process's statm descriptor never reads another process, and no descriptor outlives its use;
fdlimit.Budget.spare keeps a quarter of the room free of them."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from procsup.engine import fdlimit
from procsup.engine.heldfiles import HeldFiles
from procsup.engine.proctree import PAGE_SIZE, statm_rss
from tests.harness import soft_limit, wait_for


def opener(path: Path) -> Callable[[], int]:
    return lambda: os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def test_a_held_file_is_read_afresh(tmp_path: Path) -> None:
    f = tmp_path / "cpu.stat"
    f.write_bytes(b"usage_usec 12\n")
    held = HeldFiles(3)
    before = fdlimit.count_open()
    assert held.read("cpu.stat", opener(f)) == b"usage_usec 12\n"
    assert len(held) == 1 and fdlimit.count_open() == before + 1
    with open(f, "r+b") as out:  # the same file, new content (a cgroup file changes in place)
        out.write(b"usage_usec 99\n")
    assert held.read("cpu.stat", opener(tmp_path / "elsewhere")) == b"usage_usec 99\n"
    held.close()
    assert len(held) == 0 and fdlimit.count_open() == before


def test_no_more_than_the_limit_are_held(tmp_path: Path) -> None:
    files = []
    for i in range(3):
        files.append(tmp_path / f"f{i}")
        files[-1].write_bytes(b"%d" % i)
    held = HeldFiles(2)
    before = fdlimit.count_open()
    assert [held.read(i, opener(f)) for i, f in enumerate(files)] == [b"0", b"1", b"2"]
    assert len(held) == 2 and fdlimit.count_open() == before + 2  # the third: read, closed
    held.keep_only(lambda key: key == 1)
    assert len(held) == 1 and fdlimit.count_open() == before + 1
    del held  # dropped without close(): nothing leaks
    assert fdlimit.count_open() == before


def test_a_failed_read_drops_the_descriptor_and_the_open_error_passes(tmp_path: Path) -> None:
    held = HeldFiles(3)
    try:
        held.read("gone", opener(tmp_path / "missing"))
    except FileNotFoundError:
        pass
    else:
        raise AssertionError("a missing file must raise")
    assert len(held) == 0


def test_statm_through_a_held_descriptor_ends_with_its_process() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    held = HeldFiles(3)
    try:
        # asleep in nanosleep: its memory no longer grows (a process still starting faults
        # pages in between two reads)
        wait_for(lambda: _state(proc.pid) == "S", 10, "sleep to be asleep")
        rss = statm_rss(proc.pid, held)
        assert rss > 0 and rss % PAGE_SIZE == 0 and len(held) == 1
        assert statm_rss(proc.pid, held) == statm_rss(proc.pid)  # the same figure either way
    finally:
        proc.kill()
        proc.wait()
    assert statm_rss(proc.pid, held) == 0  # gone: 0, and its descriptor is dropped
    assert len(held) == 0


def test_spare_descriptors_stop_at_seven_eighths_of_the_room(tmp_path: Path) -> None:
    soft = fdlimit.count_open() + 200
    cap = fdlimit.held_cap(soft)
    f = tmp_path / "statm"
    f.write_bytes(b"1 2 3")
    with soft_limit(soft):
        fdlimit.BUDGET._known = None  # counted afresh under this limit
        held = HeldFiles(1000)
        for key in range(200):
            held.read(key, opener(f))
        # the rest were read and closed (the count may include the one being read: -1)
        assert cap - 1 <= fdlimit.count_open() <= cap
        assert soft - fdlimit.count_open() >= (soft - fdlimit.reserve_for(soft)) // 8
        held.close()
    fdlimit.BUDGET._known = None


def test_a_spawn_short_of_descriptors_gets_the_held_ones_and_nothing_is_held_after(
    tmp_path: Path,
) -> None:
    soft = fdlimit.count_open() + 200
    room = soft - fdlimit.reserve_for(soft)
    f = tmp_path / "statm"
    f.write_bytes(b"1 2 3")
    with soft_limit(soft):
        fdlimit.BUDGET._known = None
        held = HeldFiles(1000)
        try:
            for key in range(200):
                held.read(key, opener(f))
            assert len(held) > 0
            # more than is free while they are held, less than once they are closed
            need = room - fdlimit.count_open() + len(held) // 2
            fdlimit.BUDGET.ensure(need)
            assert len(held) == 0
            held.read("again", opener(f))
            assert len(held) == 0 and not fdlimit.BUDGET.spare()
        finally:
            held.close()
            fdlimit.BUDGET._known, fdlimit.BUDGET._short = None, False


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[0].decode()
