"""Value checks for load.py: the key tables (one callable per key that converts a raw TOML value
or raises `ValueError` with a message saying what is allowed) and the table-level checks. load.py
adds the file and key path. The per-key building blocks live in validators.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from procsup.config.validators import (
    CRON_ALIASES,
    MAX_SOCKET_NAME,
    Check,
    check_bool,
    check_command,
    check_cron,
    check_environment,
    check_group,
    check_hook,
    check_include,
    check_listen,
    check_redis_url,
    check_schedule,
    check_str,
    check_timezone,
    choice,
    condition_map,
    directory_check,
    env_file_check,
    every_interval,
    int_range,
    log_path_check,
    optional_timeout,
    path_check,
    positive_duration,
    positive_size,
    resolve_path,
    socket_path_check,
    split_listen,
    user_check,
)
from procsup.core.values import (
    parse_duration,
    parse_exit_codes,
    parse_octal_mode,
    parse_signal,
    parse_size,
)

#: this module's names and the validators.py building blocks it re-exports (probe.py, tasks/,
#: control/ and the tests import them from here)
__all__ = [
    "CRON_ALIASES",
    "MAX_SOCKET_NAME",
    "NAME_RE",
    "RESERVED_NAMES",
    "Check",
    "Problem",
    "check_bool",
    "check_command",
    "check_cron",
    "check_environment",
    "check_fleet_name",
    "check_group",
    "check_hook",
    "check_include",
    "check_listen",
    "check_name",
    "check_redis_url",
    "check_schedule",
    "check_str",
    "check_timezone",
    "choice",
    "condition_map",
    "convert_table",
    "directory_check",
    "env_file_check",
    "every_interval",
    "fleet_problems",
    "heartbeat_interval",
    "int_range",
    "log_path_check",
    "master_checks",
    "missing_keys",
    "optional_timeout",
    "path_check",
    "positive_duration",
    "positive_size",
    "program_checks",
    "resolve_path",
    "socket_path_check",
    "split_listen",
    "task_checks",
    "unknown_key_message",
    "user_check",
]

Problem = tuple[str, object, str]  # (key path, bad value, what is allowed)

NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
RESERVED_NAMES = frozenset({"all"})


def convert_table(
    raw: Mapping[str, Any], table_checks: dict[str, Check], prefix: str
) -> tuple[dict[str, Any], list[Problem]]:
    """Run each key's check: good values are returned, unknown keys and bad values are problems."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, value in raw.items():
        check = table_checks.get(key)
        if check is None:
            problems.append((f"{prefix}.{key}", value, unknown_key_message(key, table_checks)))
            continue
        try:
            values[key] = check(value)
        except ValueError as exc:
            problems.append((f"{prefix}.{key}", value, str(exc)))
    return values, problems


def unknown_key_message(key: str, allowed: Iterable[str]) -> str:
    import difflib  # only for a mistyped key: not in every master and CLI run

    close = difflib.get_close_matches(key, list(allowed), n=1)
    if close:
        return f"unknown key; did you mean '{close[0]}'?"
    return "unknown key; allowed: " + ", ".join(sorted(allowed))


def missing_keys(raw: Mapping[str, Any], examples: dict[str, str], prefix: str) -> list[Problem]:
    """Required keys absent from raw, each with an example of what to add."""
    return [
        (f"{prefix}.{key}", None, f"required key missing; add e.g. {example}")
        for key, example in examples.items()
        if key not in raw
    ]


def check_name(name: str) -> None:
    """Program and task names appear in `name:N` and in globs, so keep them plain."""
    if not NAME_RE.fullmatch(name):
        raise ValueError("names may use only letters, digits, '_', '.' and '-'")
    if name in RESERVED_NAMES:
        raise ValueError(f"'{name}' is reserved (it means every program); choose another name")


