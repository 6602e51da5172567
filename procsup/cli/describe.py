"""`procsup describe NAME` (`show`): everything about one program or task, like `pm2 describe`.

The effective configuration comes from the config file (each value with the file:line it was
set on, or "default"; tomllib keeps no lines, so a small scan of the TOML source finds them);
the instances, task runs and exit reasons come from the master over the protocol. With no
master, the configuration part is still shown.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import signal
import time
from pathlib import Path
from typing import Any

from procsup.cli.tables import instance_note
from procsup.config.load import Config, ProgramConfig, TaskConfig, load_config
from procsup.control.client import Client, ClientError, NoMaster
from procsup.core.humanize import exit_text, format_duration, format_size
from procsup.core.schema import InstanceRow

HIDDEN = {"name", "env_file_values"}
HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
KEY = re.compile(r"""^\s*("[^"]+"|'[^']+'|[A-Za-z0-9_-]+)\s*=""")


def key_lines(text: str, kind: str, name: str) -> dict[str, int]:
    """Key -> line number of each key set in `[kind.name]` (or in a sub-table of it, like
    `[programs.x.environment]`); "" -> the table header's line."""
    found: dict[str, int] = {}
    current: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        header = HEADER.match(line)
        if header:
            current = [p.strip().strip("\"'") for p in header.group(1).split(".")]
            if current[:2] == [kind, name]:
                found.setdefault(current[2] if len(current) > 2 else "", number)
            continue
        key = KEY.match(line)
        if key and current == [kind, name]:
            found.setdefault(key.group(1).strip("\"'"), number)
    return found


def _value_text(key: str, value: Any) -> str:
    from procsup.config.dump import DURATION_FIELDS, SIZE_FIELDS

    if key in DURATION_FIELDS | {"lock_ttl", "timeout", "jitter"} and value is not None:
        return format_duration(value)
    if key in SIZE_FIELDS and value is not None:
        return format_size(value)
    if isinstance(value, signal.Signals):
        return value.name.removeprefix("SIG")
    if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
        return shlex.join(value)
    if isinstance(value, frozenset):
        return ", ".join(str(v) for v in sorted(value))
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "{}"
    if value is None or value == ():
        return "-"
    return str(value)


def config_lines(config: Config, entry: ProgramConfig | TaskConfig, kind: str) -> list[str]:
    """One line per setting: key, effective value, and where it came from."""
    file = config.origins.get(f"{kind}.{entry.name}", str(config.path))
    try:
        lines = key_lines(Path(file).read_text(encoding="utf-8"), kind, entry.name)
    except OSError:
        lines = {}
    rows = []
    for f in dataclasses.fields(entry):
        if f.name in HIDDEN:
            continue
        where = f"{file}:{lines[f.name]}" if f.name in lines else "default"
        rows.append((f.name, _value_text(f.name, getattr(entry, f.name)), where))
    for key, value in entry.env_file_values.items():
        if entry.environment.get(key) == value and key not in _table_env(entry, config, kind):
            rows.append((f"  env {key}", value, "env_file"))
    width = max(len(r[0]) for r in rows)
    vwidth = min(max(len(r[1]) for r in rows), 50)
    return [f"  {k:<{width}}  {v:<{vwidth}}  {w}" for k, v, w in rows]


def _table_env(entry: ProgramConfig | TaskConfig, config: Config, kind: str) -> set[str]:
    """The keys set by the table's own `environment` (they win over env_file)."""
    import tomllib

    file = config.origins.get(f"{kind}.{entry.name}", str(config.path))
    try:
        data = tomllib.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    env = data.get(kind, {}).get(entry.name, {}).get("environment", {})
    return set(env) if isinstance(env, dict) else set()


def log_lines(paths: list[str]) -> list[str]:
    out = []
    for path in paths:
        try:
            size = format_size(os.stat(path).st_size)
        except OSError:
            size = "not written yet"
        out.append(f"  {path}  ({size})")
    return out


def instance_lines(rows: list[InstanceRow], now: float) -> list[str]:
    out = []
    for r in rows:
        started = r.get("started")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "-"
        reason = (
            r.get("last_exit_reason")
            or instance_note(r, now)
            or f"last exit: {exit_text(r.get('last_exit'))}"
        )
        out.append(
            f"  {r['name']:<14} {r['state']:<9} pid {r.get('pid') or '-':<8} started {since}  "
            f"restarts {r.get('restarts', 0)}  {reason}"
        )
    return out


def describe_program(
    config: Config, prog: ProgramConfig, client: Client | None, name: str
) -> list[str]:
    """`name` is the program or one instance of it (`queue:3`)."""
    out = [f"program {prog.name}", "config:", *config_lines(config, prog, "programs")]
    logs = sorted(
        {p.replace("{num}", str(n)) for n in range(prog.numprocs) for p in _log_templates(prog)}
    )
    out += ["log files:", *log_lines(logs)]
    if client is not None:
        rows = client.call("list", {"names": [name], "stats": False})["instances"]
        out += ["instances:", *(instance_lines(rows, time.time()) or ["  none running"])]
    return out


def _log_templates(entry: ProgramConfig | TaskConfig) -> list[str]:
    return [entry.stdout_log] if entry.merge_stderr else [entry.stdout_log, entry.stderr_log]


def describe_task(config: Config, task: TaskConfig, client: Client | None) -> list[str]:
    from procsup.tasks.schedule import Schedule

    out = [f"task {task.name}", "config:", *config_lines(config, task, "tasks")]
    schedule = Schedule(task.schedule, task.timezone, anchor=time.time())
    out.append(f"next runs ({schedule.zone_name}):")
    out += [f"  {schedule.local_iso(f.at)}" for f in schedule.upcoming(time.time(), 5)]
    if "@every" in task.schedule:
        out.append("  (@every counts from the master's start; these count from now)")
    out += ["log files:", *log_lines(_log_templates(task))]
    if client is not None:
        rows = [t for t in client.call("tasks")["tasks"] if t.get("name") == task.name]
        for row in rows:
            out.append("master:")
            out += [
                f"  {k}: {v}" for k, v in row.items() if k != "name" and v not in (None, "", [])
            ]
    return out


def _adhoc_rows(socket: str, name: str) -> list[InstanceRow]:
    """The master's instances of a program that is not in the config file (ad-hoc)."""
    try:
        with Client(socket).connect() as client:
            rows: list[InstanceRow] = client.call("list", {"names": [name], "stats": False})[
                "instances"
            ]
    except (NoMaster, ClientError):
        return []
    return rows


def describe(config_path: Path, socket: str, name: str) -> tuple[list[str], str | None]:
    """The lines to print, and a note when no master answered."""
    config = load_config(config_path)
    base = name.split(":", 1)[0]
    client: Client | None
    note = None
    try:
        client = Client(socket).connect()
    except NoMaster:
        client, note = None, f"no master is running on {socket}: configuration only"
    try:
        if base in config.programs:
            return describe_program(config, config.programs[base], client, name), note
        if base in config.tasks:
            return describe_task(config, config.tasks[base], client), note
    except ClientError as exc:
        return [], exc.message
    finally:
        if client is not None:
            client.close()
    if client is not None and (rows := _adhoc_rows(socket, name)):
        title = f"program {base} (added at run time, not in the config file)"
        return [title, "instances:", *instance_lines(rows, time.time())], note
    known = ", ".join(sorted([*config.programs, *config.tasks])) or "none"
    raise LookupError(f"no program or task named {name!r} in {config_path} (known: {known})")
