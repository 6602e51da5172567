"""Output capture as a user sees it: `procsup logs`, following, rotation, the log files."""

from __future__ import annotations

import json
import os
import pty
import queue
import re
import socket
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from fcntl import ioctl
from pathlib import Path
from typing import Any

import pytest

from tests.harness import PY, MasterProc, child, short_tmpdir, wait_for

LOGS = "logs/chat-{{num}}.{}.log"  # chatter.py waits for each line to reach its file
CHAT_LINES = [f"{'out' if i % 2 == 0 else 'err'} {i}" for i in range(10)] + ["ready"]


def parse(out: str) -> list[tuple[str, str, str]]:
    """`procsup logs` output → (instance, out|err, text) per line."""
    rows = []
    for line in out.splitlines():
        head, text = line.split(" | ", 1)
        name, marker = head.split()
        rows.append((name, marker, text))
    return rows


def texts(out: str) -> list[str]:
    """The program's own lines (procsup's marked `***` lines about exits left out)."""
    return [text for _, marker, text in parse(out) if marker != "***"]


def file_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


class LineReader:
    """Reads a subprocess's stdout on a thread, so the test can wait for lines with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_line(self, predicate: Any, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching line within {timeout}s; saw {self.seen!r}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the process ended; saw {self.seen!r}")
            self.seen.append(line)
            if predicate(line):
                return line


# --- one master whose program printed a known, ordered sequence ---------------------------------


@pytest.fixture(scope="module")
def chat() -> Iterator[MasterProc]:
    """`chat:0` printed out 0, err 1, … err 9 (each line logged before the next was written),
    then `ready`. Tests using it only read."""
    m = MasterProc(
        short_tmpdir(),
        f"""
        [programs.chat]
        command = "{child("chatter.py", "10", LOGS.format("out"), LOGS.format("err"))}"
        directory = "."
        start_seconds = 0
        """,
    )
    try:
        m.start()
        wait_for(lambda: "ready" in file_lines(m.log_file("chat:0")), 10, "chatter's ready line")
        yield m
    finally:
        m.cleanup()


def test_logs_interleaves_stdout_and_stderr_in_arrival_order(chat):
    result = chat.cli("logs", "chat", "-n", "100")
    assert result.returncode == 0, result.stderr
    rows = parse(result.stdout)
    assert [text for _, _, text in rows] == CHAT_LINES
    assert {name for name, _, _ in rows} == {"chat:0"}
    assert [marker for _, marker, _ in rows] == [
        text[:3] if text != "ready" else "out" for text in CHAT_LINES
    ]


def test_logs_without_a_name_shows_every_instance(chat):
    result = chat.cli("logs", "-n", "100")
    assert result.returncode == 0, result.stderr
    assert texts(result.stdout) == CHAT_LINES


def test_logs_stderr_and_stdout_pick_one_stream(chat):
    err = chat.cli("logs", "chat", "--stderr", "-n", "100")
    assert err.returncode == 0, err.stderr
    assert texts(err.stdout) == [t for t in CHAT_LINES if t.startswith("err")]
    assert {marker for _, marker, _ in parse(err.stdout)} == {"err"}
    out = chat.cli("logs", "chat:0", "--stdout", "-n", "100")
    assert out.returncode == 0, out.stderr
    assert texts(out.stdout) == [t for t in CHAT_LINES if not t.startswith("err")]


def test_logs_n_shows_the_last_lines(chat):
    result = chat.cli("logs", "chat", "-n", "3")
    assert result.returncode == 0, result.stderr
    assert texts(result.stdout) == ["out 8", "err 9", "ready"]
    default = chat.cli("logs", "chat")  # 20 by default: all 11 here
    assert texts(default.stdout) == CHAT_LINES


def test_logs_since(chat):
    result = chat.cli("logs", "chat", "--since", "1h", "-n", "100")
    assert result.returncode == 0, result.stderr
    assert texts(result.stdout) == CHAT_LINES
    bad = chat.cli("logs", "chat", "--since", "soon")
    assert bad.returncode == 2
    assert "--since" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    # Once the lines are older than the window, a short --since leaves them out.
    wait_for(
        lambda: chat.cli("logs", "chat", "--since", "300ms").stdout == "",
        10,
        "the lines to fall out of a 300ms window",
    )


def test_logs_protocol_items(chat):
    items = chat.call("logs", {"names": ["chat:0"], "lines": 3})["lines"]
    assert [i["line"] for i in items] == ["out 8", "err 9", "ready"]
    assert [i["stream"] for i in items] == ["stdout", "stderr", "stdout"]
    assert all(i["name"] == "chat:0" and isinstance(i["time"], float) for i in items)
    assert items == sorted(items, key=lambda i: i["time"])


# --- following ------------------------------------------------------------------------------


def test_logs_follow_shows_new_lines(start_master):
    m = start_master(f"""
        [programs.chat]
        command = "{child("chatter.py", "4")}"
        start_seconds = 0
    """)
    wait_for(lambda: "ready" in file_lines(m.log_file("chat:0")), 10, "ready")
    proc = subprocess.Popen(
        [PY, "-m", "procsup", "-c", str(m.config), "--no-autostart", "logs", "chat", "-f"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        reader = LineReader(proc)
        reader.wait_line(lambda line: line.endswith("| ready"))
        # `ready` is the last backlog line: the master is following once the client has it.
        m.call("signal", {"signal": "USR1", "names": ["chat:0"]})
        assert reader.wait_line(lambda line: "ping" in line).endswith("chat:0 out | ping 0")
        assert proc.poll() is None  # still following
    finally:
        proc.terminate()
        proc.wait(10)


class ItemReader:
    """Reads a raw streaming reply off a socket: each line's `item` (or the final reply)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def until(self, line: str, timeout: float) -> list[Any]:
        """Items up to and including the log line `line`; fewer if the deadline passes."""
        items: list[Any] = []
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                raw, self.buf = self.buf.split(b"\n", 1)
                msg = json.loads(raw)
                items.append(msg.get("item", msg))
                if isinstance(items[-1], dict) and items[-1].get("line") == line:
                    return items
            left = deadline - time.monotonic()
            if left <= 0:
                return items
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                return items
            if not data:
                return items
            self.buf += data


