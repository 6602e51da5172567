"""The spawn helper (engine/spawnhelper.py): children cloned by a small helper process with
CLONE_PARENT are this process's children, born in their leaf, set up exactly as the master's own
clone path sets them up; when the helper is killed, the next spawn starts a new one and says so.
Real children from this test process through `procsup.engine.process.spawn`, plus a real
master whose helper is killed with SIGKILL."""

from __future__ import annotations

import logging
import os
import pwd
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from procsup.engine import spawnhelper
from procsup.engine.cgroups import Cgroup, subtree_path
from procsup.engine.process import SpawnSpec, spawn, submit
from tests.harness import MasterProc, wait_for
from tests.integration.test_cgspawn import (
    children,
    popen_error,
    relative,
    run,
    status_fields,
)
from tests.integration.test_tracking import require_cgroups


@pytest.fixture
def helper() -> Iterator[spawnhelper.SpawnHelper]:
    require_cgroups()
    started = spawnhelper.start()
    yield started
    spawnhelper.stop()


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_the_child_is_ours_and_born_in_its_leaf(
    helper: spawnhelper.SpawnHelper, leaf: Cgroup
) -> None:
    child = spawn(SpawnSpec(["sleep", "30"], dict(os.environ), cgroup=leaf))
    try:
        assert child.popen is None
        assert parent_of(child.pid) == os.getpid()  # CLONE_PARENT: not the helper's
        where = Path(f"/proc/{child.pid}/cgroup").read_text()
        assert f"0::{relative(leaf)}\n" in where
    finally:
        os.kill(child.pid, signal.SIGKILL)
        assert os.waitpid(child.pid, 0)[0] == child.pid  # we reap it, as with our own clone


@pytest.mark.parametrize("case", ["missing", "not-in-path", "directory", "cwd"])
def test_exec_errors_are_the_ones_popen_raises(
    helper: spawnhelper.SpawnHelper, leaf: Cgroup, tmp_path: Path, case: str
) -> None:
    argv, cwd = {
        "missing": (["./bin/worker.sh"], str(tmp_path)),
        "not-in-path": (["no-such-program-here"], None),
        "directory": ([str(tmp_path)], None),
        "cwd": (["true"], str(tmp_path / "gone")),
    }[case]
    before = children()
    with pytest.raises(OSError) as raised:
        spawn(SpawnSpec(argv, dict(os.environ), cwd=cwd, cgroup=leaf))
    want, got = popen_error(argv, cwd), raised.value
    assert (got.errno, got.strerror, got.filename) == (want.errno, want.strerror, want.filename)
    assert children() - {helper.pid} == before - {helper.pid}  # reaped: no zombie
    assert not leaf.populated()


def test_signals_user_and_descriptors_are_the_masters(
    helper: spawnhelper.SpawnHelper, leaf: Cgroup
) -> None:
    """What the child inherits comes from this process, not from the helper: ignored signals
    stay ignored, caught ones go back to default, SIGPIPE too; passed descriptors keep their
    numbers (a low one and one above everything the helper has open); nothing else leaks."""
    low = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    high = os.dup2(low, 900, inheritable=False)
    old_usr1 = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    old_usr2 = signal.signal(signal.SIGUSR2, lambda *_: None)
    try:
        script = "cat /proc/self/status; echo FDS; ls /proc/self/fd"
        spec = SpawnSpec(
            ["sh", "-c", script], dict(os.environ), user="nobody", pass_fds=(low, high)
        )
        spec.cgroup = leaf
        child, out = run(spec)
    finally:
        signal.signal(signal.SIGUSR1, old_usr1)
        signal.signal(signal.SIGUSR2, old_usr2)
        os.close(low)
        os.close(high)
    assert child.popen is None
    status, _, fds = out.partition("FDS\n")
    fields = status_fields(status)
    ignored = int(fields["SigIgn"], 16)
    assert ignored & (1 << (signal.SIGUSR1 - 1))
    assert not ignored & (1 << (signal.SIGUSR2 - 1))
    assert not ignored & (1 << (signal.SIGPIPE - 1))
    assert not ignored & (0b11 << 31)  # glibc's internal signals 32 and 33 are not ignored
    assert int(fields["SigBlk"], 16) == 0
    assert fields["Uid"].split() == [str(pwd.getpwnam("nobody").pw_uid)] * 4
    assert {int(fd) for fd in fds.split()} >= {0, 1, 2, low, high}
    assert {int(fd) for fd in fds.split()} <= {0, 1, 2, 3, low, high}  # 3: ls's own dir fd


