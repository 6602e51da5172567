"""Children cloned straight into their cgroup (clone3 with CLONE_INTO_CGROUP): born in the leaf,
set up as Popen would set them up, and failing with the OSError Popen would raise. Real
children spawned from this test process through `procsup.engine.process.spawn`, plus one through a
real master."""

from __future__ import annotations

import grp
import os
import platform
import pwd
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from procsup.engine.cgroups import Cgroup, cgroup2_mount
from procsup.engine.process import Child, SpawnSpec, spawn
from tests.harness import CHILDREN, MasterProc
from tests.integration.test_tracking import require_cgroups


def run(spec: SpawnSpec) -> tuple[Child, str]:
    """Spawn `spec`, read its stdout to the end, reap it; (child, output)."""
    child = spawn(spec)
    os.set_blocking(child.stdout_fd, True)
    out = b""
    while chunk := os.read(child.stdout_fd, 65536):
        out += chunk
    os.close(child.stdout_fd)
    if child.stderr_fd is not None:
        os.close(child.stderr_fd)
    os.waitpid(child.pid, 0)
    return child, out.decode()


def relative(cg: Cgroup) -> str:
    """The leaf as /proc/PID/cgroup names it (relative to the cgroup2 mount's root)."""
    mount = cgroup2_mount()
    assert mount is not None
    point, root = mount
    return f"{root.rstrip('/')}/{os.path.relpath(cg.path, point)}"


def children() -> set[int]:
    """This process's children, zombies included (/proc/self/task/*/children)."""
    found: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        found |= {int(p) for p in Path(f"/proc/self/task/{task}/children").read_text().split()}
    return found


def test_a_child_is_born_in_its_leaf(leaf: Cgroup) -> None:
    child, out = run(SpawnSpec(["cat", "/proc/self/cgroup"], dict(os.environ), cgroup=leaf))
    assert child.popen is None  # the clone3 path, not Popen
    assert f"0::{relative(leaf)}\n" in out


def test_a_master_thread_means_the_old_path_still_in_the_leaf(leaf: Cgroup) -> None:
    done = threading.Event()
    thread = threading.Thread(target=done.wait)
    thread.start()
    try:
        child, out = run(SpawnSpec(["cat", "/proc/self/cgroup"], dict(os.environ), cgroup=leaf))
    finally:
        done.set()
        thread.join()
    assert child.popen is not None  # joined through the preexec hook instead
    assert f"0::{relative(leaf)}\n" in out


def popen_error(argv: list[str], cwd: str | None) -> OSError:
    try:
        subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL).wait()
    except OSError as exc:
        return exc
    raise AssertionError(f"{argv} started under Popen")


@pytest.mark.parametrize("case", ["missing", "not-in-path", "directory", "not-executable", "cwd"])
def test_exec_errors_are_the_ones_popen_raises(leaf: Cgroup, tmp_path: Path, case: str) -> None:
    plain = tmp_path / "plain.sh"
    plain.write_text("#!/bin/sh\necho hi\n")
    argv, cwd = {
        "missing": (["./bin/worker.sh"], str(tmp_path)),
        "not-in-path": (["no-such-program-here"], None),
        "directory": ([str(tmp_path)], None),
        "not-executable": ([str(plain)], None),
        "cwd": (["true"], str(tmp_path / "gone")),
    }[case]
    before = children()
    with pytest.raises(OSError) as raised:
        spawn(SpawnSpec(argv, dict(os.environ), cwd=cwd, cgroup=leaf))
    want = popen_error(argv, cwd)
    got = raised.value
    assert (type(got), got.errno, got.strerror, got.filename) == (
        type(want),
        want.errno,
        want.strerror,
        want.filename,
    )
    assert children() == before  # the failed child was reaped: no zombie
    assert not leaf.populated()


def status_fields(text: str) -> dict[str, str]:
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def test_user_and_signals(leaf: Cgroup) -> None:
    """The spawned process itself reports (cat: it changes neither its ids nor its mask)."""
    nobody = pwd.getpwnam("nobody")
    groups = [g.gr_gid for g in grp.getgrall() if "nobody" in g.gr_mem]
    spec = SpawnSpec(["cat", "/proc/self/status"], dict(os.environ), cwd="/", user="nobody")
    spec.cgroup = leaf
    child, out = run(spec)
    assert child.popen is None
    fields = status_fields(out)
    assert fields["Uid"].split() == [str(nobody.pw_uid)] * 4
    assert fields["Gid"].split() == [str(nobody.pw_gid)] * 4
    assert sorted(int(g) for g in fields["Groups"].split()) == sorted(groups)  # root's dropped
    assert int(fields["SigBlk"], 16) == 0  # nothing blocked
    ignored = int(fields["SigIgn"], 16)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # ignored by Python, back to default
        assert ignored & (1 << (sig - 1)) == 0, sig


def test_only_stdio_and_pass_fds_are_inherited(leaf: Cgroup) -> None:
    passed = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    leaky = os.open("/dev/null", os.O_RDONLY)  # inheritable, but not passed: must not leak
    os.set_inheritable(leaky, True)
    try:
        spec = SpawnSpec(["sh", "-c", "ls /proc/$$/fd"], dict(os.environ), pass_fds=(passed,))
        spec.cgroup = leaf
        child, out = run(spec)
    finally:
        os.close(passed)
        os.close(leaky)
    assert child.popen is None
    assert {int(line) for line in out.split()} == {0, 1, 2, passed}


def test_a_master_spawns_into_the_leaf_through_clone3(
    start_master: Callable[[str], MasterProc],
) -> None:
    require_cgroups()
    m = start_master("""
        [procsup]
        tracking = "cgroup"
        [programs.where]
        command = "cat /proc/self/cgroup"
        autorestart = "never"
        start_seconds = 0
        """)
    m.wait_state("where:0", "EXITED")
    out = m.log_file("where:0").read_text()
    assert "/inst-" in out.split("0::", 1)[1].split("\n", 1)[0]
    assert "clone3" not in m.log()  # no fallback warning: the clone3 path was taken


def test_where_seccomp_denies_clone3_children_join_after_fork(leaf: Cgroup) -> None:
    """ENOSYS from clone3 (a container's seccomp profile): the old path, warned about once."""
    if platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip(f"the test's seccomp filter knows no {platform.machine()}")
    repo = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, str(CHILDREN / "no_clone3.py"), leaf.path],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, PYTHONPATH=repo),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"popen {relative(leaf)}"] * 2
    assert done.stderr.count("clone3 into a cgroup is not available") == 1
