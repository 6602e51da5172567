"""LogFile and safefs on real files in a temp folder: sharing, byte-exactness, rotation, and
everything a log's folder may hold that procsup must not write through."""

from __future__ import annotations

import os
import stat

import pytest

from procsup.engine import safefs
from procsup.engine.logfile import LogFile
from procsup.engine.logregistry import LogFiles

A, B = object(), object()  # two writers (two pipes)


def written(f: LogFile, *parts: tuple[bytes, object]) -> None:
    f.begin()
    for data, source in parts:
        f.write(data, source)
    f.end()


def test_one_writer_gets_exactly_its_bytes(tmp_path):
    f = LogFile(str(tmp_path / "x.log"), 0, 0)
    written(f, (b"one\ntw", A), (b"o\nthree, no newline", A))
    assert (tmp_path / "x.log").read_bytes() == b"one\ntwo\nthree, no newline"


def test_another_writer_never_continues_an_unfinished_line(tmp_path):
    f = LogFile(str(tmp_path / "x.log"), 0, 0)
    written(f, (b"a1\na2-unfinished", A), (b"b1\n", B), (b"a3\n", A), (b"a4\n", A))
    assert (tmp_path / "x.log").read_bytes() == b"a1\na2-unfinished\nb1\na3\na4\n"


def test_a_file_left_mid_line_by_an_earlier_master_gets_a_fresh_line(tmp_path):
    (tmp_path / "x.log").write_bytes(b"old, unfinished")
    written(LogFile(str(tmp_path / "x.log"), 0, 0), (b"new\n", A))
    assert (tmp_path / "x.log").read_bytes() == b"old, unfinished\nnew\n"


def test_rotation_fills_each_file_with_whole_lines(tmp_path):
    f = LogFile(str(tmp_path / "x.log"), 100, 10)
    lines = [f"{i:03d} {'x' * (i % 20)}\n".encode() for i in range(100)]
    written(f, (b"".join(lines[:60]), A), (memoryview(b"".join(lines[60:])), A))
    files = [tmp_path / f"x.log.{n}" for n in range(10, 0, -1)] + [tmp_path / "x.log"]
    files = [p for p in files if p.exists()]
    assert (
        b"".join(p.read_bytes() for p in files)
        == b"".join(lines)[-sum(p.stat().st_size for p in files) :]
    )
    for p in files:
        data = p.read_bytes()
        assert data.endswith(b"\n") and len(data) <= 100, p
        assert p == files[-1] or len(data) > 100 - 25, p  # filled up to the limit


def test_no_backups_empties_the_file_in_place(tmp_path):
    f = LogFile(str(tmp_path / "x.log"), 10, 0)
    written(f, (b"12345678\n", A), (b"abc\n", A))
    assert (tmp_path / "x.log").read_bytes() == b"abc\n"
    assert not list(tmp_path.glob("x.log.*"))


def test_registry_shares_one_writer_per_real_file(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "logs")  # in a folder only we can write
    files = LogFiles()
    one = files.acquire(str(tmp_path / "logs" / "x.log"), 0, 0)
    two = files.acquire(str(tmp_path / "alias" / "x.log"), 100, 3)
    other = files.acquire(str(tmp_path / "logs" / "y.log"), 0, 0)
    assert one is two and one is not other and len(files) == 2
    assert (one.max_size, one.backups) == (100, 3)  # the last configuration wins
    files.release(one)
    assert len(files) == 2
    files.release(two)
    files.release(other)
    assert len(files) == 0


# --- what procsup refuses to write through ------------------------------------------------------


def refused(f: LogFile) -> str:
    f.begin()
    f.write(b"output\n", A)
    f.end()
    assert f.error is not None and f.error.startswith("refused: "), f.error
    assert f.dropped == len(b"output\n")
    return f.error


def test_a_symlink_at_the_log_name_is_never_followed(tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"precious\n")
    (tmp_path / "x.log").symlink_to(target)
    assert "symlink" in refused(LogFile(str(tmp_path / "x.log"), 10, 2))
    assert target.read_bytes() == b"precious\n"


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "x.log")
    assert "not a regular file" in refused(LogFile(str(tmp_path / "x.log"), 0, 0))


def test_a_hard_link_is_refused(tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"precious\n")
    os.link(target, tmp_path / "x.log")
    assert "2 hard links" in refused(LogFile(str(tmp_path / "x.log"), 0, 0))
    assert target.read_bytes() == b"precious\n"


def test_a_symlinked_folder_where_others_can_write_is_not_followed(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # anyone could have put the link here
    (tmp_path / "elsewhere").mkdir()
    (shared / "logs").symlink_to(tmp_path / "elsewhere")
    error = refused(LogFile(str(shared / "logs" / "x.log"), 0, 0))
    assert "logs is a symlink in a folder other users can write" in error
    assert not (tmp_path / "elsewhere" / "x.log").exists()


def test_missing_folders_are_created(tmp_path):
    f = LogFile(str(tmp_path / "a" / "b" / "x.log"), 0, 0)
    written(f, (b"hi\n", A))
    assert (tmp_path / "a" / "b" / "x.log").read_bytes() == b"hi\n"
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) & 0o700 == 0o700


def test_open_existing_refuses_a_symlink(tmp_path):
    (tmp_path / "x.log").symlink_to("/etc/hostname")
    with pytest.raises(safefs.Refused):
        safefs.open_existing(str(tmp_path / "x.log"))


def test_a_refused_file_works_again_once_it_is_removed(tmp_path):
    log = tmp_path / "x.log"
    log.symlink_to(tmp_path / "target")
    f = LogFile(str(log), 0, 0)
    written(f, (b"lost\n", A))
    assert f.error is not None
    log.unlink()
    written(f, (b"kept\n", B))  # the next run opens it anew
    assert f.error is None and f.dropped == 5
    assert log.read_bytes() == b"kept\n"
    assert not (tmp_path / "target").exists()


def test_list_info_tells_log_trouble_after_the_instance_note():
    from procsup.cli.tables import info_text

    row = {"state": "RUNNING", "log_error": "x.log refused: it is a symlink", "log_dropped": 2048}
    assert info_text(row, 0.0) == "log x.log refused: it is a symlink; 2.0K dropped"
    assert info_text({**row, "log_error": None}, 0.0) == "log: 2.0K dropped"
    assert info_text({"state": "RUNNING", "log_error": None, "log_dropped": 0}, 0.0) == ""