def test_a_child_without_passed_descriptors_is_set_up_the_same(
    helper: spawnhelper.SpawnHelper, leaf: Cgroup, tmp_path: Path
) -> None:
    """The usual child (no passed descriptor), which the helper plans before the clone: the
    same signals, user, folder, session, stdin, descriptors and environment, its own pid in
    `pid_env`, stderr on its own pipe (not among the output lines)."""
    old_usr1 = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    old_usr2 = signal.signal(signal.SIGUSR2, lambda *_: None)
    try:
        script = (
            "cat /proc/self/status; echo FDS; ls /proc/self/fd; echo REST; pwd; "
            "readlink /proc/self/fd/0; cut -d' ' -f6 /proc/self/stat; echo $OWN $KEEP; echo E >&2"
        )
        spec = SpawnSpec(
            ["sh", "-c", script],
            {**os.environ, "KEEP": "me"},
            cwd=str(tmp_path),
            user="nobody",
            pid_env="OWN",
        )
        spec.cgroup = leaf
        child, out = run(spec)
    finally:
        signal.signal(signal.SIGUSR1, old_usr1)
        signal.signal(signal.SIGUSR2, old_usr2)
    assert child.popen is None
    status, _, rest = out.partition("FDS\n")
    fds, _, rest = rest.partition("REST\n")
    fields = status_fields(status)
    ignored = int(fields["SigIgn"], 16)
    assert ignored & (1 << (signal.SIGUSR1 - 1))
    assert not ignored & (1 << (signal.SIGUSR2 - 1))
    assert not ignored & (1 << (signal.SIGPIPE - 1))
    assert int(fields["SigBlk"], 16) == 0
    assert fields["Uid"].split() == [str(pwd.getpwnam("nobody").pw_uid)] * 4
    assert {int(fd) for fd in fds.split()} <= {0, 1, 2, 3}  # 3: ls's own dir fd
    cwd, stdin, session, env_line = rest.splitlines()
    assert (cwd, stdin) == (str(tmp_path), "/dev/null")
    assert int(session) == child.pid  # a session of its own
    assert env_line == f"{child.pid} me"


def test_passed_descriptors_reach_their_own_files(
    helper: spawnhelper.SpawnHelper, leaf: Cgroup, tmp_path: Path
) -> None:
    """A child with passed descriptors (a task run's lock), which the helper also plans
    before the clone: each number the child writes to lands in the file this process opened
    under it, stdout and stderr go to their own pipes, stdin is /dev/null, nothing else is
    left open; an error after the descriptors are moved (a missing folder) reads as Popen's."""
    files = [tmp_path / "low", tmp_path / "high"]
    low = os.open(files[0], os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC)
    high = os.dup2(os.open(files[1], os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC), 700, False)
    try:
        script = f"echo L >&{low}; echo H >&{high}; echo E >&2; ls /proc/self/fd"
        script += "; readlink /proc/self/fd/0"
        spec = SpawnSpec(["bash", "-c", script], dict(os.environ), pass_fds=(low, high))
        spec.cgroup = leaf
        _, out = run(spec)
        gone = SpawnSpec(["true"], dict(os.environ), cwd=str(tmp_path / "gone"), pass_fds=(low,))
        gone.cgroup = leaf
        with pytest.raises(OSError) as raised:
            spawn(gone)
    finally:
        os.close(low)
        os.close(high)
    assert [f.read_text() for f in files] == ["L\n", "H\n"]
    *fds, stdin = out.split()
    assert {int(fd) for fd in fds} <= {0, 1, 2, 3, low, high}  # 3: ls's own dir fd
    assert {0, 1, 2, low, high} <= {int(fd) for fd in fds}
    assert stdin == "/dev/null"
    want = popen_error(["true"], str(tmp_path / "gone"))
    assert (raised.value.errno, raised.value.filename) == (want.errno, want.filename)