def test_logs_follow_loses_no_line_while_a_large_backlog_is_sent(start_master):
    m = start_master(f"""
        [programs.burst]
        command = "{child("burst.py", "30000")}"
        start_seconds = 0
    """)
    wait_for(lambda: "ready" in file_lines(m.log_file("burst:0"))[-1:], 10, "ready")
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(m.socket)
    try:
        req = {"id": 1, "cmd": "logs", "args": {"names": ["burst:0"], "lines": -1, "follow": True}}
        sock.sendall(json.dumps(req).encode() + b"\n")

        def queued() -> int:
            return struct.unpack("i", ioctl(sock, termios.FIONREAD, b"\0\0\0\0"))[0]

        # The backlog (~30,000 items, megabytes) cannot fit in the socket buffers, so once the
        # first bytes are here the master is blocked writing it, and has not started following.
        wait_for(lambda: queued() > 0, 10, "the backlog to start arriving")
        m.call("signal", {"signal": "USR1", "names": ["burst:0"]})  # → ping 0 while blocked
        wait_for(lambda: "ping 0" in file_lines(m.log_file("burst:0")), 10, "ping 0 in the file")
        reader = ItemReader(sock)
        items = reader.until("ready", 10)  # the end of the backlog: following from here on
        # USR2 → `pong 0`, after every line that USR1 caused (signals are handled in order).
        m.call("signal", {"signal": "USR2", "names": ["burst:0"]})
        items += reader.until("pong 0", 10)
    finally:
        sock.close()
    lines = [i.get("line") for i in items]
    assert lines[-1] == "pong 0"
    pings = [line for line in file_lines(m.log_file("burst:0")) if line.startswith("ping")]
    assert [line for line in lines if line and line.startswith("ping")] == pings


# --- the log files --------------------------------------------------------------------------


def _rotated(live: Path) -> list[Path]:
    """`name.N` … `name.1`, then `name`: oldest first."""
    backups = sorted(live.parent.glob(live.name + ".*"), key=lambda p: int(p.suffix[1:]))
    return [*reversed(backups), live]


def _numbered(n: int) -> list[str]:
    return [f"{i:05d} {'x' * (i % 61)}" for i in range(n)]


def test_rotation_loses_and_repeats_no_line(start_master):
    m = start_master(f"""
        [programs.count]
        command = "{child("counter.py", "20000")}"
        autorestart = "never"
        start_seconds = 0
        log_max_size = "64KB"
        log_backups = 50
    """)
    m.wait_state("count:0", "EXITED", timeout=20)
    live = m.log_file("count:0")
    files = _rotated(live)
    assert len(files) > 10  # ~720 KB of output: rotated many times, never dropped a backup
    lines = [line for f in files for line in file_lines(f)]
    assert lines == _numbered(20000)
    longest_line = 6 + 61
    for f in files:
        # Rotation happens at line boundaries before a write; a file is only over the limit when
        # one write (one pipe read, at most 64 KiB, plus a carried partial line) is that big.
        assert f.stat().st_size <= 64 * 1024 + longest_line, f


