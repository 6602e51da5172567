"""Start a master in the background and wait until it answers (`procsup daemon`, autostart)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from procsup.control.client import Client, NoMaster

START_TIMEOUT = 15.0
#: set to 1 (true, yes, on) where systemd owns the master: no CLI verb starts one then
NO_AUTOSTART_ENV = "PROCSUP_NO_AUTOSTART"
_FALSE = ("", "0", "false", "no", "off")


class LaunchError(Exception):
    pass


def autostart_off(config_path: str) -> str | None:
    """Why CLI autostart is turned off for this config (the environment variable, or
    `cli_autostart = false` in [procsup]), or None. Read only when no master answers, so the
    extra TOML parse never slows a command that finds its master."""
    value = os.environ.get(NO_AUTOSTART_ENV, "")
    if value.strip().lower() not in _FALSE:
        return f"{NO_AUTOSTART_ENV}={value}"
    import tomllib

    try:
        with open(config_path, "rb") as f:
            table = tomllib.load(f).get("procsup", {})
    except (OSError, ValueError):
        return None  # a missing or broken file is reported by whoever reads it next
    if isinstance(table, dict) and table.get("cli_autostart") is False:
        return f"cli_autostart = false in {config_path}"
    return None


def master_log_path(state_dir: Path) -> Path:
    return state_dir / "procsup.log"


def launch_master(config: str, socket_path: str, state_dir_name: str) -> int:
    """Spawn `procsup daemon -f` detached; return its pid once the socket answers `hello`."""
    state_dir = Path(state_dir_name)
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = master_log_path(state_dir)
    with open(log_path, "ab") as log:
        start_at = log.tell()
        proc = subprocess.Popen(
            [
                *master_python(),
                "-m",
                "procsup",
                "-c",
                config,
                "daemon",
                "-f",
                "--log-file",
                str(log_path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise LaunchError(_failure(log_path, start_at, code))
        try:
            with Client(socket_path, timeout=2):  # connecting asks `hello`
                return proc.pid
        except (NoMaster, OSError):
            time.sleep(0.02)
    raise LaunchError(f"the master did not answer within {START_TIMEOUT:.0f}s; see {log_path}")


def master_python() -> list[str]:
    """The interpreter for the master, importing the procsup this CLI runs. `python -m` puts
    the current folder first on sys.path: a `procsup/` (or `signal.py`, …) in whatever folder
    the user runs `procsup start` from would run as the master, as root. So `-P` (no such
    entry), except for a source checkout run from its own folder, where this CLI itself was
    imported from there."""
    package_parent = Path(__file__).resolve().parents[2]
    try:
        from_cwd = package_parent == Path.cwd().resolve()
    except OSError:  # the current folder was removed
        from_cwd = False
    return [sys.executable] if from_cwd else [sys.executable, "-P"]


def _failure(log_path: Path, start_at: int, code: int) -> str:
    with open(log_path, "rb") as f:
        f.seek(start_at)
        lines = f.read().decode(errors="replace").strip().splitlines()
    last = lines[-1] if lines else "no output"
    return f"the master exited with status {code}: {last} (log: {log_path})"


def wait_exit(pid: int, timeout: float = 600.0) -> bool:
    """Wait until process `pid` (not our child) has exited; False on timeout."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(fd)