def master_checks(base_dir: Path) -> dict[str, Check]:
    return {
        "socket": socket_path_check(base_dir),
        "socket_mode": parse_octal_mode,
        "socket_group": check_group,
        "state_dir": path_check(base_dir),
        "log_dir": path_check(base_dir),
        "redis_url": check_redis_url,
        "include": check_include,
        "cli_autostart": check_bool,
        "max_connections": int_range(1, 100_000),
        "idle_timeout": positive_duration,
        "tracking": choice("auto", "cgroup", "process"),
        "metrics_listen": check_listen,
        "cluster": check_fleet_name,
        "node_name": check_fleet_name,
        "heartbeat_interval": heartbeat_interval,
        "remote_control": check_bool,
    }


def check_fleet_name(v: object) -> str:
    """A cluster or node name: part of Redis key names and of `--host NAME`, so kept plain."""
    name = check_str(v)
    if not NAME_RE.fullmatch(name):
        raise ValueError("may use only letters, digits, '_', '.' and '-', like \"web-1\"")
    return name


def heartbeat_interval(v: object) -> float:
    """From 100 ms (tests) to 5 minutes: the host entry's TTL is three intervals."""
    seconds = positive_duration(v)
    if not 0.1 <= seconds <= 300:
        raise ValueError("must be from 100ms to 5m, like 5s")
    return seconds


def fleet_problems(values: Mapping[str, object]) -> list[Problem]:
    """[procsup] keys that need each other: a cluster lives in Redis, remote control in a
    cluster."""
    found: list[Problem] = []
    if values.get("cluster") and not values.get("redis_url"):
        message = 'needs redis_url in [procsup], like "redis://127.0.0.1:6379/0"'
        found.append(("procsup.cluster", values["cluster"], message))
    for key in ("node_name", "remote_control"):
        if values.get(key) and not values.get("cluster"):
            found.append((f"procsup.{key}", values[key], 'needs cluster = "NAME" in [procsup]'))
    return found


def _run_checks(base_dir: Path) -> dict[str, Check]:
    """Keys shared by programs and tasks: what runs, where, as whom, and its logs."""
    return {
        "command": check_command,
        "directory": directory_check(base_dir),
        "environment": check_environment,
        "env_file": env_file_check(base_dir),
        "user": user_check(os.geteuid() == 0),
        "stop_signal": parse_signal,
        "stop_timeout": parse_duration,
        "stdout_log": log_path_check(base_dir),
        "stderr_log": log_path_check(base_dir),
        "merge_stderr": check_bool,
        "log_max_size": parse_size,
        "log_backups": int_range(0, 1000),
    }


def program_checks(base_dir: Path) -> dict[str, Check]:
    return _run_checks(base_dir) | {
        "numprocs": int_range(0, 10000),  # 0: defined but scaled down to nothing
        "autostart": check_bool,
        "autorestart": choice("always", "on-failure", "never"),
        "exit_codes": parse_exit_codes,
        "start_seconds": parse_duration,
        "restart_delay": parse_duration,
        "restart_delay_max": parse_duration,
        "min_uptime": parse_duration,
        "max_restarts": int_range(0),
        "max_memory": positive_size,
        "restart_schedule": check_cron,
        "log_timestamps": check_bool,
        "depends_on": condition_map("program", ("ready", "started", "completed")),
        "singleton": check_bool,
        "lock_ttl": positive_duration,
        "notify": check_bool,
        "watchdog": positive_duration,
        "watchdog_signal": parse_signal,
        "max_silence": positive_duration,
        # tables, checked key by key in config/probe.py
        "liveness": lambda v: v,
        "readiness": lambda v: v,
    }


def task_checks(base_dir: Path) -> dict[str, Check]:
    return _run_checks(base_dir) | {
        "schedule": check_schedule,
        "timezone": check_timezone,
        "overlap": choice("skip", "allow", "replace"),
        "lock": choice("local", "redis"),
        "lock_ttl": positive_duration,
        "timeout": optional_timeout,
        "jitter": parse_duration,
        "catch_up": check_bool,
        "on_success": check_hook,
        "on_failure": check_hook,
        "before": check_hook,
        "after": condition_map("task", ("ok", "failed", "done")),
        "history": int_range(1, 1_000_000),
        "enabled": check_bool,
        "on_lock_unavailable": choice("skip", "run"),
        "on_lock_lost": choice("stop", "continue"),
    }