def test_rotation_keeps_only_log_backups_files(start_master):
    m = start_master(f"""
        [programs.count]
        command = "{child("counter.py", "5000")}"
        autorestart = "never"
        start_seconds = 0
        log_max_size = "16KB"
        log_backups = 2
    """)
    m.wait_state("count:0", "EXITED", timeout=20)
    live = m.log_file("count:0")
    files = _rotated(live)
    assert [f.name for f in files] == [f"{live.name}.2", f"{live.name}.1", live.name]
    lines = [line for f in files for line in file_lines(f)]
    # What is left is the newest output, contiguous, in order, ending with the last line.
    assert lines == _numbered(5000)[-len(lines) :]
    assert len(lines) > 500


def test_merge_stderr_puts_both_streams_in_the_out_log(start_master):
    m = start_master(f"""
        [programs.chat]
        command = "{child("chatter.py", "6")}"
        start_seconds = 0
        merge_stderr = true
    """)
    out = m.log_file("chat:0")
    wait_for(lambda: "ready" in file_lines(out), 10, "ready")
    # One pipe for both streams: the order is exactly the order the program wrote in.
    assert file_lines(out) == ["out 0", "err 1", "out 2", "err 3", "out 4", "err 5", "ready"]
    assert not m.log_file("chat:0", "err").exists()
    shown = m.cli("logs", "chat")
    assert texts(shown.stdout) == file_lines(out)


def test_log_timestamps_prefix_every_line(start_master):
    m = start_master(f"""
        [programs.chat]
        command = "{child("chatter.py", "3")}"
        start_seconds = 0
        log_timestamps = true
    """)
    out, err = m.log_file("chat:0"), m.log_file("chat:0", "err")
    wait_for(lambda: any(line.endswith(" ready") for line in file_lines(out)), 10, "ready")
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
    assert [re.fullmatch(stamp + r"(.*)", line)[1] for line in file_lines(out)] == [
        "out 0",
        "out 2",
        "ready",
    ]
    assert [re.fullmatch(stamp + r"(.*)", line)[1] for line in file_lines(err)] == ["err 1"]


@pytest.mark.parametrize("pad", [0, 300_000], ids=["small", "more-than-a-pipe"])
def test_last_line_of_a_program_that_exits_at_once_is_kept(start_master, pad):
    m = start_master(f"""
        [programs.bye]
        command = "{child("last_words.py", str(pad))}"
        autorestart = "never"
        start_seconds = 0
    """)
    m.wait_state("bye:0", "EXITED")
    lines = file_lines(m.log_file("bye:0"))
    assert lines[0] == "first line"
    assert lines[-1] == "last words, no newline"
    assert len(lines) == 2 + pad // 100
    assert m.log_file("bye:0").read_bytes().endswith(b"last words, no newline")  # as written
    shown = m.cli("logs", "bye", "-n", "2")  # the last line, then procsup's about the exit
    assert texts(shown.stdout) == ["last words, no newline"]
    _, marker, text = parse(shown.stdout)[-1]
    assert marker == "***" and text.startswith("bye:0 exited with code 0 after ")


def test_logs_after_a_master_restart_keep_the_arrival_order(master_factory):
    m = master_factory(f"""
        [programs.chat]
        command = "{child("chatter.py", "6", LOGS.format("out"), LOGS.format("err"))}"
        directory = "."
        start_seconds = 0
    """).start()
    wait_for(lambda: "ready" in file_lines(m.log_file("chat:0")), 10, "ready")
    assert m.cli("stop", "chat").returncode == 0  # kept stopped across the restart
    assert m.stop() == 0
    m.start()
    assert m.state("chat:0")["state"] == "STOPPED"
    result = m.cli("logs", "chat", "-n", "100")
    assert result.returncode == 0, result.stderr
    assert texts(result.stdout) == ["out 0", "err 1", "out 2", "err 3", "out 4", "err 5", "ready"]


# --- what reaches the terminal ------------------------------------------------------------------

CONTROL_LINES = [
    "title \x1b]0;pwned\x07 red \x1b[31mRED\x1b[0m clear \x1b[2J c1 \x9b tab\tend",
    "one\rtwo\x0bthree\x0cfour\u2028five\u0085six\x1cseven",
    "done",
]


