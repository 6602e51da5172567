"""`procsup check` and `procsup init`: work on config files, no master needed."""

from __future__ import annotations

import json
import os
import shlex
import sys
from importlib import resources
from pathlib import Path

from procsup.config.command_path import resolve_command
from procsup.config.load import (
    Config,
    ConfigError,
    ProgramConfig,
    TaskConfig,
    deprecations,
    fd_need,
    load_config,
)
from procsup.core import fds, nproc
from procsup.core.values import toml_literal
from procsup.engine.cgroups import Tracking, probe


def check(path: Path, as_json: bool, strict: bool = False) -> int:
    """Validate; print every error (exit 2), or what would run (exit 0) with a warning for each
    command that cannot run (exit 1 with `strict`)."""
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
    warnings = [*_warnings(config), *command_warnings(config)]
    if as_json:
        print(
            json.dumps(
                {
                    "config": str(path),
                    "programs": {n: p.numprocs for n, p in config.programs.items()},
                    "tasks": {n: t.schedule for n, t in config.tasks.items()},
                    "warnings": warnings,
                    "tracking": tracking.kind,
                    "tracking_detail": tracking.detail,
                    "fds_needed": fd_need(config).total,
                    "fd_limit": fds.limits()[1],
                    "processes_needed": nproc_need(config).total,
                    "process_limit": nproc.soft_limit(),
                },
                indent=2,
            )
        )
    else:
        _print_summary(path, config, tracking)
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if warnings:
            print(f"{len(warnings)} warning(s) in {path}", file=sys.stderr)
    return 1 if strict and warnings else 0


def _print_summary(path: Path, config: Config, tracking: Tracking) -> None:
    print(f"{path}: ok")
    print(f"  tracking: {tracking.describe()}")
    for name, prog in config.programs.items():
        start = "autostart" if prog.autostart else "manual start"
        if prog.depends_on:
            start += ", after " + ", ".join(f"{n} {c}" for n, c in prog.depends_on.items())
        print(f"  program {name}: {prog.numprocs} × {shlex.join(prog.command)} ({start})")
    for name, task in config.tasks.items():
        zone = task.timezone or "local time"
        state = "" if task.enabled else " (disabled)"
        if task.after:
            state += " (also after " + ", ".join(f"{n} {c}" for n, c in task.after.items()) + ")"
        print(f"  task {name}: {task.schedule} [{zone}] {shlex.join(task.command)}{state}")
    if not config.programs and not config.tasks:
        print("  nothing configured yet")


def _warnings(config: Config) -> list[str]:
    """Deprecated keys, and an open-file limit too low for the config even once the master
    has raised its soft limit to the hard one."""
    found = deprecations(config)
    need = fd_need(config)
    problem = fds.shortfall_message(need, fds.limits()[1])
    if problem:
        found.append(problem)
    soft, uid = nproc.soft_limit(), os.geteuid()
    if soft is not None and uid != 0:  # unlimited, or root: nothing to count against
        running = nproc.user_processes(uid)
        problem = nproc.headroom_message(nproc_need(config), soft, running, root=False)
        if problem:
            found.append(problem)
    return found


def nproc_need(config: Config) -> nproc.Need:
    """The processes this configuration starts at once (see nproc.estimate)."""
    return nproc.estimate((p.numprocs for p in config.programs.values()), len(config.tasks))


def command_warnings(config: Config) -> list[str]:
    """One line per program, task or hook command the spawn could not run: not found, not
    executable, or a directory, with the path it resolved to. The environment is this
    process's plus the entry's own (the master's may differ, e.g. under systemd)."""
    entries: list[tuple[str, ProgramConfig | TaskConfig]] = [
        *((f"programs.{n}", p) for n, p in config.programs.items()),
        *((f"tasks.{n}", t) for n, t in config.tasks.items()),
    ]
    found = []
    for key, entry in entries:
        env = {**os.environ, **{k: v.replace("{num}", "0") for k, v in entry.environment.items()}}
        cwd = str(entry.directory or config.path.parent)
        commands = [("command", entry.command)]
        if isinstance(entry, TaskConfig):
            commands += [(h, c) for h in ("on_success", "on_failure") if (c := getattr(entry, h))]
        for field, argv in commands:
            resolved = resolve_command(argv[0].replace("{num}", "0"), env, cwd)
            if resolved.problem is not None:
                where = f"{config.origins.get(key, config.path)}: {key}.{field}"
                found.append(f"{where} = {toml_literal(shlex.join(argv))}: {resolved.problem}")
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
