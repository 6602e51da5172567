"""TOML configuration → frozen dataclasses, validated with key paths; no side effects.

Loading collects *every* problem before failing, so `check` and `reload` can list them all at once.
"""

from __future__ import annotations

import glob
import os
import signal
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procsup.config import checks, order
from procsup.config.probe import ProbeConfig, probe_from_table
from procsup.core import fds
from procsup.core.values import toml_literal

DEFAULT_LOG_MAX_SIZE = 50 * 1024 * 1024


@dataclass(frozen=True)
class MasterConfig:
    """The `[procsup]` table. Paths are absolute (relative ones resolved against the config dir)."""

    socket: Path
    state_dir: Path
    log_dir: Path
    socket_mode: int = 0o600
    socket_group: str | None = None
    redis_url: str | None = None
    include: tuple[str, ...] = ()
    #: false: no CLI verb starts a master in the background (systemd owns it); read by the CLI
    cli_autostart: bool = True
    max_connections: int = 256  # control connections served at once; more get `busy`
    idle_timeout: float = 10.0  # a control connection with no request this long is closed
    tracking: str = "auto"  # auto | cgroup | process: how a spawn's processes are tracked
    metrics_listen: str | None = None  # "HOST:PORT" serving Prometheus /metrics; None = off
    cluster: str | None = None  # with redis_url: heartbeats under procsup:fleet:<cluster>:
    node_name: str | None = None  # this master's name in the fleet (default: the host name)
    heartbeat_interval: float = 5.0
    remote_control: bool = False  # take start/stop/restart/signal/run from the fleet stream


@dataclass(frozen=True)
class ProgramConfig:
    """One `[programs.NAME]` table. `{num}` in command/environment/log paths is left unexpanded."""

    name: str
    command: tuple[str, ...]
    numprocs: int = 1
    directory: Path | None = None
    environment: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    autostart: bool = True
    autorestart: str = "always"  # always | on-failure | never
    exit_codes: frozenset[int] = frozenset({0})
    start_seconds: float = 1.0
    restart_delay: float = 1.0
    restart_delay_max: float = 60.0
    min_uptime: float | None = None  # deprecated and ignored: see deprecations()
    max_restarts: int = 0
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout: float = 10.0
    max_memory: int | None = None
    restart_schedule: str | None = None
    stdout_log: str = ""  # absolute path template, may contain {num}
    stderr_log: str = ""
    merge_stderr: bool = False
    log_max_size: int = DEFAULT_LOG_MAX_SIZE
    log_backups: int = 5
    log_timestamps: bool = False
    #: dotenv files (absolute, "-" prefix = optional); their variables are merged into
    #: `environment` at load time (the table's own values win) and kept in env_file_values
    env_file: tuple[str, ...] = ()
    env_file_values: dict[str, str] = field(default_factory=dict, repr=False)
    #: program name -> "ready" | "started" | "completed": wait for every instance of it
    depends_on: dict[str, str] = field(default_factory=dict)
    #: one instance set across every master on redis_url, under a Redis lease (tasks/singleton.py)
    singleton: bool = False
    lock_ttl: float = 15.0  # the singleton's lease
    #: health (README "Health"): a NOTIFY_SOCKET of its own, keep-alives, silence as a hang
    notify: bool = False
    watchdog: float | None = None  # seconds without WATCHDOG=1 before it counts as hung
    watchdog_signal: signal.Signals = signal.SIGABRT
    max_silence: float | None = None  # seconds without output before it counts as hung
    liveness: ProbeConfig | None = None  # failing: hung, replaced
    readiness: ProbeConfig | None = None  # failing: not ready (STARTING until it first passes)


@dataclass(frozen=True)
class TaskConfig:
    """One `[tasks.NAME]` table (validated now; run by the scheduler)."""

    name: str
    command: tuple[str, ...]
    schedule: str
    timezone: str | None = None
    overlap: str = "skip"  # skip | allow | replace
    lock: str = "local"  # local | redis
    lock_ttl: float = 15.0
    timeout: float | None = None
    jitter: float = 0.0
    catch_up: bool = False
    on_success: tuple[str, ...] | None = None
    on_failure: tuple[str, ...] | None = None
    before: tuple[str, ...] | None = None  # run first; failing = the run is skipped
    #: task name -> "ok" | "failed" | "done": run when a run of that task ends so
    after: dict[str, str] = field(default_factory=dict)
    history: int = 100
    enabled: bool = True
    directory: Path | None = None
    environment: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout: float = 10.0
    stdout_log: str = ""
    stderr_log: str = ""
    merge_stderr: bool = False
    log_max_size: int = DEFAULT_LOG_MAX_SIZE
    log_backups: int = 5
    on_lock_unavailable: str = "skip"  # skip | run   (redis unreachable)
    on_lock_lost: str = "stop"  # stop | continue
    env_file: tuple[str, ...] = ()  # as in ProgramConfig
    env_file_values: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Config:
    path: Path
    master: MasterConfig
    programs: dict[str, ProgramConfig]
    tasks: dict[str, TaskConfig]
    #: "programs.NAME" / "tasks.NAME" -> the file that defines it (for messages that name it)
    origins: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ConfigIssue:
    """One problem: which file, which key, what value, and what would be allowed."""

    file: str
    key: str
    value: object
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        if self.value is None:  # a missing key, a missing file, a TOML syntax error
            return f"{where}: {self.message}"
        return f"{where} = {toml_literal(self.value)}: {self.message}"


class ConfigError(Exception):
    """Raised with every issue found, never just the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


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
