"""TOML configuration → frozen dataclasses, validated with key paths; no side effects.

Loading collects *every* problem before failing, so `check` and `reload` can list them all at once.
"""

from __future__ import annotations

import glob
import os
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procsup.config import checks, order
from procsup.config.model import (
    DEFAULT_LOG_MAX_SIZE,
    Config,
    ConfigError,
    ConfigIssue,
    MasterConfig,
    ProgramConfig,
    TaskConfig,
)
from procsup.config.probe import probe_from_table
from procsup.core import fds

#: this module's names and the model.py dataclasses it re-exports (the rest of procsup and the
#: tests import them from here)
__all__ = [
    "DEFAULT_LOG_MAX_SIZE",
    "INCLUDE_TABLES",
    "MAIN_TABLES",
    "PROBE_KEYS",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "MasterConfig",
    "ProgramConfig",
    "TaskConfig",
    "default_logs",
    "deprecations",
    "fd_need",
    "load_config",
    "program_from_dict",
    "task_from_dict",
]

PROBE_KEYS = ("liveness", "readiness")
MAIN_TABLES = ("procsup", "programs", "tasks")
INCLUDE_TABLES = ("programs", "tasks")


def deprecations(config: Config) -> list[str]:
    """Keys still accepted but no longer used, for `check` and the master's log."""
    return [
        f"programs.{name}.min_uptime is deprecated and ignored: a run that got past "
        "start_seconds is restarted at once, a shorter one backs off; remove the key"
        for name, prog in config.programs.items()
        if prog.min_uptime is not None
    ]


def fd_need(config: Config) -> fds.Need:
    """The descriptors the master needs to run this configuration (see fds.estimate)."""
    return fds.estimate(
        ((p.numprocs, p.merge_stderr) for p in config.programs.values()),
        (t.merge_stderr for t in config.tasks.values()),
    )


def load_config(path: Path) -> Config:
    """Read and validate the whole configuration; raise ConfigError listing every issue."""
    path = _absolute(path)
    data = _read_toml(path)
    issues = _Issues(str(path))
    _check_tables(data, MAIN_TABLES, issues)
    master = _master_from_dict(_as_table(data.get("procsup", {}), "procsup", issues), path, issues)
    sources = [(path, data), *_read_includes(path, master.include, issues)]
    origins: dict[str, str] = {}
    programs, tasks = _collect_entries(sources, master, path.parent, issues, origins)
    if issues.items:
        raise ConfigError(issues.items)
    return Config(path=path, master=master, programs=programs, tasks=tasks, origins=origins)


def program_from_dict(
    name: str, raw: Mapping[str, Any], base_dir: Path, log_dir: Path, *, file: str = "<ad-hoc>"
) -> ProgramConfig:
    """Validate one `[programs.NAME]` table (also used for ad-hoc and restored programs)."""
    issues = _Issues(file)
    prefix = f"programs.{name}"
    _check_name(name, prefix, issues)
    values = issues.convert(raw, checks.program_checks(base_dir), prefix)
    for key in PROBE_KEYS:
        if key not in raw:
            continue
        probe, problems = probe_from_table(raw[key], f"{prefix}.{key}")
        issues.extend(problems)
        values[key] = probe
    issues.extend(
        checks.missing_keys(raw, {"command": 'command = "php artisan queue:work"'}, prefix)
    )
    delay = values.get("restart_delay", ProgramConfig.restart_delay)
    cap = values.get("restart_delay_max", ProgramConfig.restart_delay_max)
    if cap < delay:
        message = f"must be at least restart_delay ({delay:g}s)"
        issues.add(f"{prefix}.restart_delay_max", raw.get("restart_delay_max", cap), message)
    if values.get("watchdog") and not values.get("notify"):
        message = "needs notify = true (the keep-alives come through NOTIFY_SOCKET)"
        issues.add(f"{prefix}.watchdog", raw.get("watchdog"), message)
    values = default_logs(name, log_dir) | values
    _merge_env_files(values, prefix, issues)
    if issues.items:
        raise ConfigError(issues.items)
    return ProgramConfig(name=name, **values)