def test_a_killed_helper_is_replaced_and_the_loss_logged(
    helper: spawnhelper.SpawnHelper, leaf: Cgroup, caplog: pytest.LogCaptureFixture
) -> None:
    first = helper.pid
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not Path(f"/proc/{first}").exists() or _zombie(first), 5, "the helper dead")
    with caplog.at_level(logging.INFO, logger="procsup.engine.spawnhelper"):
        child, out = run(SpawnSpec(["cat", "/proc/self/cgroup"], dict(os.environ), cgroup=leaf))
    assert child.popen is None  # served by the new helper, not by a fallback
    assert f"0::{relative(leaf)}\n" in out
    assert helper.pid != first
    assert f"spawn helper (pid {first}) is gone" in caplog.text
    assert f"spawn helper started (pid {helper.pid})" in caplog.text


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_master_survives_its_helper_being_killed(
    start_master: Callable[[str], MasterProc],
) -> None:
    require_cgroups()
    m = start_master("""
        [procsup]
        tracking = "cgroup"
        [programs.w]
        command = "sleep 300"
        start_seconds = 0
        """)
    first = m.wait_state("w:0", "RUNNING")["pid"]
    started = wait_for(lambda: _helper_pid(m.log()), 5, "the helper's start in the log")
    os.kill(started, signal.SIGKILL)
    assert m.cli("restart", "w:0").returncode == 0
    row = m.wait_state("w:0", "RUNNING")
    assert row["pid"] != first
    assert "/inst-" in Path(f"/proc/{row['pid']}/cgroup").read_text()
    log = m.log()
    assert f"spawn helper (pid {started}) is gone" in log
    assert log.count("spawn helper started") == 2
    assert m.stop() == 0
    assert "re-parented to the master" not in m.log()  # the helper is no orphan at shutdown


def _helper_pid(log: str) -> int | None:
    marker = "spawn helper started (pid "
    if marker not in log:
        return None
    return int(log.split(marker, 1)[1].split(")", 1)[0])


def test_an_autostart_of_programs_that_exit_at_once_sees_every_exit(
    start_master: Callable[[str], MasterProc],
) -> None:
    """The autostart overlaps its spawns (spawnbatch.py): children exit while later ones are
    still being sent for; every exit is still seen, with its code."""
    require_cgroups()
    m = start_master("""
        [procsup]
        tracking = "cgroup"
        [programs.quick]
        command = "sh -c 'exit 3'"
        numprocs = 24
        autorestart = "never"
        start_seconds = 0
        """)
    for n in range(24):
        row = m.wait_state(f"quick:{n}", "EXITED")
        assert row["last_exit"] == 3, row


def test_a_spawn_error_in_the_autostart_reads_as_alone(
    start_master: Callable[[str], MasterProc], tmp_path: Path
) -> None:
    require_cgroups()
    m = start_master(f"""
        [procsup]
        tracking = "cgroup"
        [programs.gone]
        command = "./bin/worker.sh"
        directory = "{tmp_path}"
        numprocs = 3
        restart_delay = "30s"
        [programs.fine]
        command = "sleep 300"
        numprocs = 3
        start_seconds = 0
        """)
    want = f"No such file or directory: ./bin/worker.sh (relative to {tmp_path})"
    for n in range(3):
        assert m.wait_state(f"gone:{n}", "BACKOFF")["spawn_error"] == want
        assert m.wait_state(f"fine:{n}", "RUNNING")["pid"]


def test_requests_out_when_the_helper_dies_are_spawned_again_once_each(
    helper: spawnhelper.SpawnHelper, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Spawns sent for and not yet answered when the helper is killed: each is made again
    (by a new helper), and each leaf ends with exactly one live process."""
    base = subtree_path(str(tmp_path))
    os.makedirs(base, exist_ok=True)
    leaves = [Cgroup(f"{base}/inst-{n}") for n in range(3)]
    for cg in leaves:
        os.mkdir(cg.path)
    try:
        specs = [SpawnSpec(["sleep", "30"], dict(os.environ), cgroup=cg) for cg in leaves]
        pending = [submit(spec) for spec in specs]
        first = helper.pid
        os.kill(first, signal.SIGKILL)
        with caplog.at_level(logging.INFO, logger="procsup.engine.spawnhelper"):
            kids = [p.complete() for p in pending]
        assert f"spawn helper (pid {first}) is gone" in caplog.text
        for cg, kid in zip(leaves, kids, strict=True):
            live = wait_for(lambda cg=cg: _settled(cg), 5, f"{cg.path} to settle")
            assert live == [kid.pid]
            os.close(kid.stdout_fd)
            if kid.stderr_fd is not None:
                os.close(kid.stderr_fd)
    finally:
        for cg in leaves:
            cg.kill()
            wait_for(lambda cg=cg: not cg.populated(), 5, f"{cg.path} to empty")
            cg.remove()
        _reap_all()
        os.rmdir(base)


def _settled(cg: Cgroup) -> list[int] | None:
    """The leaf's live members, once the killed ones are gone from it."""
    live = [pid for pid in cg.pids() if not _zombie(pid)]
    return live if len(live) == 1 and len(cg.pids()) == 1 else None


def _reap_all() -> None:
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return
