"""Hostile programs and full disks against the log files (issue 8 cases 1 and 6).

These need root: a system user to attack from, a small tmpfs to fill. They skip without root,
and fail where CI=true (the CI image runs them as root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from procsup.control.client import Client
from tests.harness import MasterProc, child, wait_for

ATTACKER = "procsup-attacker"
SECRET = b"root only: never touched by procsup\n"


def need_root(what: str) -> None:
    if os.geteuid() == 0:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} needs root, and CI=true: run the test suite as root in CI")
    pytest.skip(f"{what} needs root")


@pytest.fixture
def attacker() -> pwd.struct_passwd:
    """An unprivileged system user, created once (and left for later runs)."""
    need_root("the symlink attack test")
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(ATTACKER)
    done = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ATTACKER],
        capture_output=True,
        text=True,
    )
    if done.returncode not in (0, 9):  # 9: created meanwhile by a parallel run
        pytest.fail(f"useradd {ATTACKER} failed: {done.stderr.strip()}")
    return pwd.getpwnam(ATTACKER)


def as_attacker(cwd: Path, *argv: str) -> None:
    subprocess.run(list(argv), user=ATTACKER, group=ATTACKER, cwd=cwd, check=True)


# A program run as the attacker: `ready`, then a burst of ~6 KB of lines on each SIGUSR1 (over
# log_max_size, so every burst asks for a rotation). Shell: the attacker cannot read our python.
VICTIM_SH = """\
burst() {
  i=0
  while [ $i -lt 100 ]; do
    echo "burst $i ..............................................."
    i=$((i+1))
  done
}
trap burst USR1
echo ready
while :; do sleep 1 & wait $!; done
"""


def victim_master(factory: Callable[[str], MasterProc], autostart: bool) -> MasterProc:
    m = factory(f"""
        [programs.victim]
        command = "/bin/sh victim.sh"
        user = "{ATTACKER}"
        autostart = {str(autostart).lower()}
        start_seconds = 0
        log_max_size = "4KB"
        log_backups = 3
    """)
    os.chmod(m.root, 0o755)  # the program runs in the config's folder, as the attacker
    (m.root / "victim.sh").write_text(VICTIM_SH)
    secret = m.root / "secret"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    return m


def untouched(secret: Path) -> None:
    st = secret.lstat()
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    assert secret.read_bytes() == SECRET


def info(m: MasterProc, name: str) -> str:
    rows = [line for line in m.cli("list").stdout.splitlines() if line.startswith(name)]
    return rows[0] if rows else ""


def signal_until(m: MasterProc, name: str, done: Callable[[], Any], what: str) -> Any:
    """SIGUSR1 `name` every 0.3 s until `done()` is truthy (at most 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m.call("signal", {"signal": "USR1", "names": [name]})
        turn = time.monotonic() + 0.3
        while time.monotonic() < turn:
            result = done()
            if result:
                return result
            time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}; {name}: {m.state(name)}")


def bursts_until(m: MasterProc, done: Callable[[], Any]) -> Any:
    return signal_until(m, "victim:0", done, "the victim's output to get there")


def test_a_program_user_cannot_redirect_its_log_by_symlink(master_factory, attacker):
    """The usual layout: the program's user owns its log folder and swaps the log for a link."""
    m = victim_master(master_factory, autostart=True)
    logs = m.root / "logs"
    logs.mkdir()
    os.chown(logs, attacker.pw_uid, attacker.pw_gid)
    m.start()
    log = m.log_file("victim:0")
    wait_for(lambda: log.exists() and b"ready" in log.read_bytes(), 10, "ready")
    secret = m.root / "secret"
    as_attacker(m.root, "ln", "-sfn", str(secret), str(log))  # replaces the log with a link
    # Noticed at the next write (the file moved away), reopened: refused.
    bursts_until(m, lambda: "refused" in info(m, "victim:0"))
    assert m.cli("restart", "victim").returncode == 0  # a new start opens the log anew
    bursts_until(m, lambda: "dropped" in info(m, "victim:0"))  # rotation due: refused again
    row = info(m, "victim:0")
    assert "RUNNING" in row and "victim-0.out.log refused: it is a symlink" in row, row
    untouched(secret)
    assert log.is_symlink()
    assert m.state("victim:0")["log_dropped"] > 0
    shown = m.cli("logs", "victim", "-n", "200").stdout
    assert "procsup: log " in shown and "refused" in shown
    master_log = m.log()
    assert "refused: it is a symlink" in master_log and "Traceback" not in master_log


