"""The log files themselves: shared by many writers, byte-exact, noticed when deleted or moved,
and the private state beside them."""

from __future__ import annotations

import os
import re
import runpy
import signal
import stat
import time
from pathlib import Path

from tests.harness import CHILDREN, MasterProc, child, wait_for

payload = runpy.run_path(str(CHILDREN / "exact.py"))["payload"]


def rotated(live: Path) -> list[Path]:
    """`name.N` … `name.1`, then `name`: oldest first."""
    backups = sorted(live.parent.glob(live.name + ".*"), key=lambda p: int(p.suffix[1:]))
    return [*reversed(backups), live]


def pinger(m: MasterProc, name: str, stream: Path, every: float = 0.2):
    """A predicate for wait_for: sends SIGUSR1 to `name` (chatter.py answers `ping K`) at most
    every `every` s, true once a ping reached `stream`."""
    last = [0.0]

    def check() -> bool:
        now = os.times().elapsed
        if now - last[0] >= every:
            last[0] = now
            m.call("signal", {"signal": "USR1", "names": [name]})
        return stream.exists() and b"ping" in stream.read_bytes()

    return check


# --- one writer per file ----------------------------------------------------------------------

LINE = re.compile(r"(w:\d|v:0) (\d{6}) (x*)")


def test_many_writers_share_one_file_and_lose_no_line_at_rotation(master_factory):
    """7 instances of one program, and another program naming the same file through a symlinked
    folder (the real path counts): one writer, one size count, one rotation; every line whole,
    once, in order."""
    n = 3000
    m = master_factory(f"""
        [programs.w]
        command = "{child("tagged.py", str(n))}"
        numprocs = 7
        autorestart = "never"
        start_seconds = 0
        stdout_log = "logs/shared.log"
        log_max_size = "32KB"
        log_backups = 200
        [programs.v]
        command = "{child("tagged.py", str(n))}"
        autorestart = "never"
        start_seconds = 0
        stdout_log = "alias/shared.log"
        log_max_size = "32KB"
        log_backups = 200
    """)
    (m.root / "logs").mkdir()
    (m.root / "alias").symlink_to(m.root / "logs")  # in a folder only we can write: followed
    m.start()
    names = [f"w:{i}" for i in range(7)] + ["v:0"]
    for name in names:
        m.wait_state(name, "EXITED", timeout=30)
    files = rotated(m.root / "logs" / "shared.log")
    seen: dict[str, list[int]] = {name: [] for name in names}
    for f in files:
        for line in f.read_text().splitlines():
            match = LINE.fullmatch(line)
            assert match, f"a split or mixed line in {f.name}: {line[:120]!r}"
            num = int(match[2])
            assert len(match[3]) == num % 53, line
            seen[match[1]].append(num)
    assert {name: nums == list(range(n)) for name, nums in seen.items()} == dict.fromkeys(
        names, True
    )
    # One size count: every rotated file was filled with whole lines up to the limit.
    longest = len("w:0 000000 ") + 52 + 1
    for f in files[:-1]:
        assert 32 * 1024 - longest < f.stat().st_size <= 32 * 1024, f


# --- byte-exact files -------------------------------------------------------------------------


def test_log_file_holds_exactly_the_bytes_written(start_master):
    sizes = {"small": 100, "big": 300_000}  # big: over a pipe and over the longest line held
    m = start_master(
        "\n".join(
            f"""
            [programs.{name}]
            command = "{child("exact.py", str(size), "7")}"
            autorestart = "never"
            start_seconds = 0
            """
            for name, size in sizes.items()
        )
    )
    for name, size in sizes.items():
        m.wait_state(f"{name}:0", "EXITED")
        assert m.log_file(f"{name}:0").read_bytes() == payload(size, 7), name
    # A later run starts on a fresh line: the only byte procsup adds, and only because the
    # previous run ended mid-line.
    assert m.cli("start", "small").returncode == 0
    wait_for(
        lambda: m.log_file("small:0").read_bytes() == payload(100, 7) + b"\n" + payload(100, 7),
        10,
        "the second run's bytes after a newline",
    )


def test_an_unfinished_line_reaches_the_file_and_logs_while_the_program_waits(start_master):
    """A prompt or progress bar is not held until its newline: after a short pause it is in the
    file and in `logs` (and `logs -f`), and its continuation continues it, byte for byte."""
    m = start_master(f"""
        [programs.bar]
        command = "{child("progress.py")}"
        start_seconds = 0
    """)
    path = m.log_file("bar:0")
    began = time.monotonic()
    wait_for(lambda: path.exists() and path.read_bytes() == b"progress 10%", 5, "the partial")
    assert time.monotonic() - began < 3  # within about PARTIAL_FLUSH of being written
    shown = m.cli("logs", "bar")
    assert shown.returncode == 0 and "progress 10%" in shown.stdout, shown
    os.kill(m.state("bar:0")["pid"], signal.SIGUSR1)
    wait_for(lambda: path.read_bytes().endswith(b"\n"), 5, "the rest of the line")
    assert path.read_bytes() == b"progress 10%... done\n"


