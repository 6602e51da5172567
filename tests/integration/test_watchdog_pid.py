"""WATCHDOG_PID, as systemd sets it: the main process's own pid beside WATCHDOG_USEC, filled in
by the child itself (no parent knows the pid before the fork). Through a real master under both
trackings, with the real libsystemd's sd_watchdog_enabled() and sd_notify() in the child; and
through `process.spawn` on each of its paths (cloned by cgspawn.py, or Popen's child with a
hook when the master runs other threads)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from procsup.engine import cgspawn
from procsup.engine.process import SpawnSpec, spawn
from tests.harness import CHILDREN, PY, child, wait_for
from tests.integration.test_tracking import tracking  # noqa: F401 (a fixture)


def _facts(m, name: str) -> dict:
    line = wait_for(lambda: m.log_file(name).read_text().strip(), 10, f"{name} to report")
    return json.loads(line.splitlines()[0])


def test_a_watchdog_program_gets_its_own_pid_as_watchdog_pid(master_factory, tracking):  # noqa: F811
    m = master_factory(f"""
        [procsup]
        tracking = "{tracking}"

        [programs.wd]
        command = "{child("watchdog_env.py")}"
        notify = true
        watchdog = "1s"

        [programs.plain]
        command = "{child("watchdog_env.py")}"
        notify = true
    """).start()
    assert m.call("hello")["tracking"] == tracking
    row = m.wait_state("wd:0", "RUNNING", timeout=10)
    facts = _facts(m, "wd:0")
    assert facts["WATCHDOG_PID"] == str(facts["pid"]) == str(row["pid"])
    assert facts["WATCHDOG_USEC"] == "1000000"
    if facts["sd_watchdog_enabled"] is not None:  # the real libsystemd agrees: it is ours
        assert facts["sd_watchdog_enabled"] > 0 and facts["usec"] == 1_000_000
        assert row["status_text"] == "libsystemd"
    time.sleep(2)  # twice the watchdog: libsystemd's keep-alives keep it
    assert m.state("wd:0")["restarts"] == 0 and m.state("wd:0")["pid"] == row["pid"]
    plain = _facts(m, "plain:0")  # no watchdog: neither variable, as under systemd
    assert plain["WATCHDOG_PID"] is None and plain["WATCHDOG_USEC"] is None


def test_a_replacement_run_gets_its_new_pid(master_factory):
    m = master_factory(f"""
        [programs.wd]
        command = "{child("watchdog_env.py")}"
        notify = true
        watchdog = "2s"
    """).start()
    first = m.wait_state("wd:0", "RUNNING", timeout=10)["pid"]
    assert m.cli("restart", "wd").returncode == 0
    row = wait_for(lambda: (r := m.state("wd:0"))["pid"] not in (None, first) and r, 10)
    wait_for(lambda: len(m.log_file("wd:0").read_text().splitlines()) >= 2, 10, "2 reports")
    second = json.loads(m.log_file("wd:0").read_text().splitlines()[1])
    assert second["WATCHDOG_PID"] == str(row["pid"]) == str(second["pid"])


def _run(spec: SpawnSpec) -> tuple[bool, dict]:
    """Spawn `spec` from this process; (cloned by cgspawn.py, its JSON report)."""
    proc = spawn(spec)
    os.set_blocking(proc.stdout_fd, True)
    out = b""
    while chunk := os.read(proc.stdout_fd, 65536):
        out += chunk
    os.close(proc.stdout_fd)
    if proc.stderr_fd is not None:
        os.close(proc.stderr_fd)
    os.waitpid(proc.pid, 0)
    report = json.loads(out)
    assert report["pid"] == proc.pid
    report["env"].pop("LC_CTYPE", None)  # Python's own C-locale coercion in the child
    return proc.popen is None, report


def _spec(tmp_path: Path) -> SpawnSpec:
    """env_dump.py found through the PATH of the child's own environment (not this one's)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "envdump"
    tool.write_text(f"#!{PY}\n" + (CHILDREN / "env_dump.py").read_text())
    tool.chmod(0o755)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "KEEP": "me", "WATCHDOG_USEC": "5000000"}
    return SpawnSpec(["envdump"], env, str(tmp_path), pid_env="WATCHDOG_PID")


def test_spawn_clones_a_pid_env_child_and_it_sets_its_own_pid(tmp_path):
    if not cgspawn.usable():
        pytest.skip("this test process runs other threads or has no clone3")
    cloned, report = _run(_spec(tmp_path))
    assert cloned  # Python ran in the child: it knew its pid
    assert report["env"] == {**_spec_env(tmp_path), "WATCHDOG_PID": str(report["pid"])}


def test_with_other_threads_popen_sets_it_in_a_hook_with_the_same_environment(tmp_path):
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not cgspawn.usable()  # another thread: no raw clone3 (see cgspawn.usable)
        cloned, report = _run(_spec(tmp_path))
    finally:
        stop.set()
        other.join()
    assert not cloned
    assert report["env"] == {**_spec_env(tmp_path), "WATCHDOG_PID": str(report["pid"])}


def test_a_spawn_without_pid_env_stays_on_popen_and_gets_no_pid(tmp_path):
    spec = _spec(tmp_path)
    spec.pid_env = None
    cloned, report = _run(spec)
    assert not cloned and "WATCHDOG_PID" not in report["env"]


def _spec_env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "KEEP": "me", "WATCHDOG_USEC": "5000000"}


def test_a_missing_program_fails_as_popen_would_on_both_paths(tmp_path):
    spec = SpawnSpec(["no-such-prog-h11"], {"PATH": str(tmp_path)}, None, pid_env="WATCHDOG_PID")
    with pytest.raises(FileNotFoundError):
        spawn(spec)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with pytest.raises(FileNotFoundError):
            spawn(spec)
    finally:
        stop.set()
        other.join()
    assert shutil.which("no-such-prog-h11") is None
