"""What a master loads: modules that only some configurations or commands need stay out of a
master that does not use them, since each one's code and libraries are memory the master keeps
for its whole life (issue 14: ~3 MiB of a 2,000-instance master's RSS)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.harness import PY, MasterProc, child

#: modules a master with programs and no task never needs: psutil (an unclean end's leftover
#: scan), croniter, dateutil and zoneinfo (task schedules), difflib (a mistyped key's hint),
#: shutil with bz2/lzma (`save`), uuid, tempfile, logging.handlers (a background master's
#: file), decimal (durations are summed in integers), sqlite3 (the task history, opened on
#: first use)
NOT_IN_A_PLAIN_MASTER = (
    "psutil",
    "decimal",
    "croniter",
    "dateutil",
    "zoneinfo",
    "difflib",
    "shutil",
    "bz2",
    "lzma",
    "uuid",
    "tempfile",
    "logging.handlers",
    "sqlite3",
)


def without_coverage() -> dict[str, str]:
    """This environment without coverage's subprocess hook: under CI's `coverage run`, every
    Python the tests start loads coverage first, which imports decimal and uuid itself."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}


def test_the_master_code_imports_none_of_the_optional_modules():
    """What `daemon -f` imports before it runs anything."""
    probe = (
        "import sys, procsup.cli.main, procsup.cli.commands, procsup.cli.daemon, "
        "procsup.control.compose; "
        f"print(sorted(m for m in {NOT_IN_A_PLAIN_MASTER!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [PY, "-c", probe], capture_output=True, text=True, timeout=30, env=without_coverage()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_running_master_has_not_loaded_psutil_or_the_compressors(
    master_factory: Callable[[str], MasterProc],
) -> None:
    """At run time too (their compiled parts would be mapped into the master)."""
    m = master_factory(f"""
        [programs.w]
        command = "{child("sleeper.py")}"
        numprocs = 2
        start_seconds = 0
    """).start(env=without_coverage())
    m.wait_state("w:1", "RUNNING")
    assert len(m.call("list", {"stats": True})["instances"]) == 2  # stats read too
    assert m.proc is not None
    maps = Path(f"/proc/{m.proc.pid}/maps").read_text()
    loaded = [
        name
        for name in ("_psutil_linux", "_bz2", "_lzma", "_decimal", "libsqlite3")
        if name in maps
    ]
    assert loaded == []
    assert not (m.root / "run" / "history.sqlite3").exists()
