"""Test harness: a real master in a subprocess, a real socket, polling with deadlines."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

from procsup.control.client import Client, NoMaster
from procsup.engine.cgroups import Cgroup, CgroupUnavailable, subtree_path

CHILDREN = Path(__file__).parent / "children"
PY = sys.executable


def child(name: str, *args: str) -> str:
    """A TOML command string running one of tests/children/."""
    return " ".join([PY, str(CHILDREN / name), *args])


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class MasterProc:
    """A procsup master running `daemon -f` on a config written into a short temp dir."""

    def __init__(self, root: Path, config_text: str) -> None:
        self.root = root
        self.config = root / "procsup.toml"
        self.config.write_text(textwrap.dedent(config_text))
        self.socket = str(root / "run" / "procsup.sock")
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_path = root / "master.err"

    def write_config(self, text: str) -> None:
        self.config.write_text(textwrap.dedent(text))

    def start(
        self,
        wait: bool = True,
        preexec_fn: Callable[[], None] | None = None,
        env: dict[str, str] | None = None,
    ) -> MasterProc:
        """`preexec_fn` runs in the master's process before it execs (e.g. to lower a limit);
        `env`, when given, is the master's whole environment."""
        err = open(self.stderr_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [PY, "-m", "procsup", "-c", str(self.config), "daemon", "-f"],
            stdout=err,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=preexec_fn,
            env=env,
        )
        err.close()
        if wait:
            wait_for(self._answers, 15, "the master to answer")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"master exited {self.proc.returncode}: {self.log()}")
        try:
            self.call("hello")
            return True
        except (NoMaster, OSError):
            return False

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def call(self, cmd: str, args: dict[str, Any] | None = None, timeout: float = 60) -> Any:
        with Client(self.socket, timeout=timeout) as client:
            return client.call(cmd, args)

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PY, "-m", "procsup", "-c", str(self.config), "--no-autostart", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def instances(self, *names: str) -> dict[str, dict[str, Any]]:
        rows = self.call("list", {"names": list(names), "stats": False})["instances"]
        return {r["name"]: r for r in rows}

    def state(self, name: str) -> dict[str, Any]:
        return self.instances(name)[name]

    def wait_state(self, name: str, state: str, timeout: float = 10.0) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            row = self.state(name)
            return row if row["state"] == state else None

        return wait_for(check, timeout, f"{name} to be {state}")

    def log_file(self, instance: str, stream: str = "out") -> Path:
        prog, num = instance.split(":")
        return self.root / "logs" / f"{prog}-{num}.{stream}.log"

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM the master and wait for it; returns its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def marked_processes(self) -> list[psutil.Process]:
        """Every live process started under this master's state_dir (descendants included)."""
        state_dir = str(self.root / "run")
        found = []
        for proc in psutil.process_iter(["environ"]):
            env = proc.info.get("environ") or {}
            if env.get("PROCSUP_STATE_DIR") == state_dir and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        return found

    def cleanup(self) -> None:
        try:
            self.stop(timeout=30)
        except subprocess.TimeoutExpired:
            assert self.proc is not None
            self.proc.kill()
        for proc in self.marked_processes():
            with contextlib.suppress(psutil.Error):
                proc.kill()
        remove_cgroups(str(self.root / "run"))
        shutil.rmtree(self.root, ignore_errors=True)


def remove_cgroups(state_dir: str) -> None:
    """The cgroup subtree a master killed with `kill -9` (and never followed by another) left:
    whatever is still in it is killed, then it is removed."""
    try:
        subtree = Path(subtree_path(state_dir))
    except CgroupUnavailable:
        return
    leaves = [Cgroup(str(p)) for p in subtree.glob("*") if p.is_dir()] if subtree.is_dir() else []
    for cg in leaves:
        if cg.populated():
            cg.kill()
            wait_for(lambda cg=cg: not cg.populated(), 5, f"{cg.path} to empty")
        cg.remove()
    with contextlib.suppress(OSError):
        subtree.rmdir()


def short_tmpdir() -> Path:
    """Unix socket paths must stay under 108 bytes, so tests use /tmp/ps-XXXX."""
    return Path(tempfile.mkdtemp(prefix="ps-", dir="/tmp"))


def env_without_master() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PROCSUP_CONFIG", None)
    return env


@contextlib.contextmanager
def soft_limit(soft: int) -> Iterator[None]:
    """This process's soft RLIMIT_NOFILE lowered to `soft` for the block, then put back."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)
