"""Starting a procsup master for a bench script: its config in a temp dir, run in the foreground
in a session of its own, then polled with `hello` until it answers.

The bench scripts run as `python bench/X.py`, so bench/ is on sys.path and they import this as
`_common`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from procsup.control.client import Client


def spawn_master(root: Path, config: str) -> tuple[subprocess.Popen[bytes], str]:
    """Write `config` to root/procsup.toml and start `procsup daemon -f` on it; its stderr goes to
    root/master.err. Returns the process and its socket path (not answering yet)."""
    (root / "procsup.toml").write_text(config)
    sock = str(root / "run" / "procsup.sock")
    proc = subprocess.Popen(
        [sys.executable, "-m", "procsup", "-c", str(root / "procsup.toml"), "daemon", "-f"],
        stdout=subprocess.DEVNULL,
        stderr=open(root / "master.err", "wb"),  # noqa: SIM115
        start_new_session=True,
    )
    return proc, sock


def answers_hello(
    sock: str,
    *,
    wait: float,
    call_timeout: float,
    poll: float,
    retry_on: tuple[type[BaseException], ...],
) -> bool:
    """Whether the master on `sock` answers `hello` within `wait` seconds; the errors in
    `retry_on` mean "not yet" (a master that is still starting), any other is raised."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with Client(sock, timeout=call_timeout) as c:
                c.call("hello")
            return True
        except retry_on:
            time.sleep(poll)
    return False