def task_from_dict(
    name: str,
    raw: Mapping[str, Any],
    base_dir: Path,
    log_dir: Path,
    redis_url: str | None = None,
    *,
    file: str = "<ad-hoc>",
) -> TaskConfig:
    """Validate one `[tasks.NAME]` table; `redis_url` is `[procsup].redis_url` (lock = "redis")."""
    issues = _Issues(file)
    prefix = f"tasks.{name}"
    _check_name(name, prefix, issues)
    values = issues.convert(raw, checks.task_checks(base_dir), prefix)
    examples = {"command": 'command = "php artisan import:data"', "schedule": 'schedule = "@daily"'}
    issues.extend(checks.missing_keys(raw, examples, prefix))
    if values.get("lock") == "redis" and not redis_url:
        message = 'lock = "redis" needs redis_url in [procsup], like "redis://127.0.0.1:6379/0"'
        issues.add(f"{prefix}.lock", "redis", message)
    values = default_logs(f"task-{name}", log_dir, "") | values
    _merge_env_files(values, prefix, issues)
    if issues.items:
        raise ConfigError(issues.items)
    return TaskConfig(name=name, **values)


# -- helpers ---------------------------------------------------------------------------------


@dataclass
class _Issues:
    """Collects issues for one file; `for_file` shares the list with another file's collector."""

    file: str
    items: list[ConfigIssue] = field(default_factory=list)

    def add(self, key: str, value: object, message: str) -> None:
        self.items.append(ConfigIssue(self.file, key, value, message))

    def extend(self, problems: Iterable[checks.Problem]) -> None:
        for key, value, message in problems:
            self.add(key, value, message)

    def convert(
        self, raw: Mapping[str, Any], table_checks: dict[str, checks.Check], prefix: str
    ) -> dict[str, Any]:
        values, problems = checks.convert_table(raw, table_checks, prefix)
        self.extend(problems)
        return values

    def for_file(self, file: Path) -> _Issues:
        return _Issues(str(file), self.items)


def _merge_env_files(values: dict[str, Any], prefix: str, issues: _Issues) -> None:
    """Read `env_file` now (each load, so `reload` re-reads it) into `environment`, whose own
    values win. envfile (python-dotenv) is imported only when a config uses env_file."""
    if not values.get("env_file"):
        return
    from procsup.config.envfile import load_env_files

    try:
        loaded = load_env_files(values["env_file"], os.environ)
    except ValueError as exc:
        issues.add(f"{prefix}.env_file", list(values["env_file"]), str(exc))
        return
    values["env_file_values"] = loaded
    values["environment"] = loaded | values.get("environment", {})


def _absolute(path: str | Path) -> Path:
    return Path(os.path.abspath(Path(path).expanduser()))


