"""Daemons that hide from process tracking: fork, setsid, fork again, then an empty environment
(`env -i`) or an overwritten one (setproctitle-style). Each test runs under both trackings:
`cgroup` must catch everything; `process` catches what README's "How tracking works" says
and no more (the documented limits are asserted, or skipped with the reason)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from procsup.config.load import ConfigError, load_config
from procsup.control.client import NoMaster
from procsup.engine.cgroups import probe, subtree_path
from tests.harness import PY, MasterProc, child, short_tmpdir, wait_for

MODES = ("env-i", "clobber")
LIMIT = "process tracking cannot find a daemon without its mark once the master is gone (README)"


def cgroups_writable() -> bool:
    return probe("auto", "/tmp").kind == "cgroup"


def require_cgroups() -> None:
    """Skip without a writable cgroup2 hierarchy (not root); in CI that is a failure."""
    if cgroups_writable():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("no writable cgroup v2 hierarchy, and CI=true: run the tests as root")
    pytest.skip("no writable cgroup v2 hierarchy (needs root or a delegated cgroup)")


@pytest.fixture(params=["cgroup", "process"])
def tracking(request: pytest.FixtureRequest) -> str:
    if request.param == "cgroup":
        require_cgroups()
    return str(request.param)


@pytest.fixture
def daemons() -> Iterator[list[int]]:
    """Pids of hidden daemons a test saw; whatever a failing test left is killed after it."""
    seen: list[int] = []
    yield seen
    for pid in seen:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def config(tracking: str, extra: str = "") -> str:
    programs = "".join(
        f"""
        [programs.{mode.replace("-", "")}]
        command = "{child("env_escaper.py", mode, "{num}." + mode + ".pid")}"
        directory = "."
        start_seconds = 0
        stop_timeout = "0.5s"
        """
        for mode in MODES
    )
    return f'[procsup]\ntracking = "{tracking}"\n{programs}{extra}'


def hidden_daemons(m: MasterProc, seen: list[int]) -> list[int]:
    """Wait for both grandchildren; check that they really lost every procsup mark."""
    pids = []
    for mode in MODES:
        pidfile = m.root / f"0.{mode}.pid"
        pid = int(wait_for(lambda f=pidfile: f.exists() and f.read_text(), 10, f"{mode} daemon"))
        seen.append(pid)
        pids.append(pid)

    def unmarked() -> bool:
        envs = [psutil.Process(pid).environ() for pid in pids]
        return all(not any(k.startswith("PROCSUP_") for k in env) for env in envs)

    wait_for(unmarked, 5, "the daemons to drop their environment")
    return pids


def subtree(m: MasterProc) -> Path:
    return Path(subtree_path(str(m.root / "run")))


def test_stop_reaches_daemons_that_hid_their_environment(start_master, tracking, daemons):
    m = start_master(config(tracking))
    pids = hidden_daemons(m, daemons)
    assert m.cli("stop", "all").returncode == 0
    if tracking == "cgroup":
        wait_for(lambda: not any(map(alive, pids)), 5, "the hidden daemons to be killed")
        leaves = lambda: [p for p in subtree(m).iterdir() if p.is_dir()]  # noqa: E731
        wait_for(lambda: not leaves(), 5, "the leaves to be removed (after the reply)")
    else:  # documented: unattributable until the master shuts down, then stopped
        assert all(map(alive, pids))
        assert m.stop() == 0
        wait_for(lambda: not any(map(alive, pids)), 5, "the daemons to go with the master")


def test_shutdown_reaches_daemons_that_hid_their_environment(start_master, tracking, daemons):
    m = start_master(config(tracking))
    pids = hidden_daemons(m, daemons)
    assert m.call("hello")["tracking"] == tracking
    assert m.stop() == 0
    wait_for(lambda: not any(map(alive, pids)), 5, "the hidden daemons to be gone")
    assert not subtree(m).exists()  # the whole cgroup tree went with the master


def test_new_master_stops_hidden_daemons_of_a_killed_one(master_factory, tracking, daemons):
    m = master_factory(config(tracking)).start()
    pids = hidden_daemons(m, daemons)
    m.kill9()
    assert all(map(alive, pids))  # the kill -9 itself stops nothing
    for mode in MODES:
        (m.root / f"0.{mode}.pid").unlink()
    m.start()
    if tracking == "process":  # the documented limit (README, How tracking works)
        m.call("list")  # the new master is up and has looked for leftovers
        assert all(map(alive, pids)), LIMIT
        return
    wait_for(lambda: not any(map(alive, pids)), 10, "the old hidden daemons to be killed")
    new = hidden_daemons(m, daemons)  # fresh copies, one of each
    assert not set(new) & set(pids)
    leaves = sorted(p.name for p in subtree(m).iterdir() if p.is_dir())
    assert len(leaves) == 2 and all(n.startswith("inst-") for n in leaves)


def test_task_timeout_reaches_a_hidden_grandchild(start_master, tracking, daemons, tmp_path):
    pidfile = tmp_path / "task.pid"
    m = start_master(
        f"""
        [procsup]
        tracking = "{tracking}"
        [tasks.hide]
        command = "{child("env_escaper.py", "env-i", str(pidfile))}"
        schedule = "@every 1h"
        timeout = "1s"
        stop_timeout = "0.5s"
        """
    )
    m.cli("run", "hide")
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text(), 10, "the daemon"))
    daemons.append(pid)
    runs = lambda: m.call("history", {"task": "hide"})["runs"]  # noqa: E731
    wait_for(lambda: any(r["status"] == "timeout" for r in runs()), 10, "the timeout")
    if tracking == "cgroup":
        wait_for(lambda: not alive(pid), 5, "the hidden grandchild to be killed")
    else:  # documented: it lives until the master shuts down
        assert alive(pid)
        assert m.stop() == 0
        wait_for(lambda: not alive(pid), 5, "the grandchild to go with the master")


def test_list_metrics_come_from_the_cgroup(start_master, daemons):
    require_cgroups()
    m = start_master(config("cgroup"))
    hidden = dict(zip(("envi:0", "clobber:0"), hidden_daemons(m, daemons), strict=True))
    rows = {r["name"]: r for r in m.call("list", {"stats": True})["instances"]}
    for name, daemon in hidden.items():
        assert rows[name]["cpu"] is not None and rows[name]["cpu"] >= 0
        leader_rss = psutil.Process(rows[name]["pid"]).memory_info().rss
        daemon_rss = psutil.Process(daemon).memory_info().rss
        assert rows[name]["rss"] >= leader_rss + daemon_rss // 2  # the hidden one counts


def test_info_and_check_say_which_tracking(master_factory, tracking):
    m = master_factory(config(tracking))
    checked = m.cli("check")
    assert checked.returncode == 0, checked.stderr
    assert f"tracking: {tracking} (" in checked.stdout
    m.start()
    info = m.cli("info")
    assert info.returncode == 0, info.stderr
    assert f"tracking:        {tracking}" in info.stdout


def test_tracking_key_is_validated(tmp_path):
    path = tmp_path / "procsup.toml"
    path.write_text('[procsup]\ntracking = "cgroups"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "procsup.tracking" in str(err.value) and "process" in str(err.value)


@pytest.fixture
def full_cgroup() -> Iterator[Path]:
    """A cgroup that may have no child cgroup (cgroup.max.descendants = 0): a master started in
    it can make none, as on a host without delegation."""
    require_cgroups()
    mount = Path(subtree_path("/")).parent
    path = mount / f"procsup-test-full-{os.getpid()}"
    path.mkdir()
    (path / "cgroup.max.descendants").write_text("0")
    yield path
    with contextlib.suppress(OSError):
        for pid in (path / "cgroup.procs").read_text().split():
            os.kill(int(pid), signal.SIGKILL)
    wait_for(lambda: "populated 0" in (path / "cgroup.events").read_text(), 5, "empty cgroup")
    path.rmdir()


def start_in(cgroup: Path, m: MasterProc) -> subprocess.Popen[bytes]:
    procs = os.open(cgroup / "cgroup.procs", os.O_WRONLY)
    try:
        return subprocess.Popen(
            [PY, "-m", "procsup", "-c", str(m.config), "daemon", "-f"],
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            preexec_fn=lambda: os.write(procs, b"0") and None,
        )
    finally:
        os.close(procs)


def test_without_cgroups_auto_falls_back_and_cgroup_refuses_to_start(
    master_factory: Callable[[str], MasterProc], full_cgroup: Path
) -> None:
    forced = master_factory('[procsup]\ntracking = "cgroup"\n')
    proc = start_in(full_cgroup, forced)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert 'tracking = "cgroup"' in err.decode() and "cannot create cgroups" in err.decode()

    auto = master_factory(config("auto"))
    proc = start_in(full_cgroup, auto)
    try:
        wait_for(lambda: _answers(auto), 15, "the master to answer")
        info = auto.call("hello")
        assert info["tracking"] == "process" and "cannot create cgroups" in info["tracking_detail"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def _answers(m: MasterProc) -> bool:
    try:
        m.call("hello")
        return True
    except (NoMaster, OSError):
        return False


def test_cgroup_kill_without_cgroup_kill_file(daemons: list[int]) -> None:
    """The fallback for kernels before 5.14 (freeze, SIGKILL each member, thaw) empties a cgroup
    whose members fork."""
    require_cgroups()
    from procsup.engine.cgroups import Cgroup

    root = short_tmpdir()
    cg = Cgroup(str(Path(subtree_path(str(root))).parent / f"procsup-test-kill-{os.getpid()}"))
    os.mkdir(cg.path)
    procs = cg.open_procs()
    try:
        proc = subprocess.Popen(
            ["sh", "-c", "sleep 100 & sleep 100 & sleep 100"],
            preexec_fn=lambda: os.write(procs, b"0") and None,
        )
        wait_for(lambda: len(cg.pids()) >= 3, 15, "three sleeps in the cgroup")
        daemons.extend(cg.pids())
        cg.kill_each()
        wait_for(lambda: not cg.populated(), 5, "the cgroup to empty")
        proc.wait(5)
    finally:
        os.close(procs)
        if cg.populated():  # the test failed: leave nothing behind
            cg.kill()
            wait_for(lambda: not cg.populated(), 5, "the cgroup to empty")
        assert cg.remove()
        root.rmdir()


def test_a_program_cannot_leave_its_cgroup(start_master):
    """A program running as another user cannot write itself out of its cgroup."""
    require_cgroups()
    try:
        import pwd

        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody'")
    out = Path(subtree_path("/")).parent / "cgroup.procs"
    m = start_master(
        f"""
        [procsup]
        tracking = "cgroup"
        [programs.leaver]
        command = ["sh", "-c", "echo $$ > {out}; exec sleep 100"]
        directory = "/"
        user = "nobody"
        start_seconds = 0
        """
    )
    pid = m.wait_state("leaver:0", "RUNNING")["pid"]
    wait_for(lambda: psutil.Process(pid).name() == "sleep", 5, "the attempt to be over")
    assert "ermission denied" in m.log_file("leaver:0", "err").read_text()
    cgroup = Path(f"/proc/{pid}/cgroup").read_text()
    assert f"{subtree(m).name}/inst-" in cgroup


def test_list_counts_a_process_that_joins_an_idle_cgroup_later(start_master, daemons):
    """`list` re-reads an instance's cgroup.procs only when the cgroup used CPU since its last
    look (issue 14): a fork costs CPU, so a child forked after a first look is counted."""
    require_cgroups()
    m = start_master(
        f"""
        [procsup]
        tracking = "cgroup"
        [programs.late]
        command = "{child("late_fork.py", "40", "holder.pid")}"
        directory = "."
        start_seconds = 0
        """
    )
    row = m.wait_state("late:0", "RUNNING")
    wait_for(lambda: "idle" in m.cli("logs", "late", "-n", "5").stdout, 10, "the leader to idle")
    first = m.call("list", {"names": ["late:0"], "stats": True})["instances"][0]
    assert first["rss"] < 40 * 1024 * 1024
    os.kill(row["pid"], signal.SIGUSR1)
    pidfile = m.root / "holder.pid"
    daemons.append(int(wait_for(lambda: pidfile.exists() and pidfile.read_text(), 10, "holder")))

    def counted() -> bool:
        rows = m.call("list", {"names": ["late:0"], "stats": True})["instances"]
        return bool(rows[0]["rss"] >= 40 * 1024 * 1024)

    wait_for(counted, 5, "the forked child's 40 MB in the instance's RSS")