def test_a_shared_file_keeps_whole_lines(start_master):
    """Two writers of one file: an unfinished line waits for its newline (or the exit), so
    lines from the two never mix."""
    m = start_master(f"""
        [programs.bar]
        command = "{child("progress.py")}"
        numprocs = 2
        start_seconds = 0
        stdout_log = "logs/bar.log"
    """)
    path = m.root / "logs" / "bar.log"
    shown = lambda: m.cli("logs", "bar").stdout  # noqa: E731
    wait_for(lambda: "bar:0" in m.cli("list").stdout, 5, "the instances")
    time.sleep(1.5)  # well past the pause after which a lone writer's line would go on
    assert not path.exists() or path.read_bytes() == b"", path.read_bytes()
    assert "progress" not in shown()
    for name in ("bar:0", "bar:1"):
        os.kill(m.state(name)["pid"], signal.SIGUSR1)
    wait_for(lambda: path.read_bytes().count(b"\n") == 2, 5, "both lines")
    assert path.read_bytes() == b"progress 10%... done\n" * 2


# --- deleted and moved-away files -------------------------------------------------------------


def deleted_fds(pid: int, path: Path) -> list[str]:
    """The master's descriptors still open on `path` after it was deleted."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target == f"{path} (deleted)":
            found.append(target)
    return found


def test_a_deleted_log_is_closed_and_created_anew(start_master):
    m = start_master(f"""
        [programs.chat]
        command = "{child("chatter.py", "0")}"
        start_seconds = 0
    """)
    log = m.log_file("chat:0")
    wait_for(lambda: log.exists() and b"ready" in log.read_bytes(), 10, "ready")
    log.unlink()
    wait_for(pinger(m, "chat:0", log), 10, "a ping in a new log file")
    assert m.proc is not None
    wait_for(lambda: not deleted_fds(m.proc.pid, log), 5, "the deleted file to be closed")


def test_a_moved_log_is_left_alone_and_created_anew(start_master):
    """logrotate without copytruncate: rename, and expect the writer to start a new file."""
    m = start_master(f"""
        [programs.chat]
        command = "{child("chatter.py", "0")}"
        start_seconds = 0
    """)
    log = m.log_file("chat:0")
    wait_for(lambda: log.exists() and b"ready" in log.read_bytes(), 10, "ready")
    moved = log.with_name("chat-0.out.log.old")
    log.rename(moved)
    wait_for(pinger(m, "chat:0", log), 10, "a ping in a new log file")
    size = moved.stat().st_size
    m.call("signal", {"signal": "USR1", "names": ["chat:0"]})
    wait_for(lambda: log.read_bytes().count(b"ping") >= 2, 10, "the next ping in the new file")
    assert moved.stat().st_size == size


def test_a_stopped_program_holds_no_log_open(start_master):
    """So deleting the logs of a stopped program frees their space (a full disk's first aid)."""
    m = start_master(f"""
        [programs.chat]
        command = "{child("chatter.py", "0")}"
        start_seconds = 0
    """)
    log = m.log_file("chat:0")
    wait_for(lambda: log.exists() and b"ready" in log.read_bytes(), 10, "ready")
    assert m.cli("stop", "chat").returncode == 0
    log.unlink()
    m.log_file("chat:0", "err").unlink()
    assert m.proc is not None
    assert not deleted_fds(m.proc.pid, log)


# --- private state ----------------------------------------------------------------------------


def test_state_dir_and_state_files_are_private(master_factory):
    m = master_factory(f"""
        [programs.chat]
        command = "{child("chatter.py", "2")}"
        start_seconds = 0
    """)
    run = m.root / "run"
    run.mkdir(mode=0o755)
    os.chmod(run, 0o755)  # as an older procsup left it
    (run / "state.json").write_text("{}")
    os.chmod(run / "state.json", 0o644)
    m.start()
    wait_for(lambda: b"ready" in m.log_file("chat:0").read_bytes(), 10, "ready")
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    wait_for(lambda: stat.S_IMODE((run / "state.json").stat().st_mode) == 0o600, 5, "0600")
    assert m.stop() == 0
    assert stat.S_IMODE((run / "state.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((run / "output.json").stat().st_mode) == 0o600


def test_a_shared_socket_keeps_its_folder_searchable(master_factory):
    """socket_mode 0660 inside the state_dir: the group may reach the socket, not list the dir."""
    m = master_factory("""
        [procsup]
        socket_mode = "0660"
    """).start()
    assert stat.S_IMODE((m.root / "run").stat().st_mode) == 0o710
