"""The keeper on its own: the dead man's switch of a run under a Redis lease, driven over its
control socket exactly as the master drives it (`D <kill_by>` in; `E`, `L`, `X <code>` out),
with real runs and real signals.

The master starts it as `python -I -S keeper.py …` (fast, isolated); here it runs without those
flags, which changes nothing for a stdlib-only script but lets the test session's coverage hook
see it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from procsup.tasks.taskrun import KEEPER
from tests.harness import PY, wait_for


class KeeperProc:
    def __init__(self, command: list[str], kill_by: float = 0.0, grace: float = 1.0) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.link = ours
        self._buf = b""
        argv = [PY, KEEPER, str(theirs.fileno()), str(int(signal.SIGTERM)), repr(grace)]
        self.proc = subprocess.Popen(
            [*argv, repr(kill_by), "--", *command],
            pass_fds=(theirs.fileno(),),
            start_new_session=True,  # it signals its own process group: never the test's
            stdin=subprocess.DEVNULL,
        )
        theirs.close()

    def tell(self, line: str) -> None:
        self.link.sendall(line.encode() + b"\n")

    def line(self, timeout: float = 10.0) -> str:
        """The keeper's next line to the master."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line from the keeper in {timeout}s ({self._buf!r})")
            self.link.settimeout(left)
            data = self.link.recv(4096)
            if not data:
                raise AssertionError(f"the keeper closed the link ({self._buf!r})")
            self._buf += data
        raw, self._buf = self._buf.split(b"\n", 1)
        return raw.decode()

    def close(self) -> None:
        self.link.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def keepers() -> Iterator[list[KeeperProc]]:
    made: list[KeeperProc] = []
    yield made
    for k in made:
        k.close()


def start(keepers: list[KeeperProc], command: list[str], **kw: float) -> KeeperProc:
    k = KeeperProc(command, **kw)
    keepers.append(k)
    return k


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"Z"


def test_the_runs_exit_code_is_reported_and_returned(keepers: list[KeeperProc]) -> None:
    k = start(keepers, ["sh", "-c", "exit 3"])
    assert k.line() == "X 3"
    assert k.proc.wait(10) == 3


def test_a_run_that_cannot_start_is_reported(keepers: list[KeeperProc]) -> None:
    k = start(keepers, ["/nonexistent/run"])
    assert k.line() == "E No such file or directory: /nonexistent/run"
    assert k.proc.wait(10) == 127


def test_the_run_is_stopped_before_its_deadline(keepers: list[KeeperProc]) -> None:
    kill_by = time.monotonic() + 1.0
    k = start(keepers, ["sleep", "60"], kill_by=kill_by, grace=0.3)
    assert k.line() == "L"  # the deadline minus the grace has come: stopping
    assert k.line() == f"X -{int(signal.SIGTERM)}"
    assert time.monotonic() < kill_by + 0.5
    assert k.proc.wait(10) == 128 + signal.SIGTERM


def test_a_run_that_ignores_the_stop_signal_is_killed_by_the_deadline(
    keepers: list[KeeperProc],
) -> None:
    kill_by = time.monotonic() + 1.5
    k = start(keepers, ["sh", "-c", "trap '' TERM; sleep 60"], kill_by=kill_by, grace=0.3)
    assert k.line() == "L"  # at 1.2 s, when the shell has long ignored SIGTERM
    assert k.line() == f"X -{int(signal.SIGKILL)}"


def test_a_new_deadline_moves_the_stop_and_a_lost_master_stops_the_run(
    keepers: list[KeeperProc], tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    k = start(
        keepers,
        ["sh", "-c", f"echo $$ > {pidfile}; exec sleep 60"],
        kill_by=time.monotonic() + 0.6,
        grace=0.2,
    )
    k.tell(f"D {time.monotonic() + 60}")  # renewed: the first deadline no longer holds
    run = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 5, "the run"))
    time.sleep(1.0)  # well past the first deadline
    assert not gone(run) and k.proc.poll() is None
    k.tell("D 0")  # no deadline at all
    k.link.close()  # the master is gone: nobody renews the lease, so the run stops at once
    assert k.proc.wait(10) == 128 + signal.SIGTERM
    assert gone(run)


def test_what_the_run_left_behind_is_stopped_before_the_end_is_reported(
    keepers: list[KeeperProc], tmp_path: Path
) -> None:
    pidfile = tmp_path / "daemon"
    k = start(keepers, ["sh", "-c", f"sleep 60 & echo $! > {pidfile}; exit 0"])
    assert k.line() == "X 0"
    assert gone(int(pidfile.read_text()))