@pytest.mark.parametrize("planted", ["symlink", "fifo", "own-file"])
def test_a_world_writable_log_dir_cannot_be_used_against_the_master(
    master_factory, attacker, planted
):
    """log_dir 1777 (sticky, like /tmp), no fs.protected_symlinks: the attacker plants something
    at the log's name before the program starts."""
    m = victim_master(master_factory, autostart=False)
    logs = m.root / "logs"
    logs.mkdir()
    os.chmod(logs, 0o1777)
    log, secret = m.log_file("victim:0"), m.root / "secret"
    plant = {
        "symlink": ("ln", "-s", str(secret), str(log)),
        "fifo": ("mkfifo", str(log)),
        "own-file": ("touch", str(log)),
    }[planted]
    as_attacker(m.root, *plant)
    m.start()
    with Client(m.socket, timeout=10) as client:
        stream = client.stream("events")
        next(stream)  # the snapshot
        assert m.cli("start", "victim").returncode == 0
        event = next(e for e in stream if e["type"] == "log" and e["error"])
    assert event["path"] == str(log) and event["error"].startswith("refused: it ")
    bursts_until(m, lambda: "dropped" in info(m, "victim:0"))
    assert m.cli("restart", "victim").returncode == 0
    dropped = m.state("victim:0")["log_dropped"]
    bursts_until(m, lambda: m.state("victim:0")["log_dropped"] > dropped)  # rotation due, too
    assert m.state("victim:0")["state"] == "RUNNING"
    assert "refused: it " in info(m, "victim:0")
    untouched(secret)
    assert "Traceback" not in m.log()
    # Once the planted thing is gone, the output reaches a file of the master's own by itself.
    log.unlink()
    bursts_until(m, lambda: log.exists() and b"burst 99" in log.read_bytes())
    assert log.stat().st_uid == 0 and not m.state("victim:0")["log_error"]
    assert "writing again" in m.log()


# --- a full disk ------------------------------------------------------------------------------


@pytest.fixture
def tmpfs_logs(master_factory: Callable[[str], MasterProc]) -> Iterator[MasterProc]:
    """A master (not started) whose log_dir is a 1 MB tmpfs; unmounted after the master is gone."""
    need_root("mounting a tmpfs")
    m = master_factory(f"""
        [programs.steady]
        command = "{child("bursty.py", "16384")}"
        start_seconds = 0
        [programs.filler]
        command = "{child("numbered.py", "40000")}"
        autostart = false
        start_seconds = 0
        log_max_size = 0
    """)
    logs = m.root / "logs"
    logs.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(logs)], check=True)
    try:
        yield m
    finally:
        m.stop()
        subprocess.run(["umount", str(logs)], check=True)


FULL = "write failed: No space left on device; output is dropped"


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def bursts(m: MasterProc) -> int:
    log = m.log_file("steady:0")
    return log.read_bytes().count(b" end\n") if log.exists() else 0


def ping_until(m: MasterProc, done: Callable[[], Any], what: str) -> Any:
    return signal_until(m, "steady:0", done, what)


def fill(m: MasterProc) -> None:
    assert m.cli("start", "filler").returncode == 0
    wait_for(lambda: m.state("filler:0")["log_error"], 10, "the filler's writes to fail")
    ping_until(m, lambda: m.state("steady:0")["log_error"], "steady's writes to fail")
    row = m.state("steady:0")
    assert "No space left on device" in row["log_error"] and row["log_dropped"] > 0


def test_a_full_disk_drops_counts_and_resumes_by_itself(tmpfs_logs):
    m = tmpfs_logs.start()
    logs = m.root / "logs"
    wait_for(lambda: b"ready" in m.log_file("steady:0").read_bytes(), 10, "ready")
    fill(m)
    assert m.log().count(FULL) == 2  # once per file (filler, steady), not once per write
    assert "Traceback" not in m.log()
    assert "No space left on device" in info(m, "steady:0")
    assert "write failed: No space left on device" in m.cli("logs", "steady").stdout

    # First aid: stop the filler and delete its logs. The master holds them no more.
    assert m.cli("stop", "filler").returncode == 0
    for f in logs.glob("filler-0.*"):
        f.unlink()
    wait_for(lambda: free_bytes(logs) > 900_000, 5, "the deleted files' space to be freed")
    before = bursts(m)
    ping_until(m, lambda: bursts(m) > before, "steady's output in its file again")
    assert m.state("steady:0")["log_error"] is None
    assert "writing again" in m.log()

    fill(m)  # and once more: the same story, told once more
    assert m.log().count(FULL) == 4