def _read_toml(path: Path) -> dict[str, Any]:
    def fail(message: str) -> ConfigError:
        return ConfigError([ConfigIssue(str(path), "", None, message)])

    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise fail("file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise fail(f"invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise fail("not UTF-8 text; TOML files must be UTF-8") from None
    except OSError as exc:
        raise fail(f"cannot read the file: {exc.strerror}") from None


def _as_table(value: object, key: str, issues: _Issues) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    issues.add(key, value, f"expected a table, like [{key}]")
    return {}


def _check_tables(data: Mapping[str, Any], allowed: tuple[str, ...], issues: _Issues) -> None:
    for key, value in data.items():
        if key == "procsup" and key not in allowed:
            issues.add(key, None, "[procsup] is only allowed in the main config file")
        elif key not in allowed:
            issues.add(key, value, checks.unknown_key_message(key, allowed))


def _check_name(name: str, prefix: str, issues: _Issues) -> None:
    try:
        checks.check_name(name)
    except ValueError as exc:
        issues.add(prefix, name, str(exc))


def _master_from_dict(raw: Mapping[str, Any], path: Path, issues: _Issues) -> MasterConfig:
    base_dir = path.parent
    values = issues.convert(raw, checks.master_checks(base_dir), "procsup")
    values.setdefault("state_dir", base_dir / "run")
    values.setdefault("log_dir", base_dir / "logs")
    values.setdefault("socket", values["state_dir"] / "procsup.sock")
    issues.extend(checks.fleet_problems(values))
    return MasterConfig(**values)


def default_logs(name: str, log_dir: Path, suffix: str = "-{num}") -> dict[str, Any]:
    return {
        "stdout_log": str(log_dir / f"{name}{suffix}.out.log"),
        "stderr_log": str(log_dir / f"{name}{suffix}.err.log"),
    }


def _read_includes(
    path: Path, patterns: tuple[str, ...], issues: _Issues
) -> list[tuple[Path, dict[str, Any]]]:
    """Each included file's TOML; they may hold only [programs] and [tasks] tables."""
    sources = []
    for file in _include_files(path, patterns, issues):
        try:
            data = _read_toml(file)
        except ConfigError as exc:
            issues.items.extend(exc.issues)
            continue
        _check_tables(data, INCLUDE_TABLES, issues.for_file(file))
        sources.append((file, data))
    return sources


def _include_files(path: Path, patterns: tuple[str, ...], issues: _Issues) -> list[Path]:
    """Files matching the include globs (relative to the config's folder), sorted, no repeats."""
    found: list[Path] = []
    for pattern in patterns:
        full = checks.resolve_path(path.parent, pattern)
        matches = sorted(Path(m) for m in glob.glob(str(full), recursive=True))
        files = [m for m in matches if m.is_file()]
        if not any(c in pattern for c in "*?[") and not files:
            what = "is a directory; use a glob like conf.d/*.toml" if full.is_dir() else "not found"
            issues.add("procsup.include", pattern, f"{full} {what}")
        found += [m for m in files if m not in found and m != path]
    return found


def _collect_entries(
    sources: list[tuple[Path, dict[str, Any]]],
    master: MasterConfig,
    base_dir: Path,
    issues: _Issues,
    seen: dict[str, str],
) -> tuple[dict[str, ProgramConfig], dict[str, TaskConfig]]:
    """Build every program and task from every file, collecting all issues; `seen` is filled
    with "programs.NAME" -> the file that defined it."""
    programs: dict[str, ProgramConfig] = {}
    tasks: dict[str, TaskConfig] = {}
    for file, data in sources:
        file_issues = issues.for_file(file)
        for name, raw in _entries(data, "programs", file_issues, seen):
            try:
                programs[name] = program_from_dict(
                    name, raw, base_dir, master.log_dir, file=str(file)
                )
            except ConfigError as exc:
                issues.items.extend(exc.issues)
                continue
            if programs[name].singleton and not master.redis_url:
                message = (
                    'singleton = true needs redis_url in [procsup], like "redis://127.0.0.1:6379/0"'
                )
                file_issues.add(f"programs.{name}.singleton", True, message)
        for name, raw in _entries(data, "tasks", file_issues, seen):
            try:
                tasks[name] = task_from_dict(
                    name, raw, base_dir, master.log_dir, master.redis_url, file=str(file)
                )
            except ConfigError as exc:
                issues.items.extend(exc.issues)
    _check_shared_names(seen, issues)
    for kind, entries, key in (("programs", programs, "depends_on"), ("tasks", tasks, "after")):
        edges = {name: getattr(cfg, key) for name, cfg in entries.items()}
        known = {k.partition(".")[2] for k in seen if k.startswith(kind + ".")}
        for name, problem in order.graph_problems(kind, edges, key, known):
            issues.for_file(Path(seen[f"{kind}.{name}"])).add(*problem)
    return programs, tasks


def _entries(
    data: Mapping[str, Any], kind: str, issues: _Issues, seen: dict[str, str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, table) pairs of data[kind]; a name already defined in another file is an issue."""
    for name, raw in _as_table(data.get(kind, {}), kind, issues).items():
        key = f"{kind}.{name}"
        if key in seen:
            issues.add(key, None, f"defined twice: in {seen[key]} and in {issues.file}")
            continue
        seen[key] = issues.file
        if isinstance(raw, dict):
            yield name, raw
        else:
            issues.add(key, raw, f"expected a table, like [{key}]")


def _check_shared_names(seen: dict[str, str], issues: _Issues) -> None:
    """A program and a task may not share a name: CLI names must be unambiguous."""
    for key, file in seen.items():
        kind, _, name = key.partition(".")
        if kind == "tasks" and f"programs.{name}" in seen:
            message = f"a program of this name is defined in {seen[f'programs.{name}']}; rename one"
            issues.for_file(Path(file)).add(key, None, message)
