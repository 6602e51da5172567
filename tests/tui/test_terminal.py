"""`procsup tui` in a real pseudo-terminal on a real master: what run_test() cannot show, the
terminal driver (tui/driver.py). With escape answered as soon as ESCDELAY is over, an arrow
key's sequence must still arrive as the arrow, not as escape and two typed letters."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.harness import PY, MasterProc, child, wait_for

WORKERS = f"""
    [programs.worker]
    command = "{child("sleeper.py")}"
    numprocs = 3
    start_seconds = 0
"""
LOCAL = ("ESCDELAY", "SSH_CONNECTION", "SSH_TTY")  # unset: the short local escape delay


class Terminal:
    """A process in a pseudo-terminal; a thread keeps everything it writes."""

    def __init__(self, argv: list[str], cwd: str) -> None:
        master_fd, slave_fd = pty.openpty()
        fcntl.ioctl(slave_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 110, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in LOCAL}
        env["TERM"] = "xterm-256color"
        self.proc = subprocess.Popen(
            argv, stdin=slave_fd, stdout=slave_fd, stderr=slave_fd, env=env, cwd=cwd
        )
        os.close(slave_fd)
        self.fd = master_fd
        self.out = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.out += data

    def mark(self) -> int:
        with self.lock:
            return len(self.out)

    def shows(self, text: str, since: int = 0) -> bool:
        with self.lock:
            return self.out.find(text.encode(), since) >= 0

    def wait_shows(self, text: str, since: int = 0, timeout: float = 20) -> None:
        wait_for(lambda: self.shows(text, since), timeout, f"the dashboard to show {text!r}")

    def send(self, data: bytes) -> int:
        since = self.mark()
        os.write(self.fd, data)
        return since


@pytest.fixture
def terminal(start_master: Callable[[str], MasterProc]) -> Iterator[Terminal]:
    m = start_master(WORKERS)
    for n in range(3):
        m.wait_state(f"worker:{n}", "RUNNING")
    argv = [PY, "-m", "procsup", "-c", str(m.config), "--no-autostart", "tui"]
    term = Terminal(argv, cwd=str(m.root))
    try:
        term.wait_shows("instances (3)")
        yield term
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
        term.proc.wait(10)
        os.close(term.fd)


def test_arrow_keys_stay_keys_and_escape_clears_the_filter(terminal: Terminal) -> None:
    since = terminal.send(b"/")
    terminal.wait_shows("palette", since)  # the footer redrawn: the filter box has the focus
    since = terminal.send(b"1")
    terminal.wait_shows("(1 of 3)", since)
    # An arrow key, then ":", in one write. Escape would clear the filter, a sequence read as
    # typed text would show "[d". Either order of the two keys is right: textual lets the ":"
    # reach the box while the arrow is still bubbling up to the box's own cursor binding.
    since = terminal.send(b"\x1b[D:")
    wait_for(
        lambda: terminal.shows("filter: 1:", since) or terminal.shows("filter: :1", since),
        20,
        "the filter to read '1:' or ':1'",
    )
    since = terminal.send(b"\x1b")  # the escape key alone: the filter is cleared
    terminal.wait_shows("instances (3)", since)
    terminal.send(b"q")
    assert terminal.proc.wait(10) == 0  # the input thread, asleep until input, was woken