@pytest.fixture(scope="module")
def controls() -> Iterator[MasterProc]:
    """`ctl:0` printed lines full of terminal controls and in-line separators, then `done`."""
    m = MasterProc(
        short_tmpdir(),
        f"""
        [programs.ctl]
        command = "{child("controls.py")}"
        start_seconds = 0
        """,
    )
    try:
        m.start()
        wait_for(lambda: b"done\n" in _read(m.log_file("ctl:0")), 10, "controls.py's done")
        yield m
    finally:
        m.cleanup()


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def _cli_bytes(m: MasterProc, *args: str) -> bytes:
    res = subprocess.run(
        [PY, "-m", "procsup", "-c", str(m.config), "--no-autostart", *args],
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 0, res
    return res.stdout


def _cli_on_a_terminal(m: MasterProc, *args: str) -> str:
    """`procsup ARGS` with its stdout on a pseudo-terminal; what the terminal received."""
    main, sub = pty.openpty()
    attrs = termios.tcgetattr(sub)
    attrs[1] &= ~termios.OPOST  # the terminal as-is: no \n → \r\n translation
    termios.tcsetattr(sub, termios.TCSANOW, attrs)
    proc = subprocess.Popen(
        [PY, "-m", "procsup", "-c", str(m.config), "--no-autostart", *args],
        stdout=sub,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    os.close(sub)
    out = b""
    try:
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:  # EIO: the CLI exited and closed the terminal
                break
            if not data:
                break
            out += data
        assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()
    return out.decode()


def _strip_prefix(line: str) -> str:
    """The program's text: after `name out | ` and, on a terminal, the prefix colour's reset."""
    text = line.split(" | ", 1)[1]
    return text.removeprefix("\x1b[0m")


def test_logs_lines_end_at_newline_only(controls):
    out = _cli_bytes(controls, "logs", "ctl").decode()
    lines = [_strip_prefix(line) for line in out.split("\n")[:-1]]
    assert lines == CONTROL_LINES  # into a pipe: the bytes as they are, 3 lines not 9


def test_logs_on_a_terminal_escapes_control_characters(controls):
    shown = _cli_on_a_terminal(controls, "logs", "ctl")
    lines = [_strip_prefix(line) for line in shown.split("\n")[:-1]]
    assert lines == [
        "title \\x1b]0;pwned\\x07 red \\x1b[31mRED\\x1b[0m clear \\x1b[2J c1 \\x9b tab\tend",
        "one\\x0dtwo\\x0bthree\\x0cfour\u2028five\\x85six\\x1cseven",
        "done",
    ]
    assert "\x1b]0;" not in shown and "\x1b[2J" not in shown and "\x9b" not in shown


def test_logs_raw_passes_control_characters_to_the_terminal(controls):
    shown = _cli_on_a_terminal(controls, "logs", "ctl", "--raw")
    lines = [_strip_prefix(line) for line in shown.split("\n")[:-1]]
    assert lines == CONTROL_LINES


# --- following like tail -F -----------------------------------------------------------------------


def _follow(m: MasterProc, *args: str) -> tuple[subprocess.Popen[str], LineReader]:
    proc = subprocess.Popen(
        [PY, "-m", "procsup", "-c", str(m.config), "--no-autostart", "logs", "-f", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    return proc, LineReader(proc)


def test_logs_follow_n_0_prints_only_new_lines(start_master):
    m = start_master(f"""
        [programs.api]
        command = "{child("chatter.py", "83")}"
        start_seconds = 0
    """)
    wait_for(lambda: "ready" in file_lines(m.log_file("api:0")), 10, "83 lines and ready")
    proc, reader = _follow(m, "-n", "0", "api")
    try:
        # ping until the follower shows one (it may not have subscribed yet): what it shows
        # then is pings only, none of the 83 old lines nor `ready`
        def pinged() -> bool:
            m.call("signal", {"signal": "USR1", "names": ["api:0"]})
            try:
                reader.wait_line(lambda line: "ping" in line, timeout=0.5)
                return True
            except AssertionError:
                return False

        wait_for(pinged, 15, "a ping to reach the follower")
        assert reader.seen and all(re.fullmatch(r"api:0 out \| ping \d+", s) for s in reader.seen)
    finally:
        proc.terminate()
        proc.wait(10)


def test_logs_follow_picks_up_instances_added_by_scale(start_master):
    m = start_master(f"""
        [programs.api]
        command = "{child("chatter.py", "2")}"
        numprocs = 4
        start_seconds = 0
    """)
    for n in range(4):
        wait_for(lambda n=n: "ready" in file_lines(m.log_file(f"api:{n}")), 10, f"api:{n} ready")
    proc, reader = _follow(m, "api")
    try:
        readies = {f"api:{n} out | ready" for n in range(4)}
        reader.wait_line(lambda _: readies <= set(reader.seen))
        res = m.cli("scale", "api", "5")
        assert res.returncode == 0, res
        reader.wait_line(lambda line: line.startswith("api:4 ") and line.endswith("| ready"))
        m.call("signal", {"signal": "USR1", "names": ["api:4"]})
        reader.wait_line(lambda line: line.startswith("api:4 ") and line.endswith("| ping 0"))
    finally:
        proc.terminate()
        proc.wait(10)
