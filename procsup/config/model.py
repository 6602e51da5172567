"""The loaded configuration as frozen dataclasses, and the error that lists every problem.

Kept apart from load.py (which reads and validates TOML) so the shapes can be read on their own.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

from procsup.config.probe import ProbeConfig
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
