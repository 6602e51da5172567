"""`[programs.NAME.liveness]` / `[programs.NAME.readiness]`: one check (exec, http, tcp or
heartbeat_file) and its timing, validated with key paths like the rest of the configuration."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from procsup.config import checks

KINDS = ("exec", "http", "tcp", "heartbeat_file")


@dataclass(frozen=True)
class ProbeConfig:
    kind: str  # one of KINDS
    target: str  # the command line, URL, host:port or file ({num} expanded per instance)
    period: float = 10.0
    timeout: float = 2.0
    failures: int = 3  # consecutive failures before acting
    initial_delay: float = 0.0

    def argv(self, num: int) -> list[str]:
        return [a.replace("{num}", str(num)) for a in shlex.split(self.target)]


def _url(v: object) -> str:
    text = checks.check_str(v)
    parts = urlsplit(text.replace("{num}", "0"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError('expected an http:// or https:// URL, like "http://127.0.0.1:8080/health"')
    return text


def _host_port(v: object) -> str:
    text = checks.check_str(v)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.replace("{num}", "0").isdigit():
        raise ValueError('expected "host:port", like "127.0.0.1:6379"')
    return text


def _command(v: object) -> str:
    return shlex.join(checks.check_command(v))


TARGETS = {"exec": _command, "http": _url, "tcp": _host_port, "heartbeat_file": checks.check_str}
TIMING: dict[str, checks.Check] = {
    "period": checks.positive_duration,
    "timeout": checks.positive_duration,
    "failures": checks.int_range(1, 1000),
    "initial_delay": checks.parse_duration,
}


def probe_from_table(raw: object, prefix: str) -> tuple[ProbeConfig | None, list[checks.Problem]]:
    """Validate one probe table; every problem names its key (`programs.web.readiness.period`)."""
    if not isinstance(raw, Mapping):
        return None, [(prefix, raw, 'expected a table, like { http = "http://127.0.0.1/" }')]
    values, problems = checks.convert_table(raw, TARGETS | TIMING, prefix)
    kinds = [k for k in KINDS if k in values or k in raw]
    if len(kinds) != 1:
        message = "give exactly one of " + ", ".join(KINDS)
        return None, [*problems, (prefix, dict(raw), message)]
    if problems:
        return None, problems
    timing: dict[str, Any] = {k: v for k, v in values.items() if k in TIMING}
    return ProbeConfig(kinds[0], values[kinds[0]], **timing), []
