"""`procsup check` and `procsup init`: work on config files, no master needed."""

from __future__ import annotations

import json
import shlex
import sys
from importlib import resources
from pathlib import Path

from procsup.cgroups import probe
from procsup.config import ConfigError, load_config


def check(path: Path, as_json: bool) -> int:
    """Validate; print every error (exit 2) or what would run (exit 0)."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"error: {issue}", file=sys.stderr)
        print(f"{len(exc.issues)} error(s) in {path}", file=sys.stderr)
        return 2
    tracking = probe(config.master.tracking, str(config.master.state_dir))
    if config.master.tracking == "cgroup" and tracking.kind != "cgroup":
        print(
            f'error: {path}: procsup.tracking = "cgroup", but no cgroup can be made here: '
            f"{tracking.detail}",
            file=sys.stderr,
        )
        return 2
    if as_json:
        print(
            json.dumps(
                {
                    "config": str(path),
                    "programs": {n: p.numprocs for n, p in config.programs.items()},
                    "tasks": {n: t.schedule for n, t in config.tasks.items()},
                    "tracking": tracking.kind,
                    "tracking_detail": tracking.detail,
                },
                indent=2,
            )
        )
        return 0
    print(f"{path}: ok")
    print(f"  tracking: {tracking.describe()}")
    for name, prog in config.programs.items():
        start = "autostart" if prog.autostart else "manual start"
        print(f"  program {name}: {prog.numprocs} × {shlex.join(prog.command)} ({start})")
    for name, task in config.tasks.items():
        zone = task.timezone or "local time"
        state = "" if task.enabled else " (disabled)"
        print(f"  task {name}: {task.schedule} [{zone}] {shlex.join(task.command)}{state}")
    if not config.programs and not config.tasks:
        print("  nothing configured yet")
    return 0


def init(path: Path) -> int:
    """Write a starter config; never overwrite an existing file."""
    if path.exists():
        print(f"procsup: {path} exists; not overwriting it", file=sys.stderr)
        return 1
    template = resources.files("procsup").joinpath("init_template.toml").read_text()
    path.write_text(template)
    print(f"wrote {path}; edit it, then run `procsup -c {path} start`")
    return 0
