"""`procsup check` and `procsup init`: work on config files, no master needed."""

from __future__ import annotations

import json
import shlex
import sys
from importlib import resources
from pathlib import Path

from procsup import fdlimit
from procsup.config import Config, ConfigError, deprecations, fd_need, load_config


def check(path: Path, as_json: bool) -> int:
    """Validate; print every error (exit 2) or what would run (exit 0)."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"error: {issue}", file=sys.stderr)
        print(f"{len(exc.issues)} error(s) in {path}", file=sys.stderr)
        return 2
    if as_json:
        print(
            json.dumps(
                {
                    "config": str(path),
                    "programs": {n: p.numprocs for n, p in config.programs.items()},
                    "tasks": {n: t.schedule for n, t in config.tasks.items()},
                    "fds_needed": fd_need(config).total,
                    "fd_limit": fdlimit.limits()[1],
                    "warnings": _warnings(config),
                },
                indent=2,
            )
        )
        return 0
    print(f"{path}: ok")
    for name, prog in config.programs.items():
        start = "autostart" if prog.autostart else "manual start"
        print(f"  program {name}: {prog.numprocs} × {shlex.join(prog.command)} ({start})")
    for name, task in config.tasks.items():
        zone = task.timezone or "local time"
        state = "" if task.enabled else " (disabled)"
        print(f"  task {name}: {task.schedule} [{zone}] {shlex.join(task.command)}{state}")
    if not config.programs and not config.tasks:
        print("  nothing configured yet")
    for warning in _warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _warnings(config: Config) -> list[str]:
    """Deprecated keys, and an open-file limit too low for the config even once the master
    has raised its soft limit to the hard one."""
    found = deprecations(config)
    need = fd_need(config)
    problem = fdlimit.shortfall_message(need, fdlimit.limits()[1])
    if problem:
        found.append(problem)
    return found


def init(path: Path) -> int:
    """Write a starter config; never overwrite an existing file."""
    if path.exists():
        print(f"procsup: {path} exists; not overwriting it", file=sys.stderr)
        return 1
    template = resources.files("procsup").joinpath("init_template.toml").read_text()
    path.write_text(template)
    print(f"wrote {path}; edit it, then run `procsup -c {path} start`")
    return 0
