"""Program configurations back to TOML-ready tables: for `save` and for the ad-hoc programs kept
in the state file. The inverse of `config.program_from_dict`, which reads them back."""

from __future__ import annotations

import dataclasses
import shlex
import signal
from pathlib import Path
from typing import Any

from procsup.config.load import ProgramConfig, default_logs
from procsup.config.probe import ProbeConfig
from procsup.core.values import duration_for_toml, size_for_toml

DURATION_FIELDS = frozenset(
    {
        "start_seconds",
        "restart_delay",
        "restart_delay_max",
        "min_uptime",
        "stop_timeout",
        "lock_ttl",
        "watchdog",
        "max_silence",
    }
)
SIZE_FIELDS = frozenset({"max_memory", "log_max_size"})


def program_to_dict(p: ProgramConfig, log_dir: Path) -> dict[str, Any]:
    """The inverse of program_from_dict: only keys that differ from the defaults, TOML-ready."""
    default = ProgramConfig(name=p.name, command=p.command, **default_logs(p.name, log_dir))
    out: dict[str, Any] = {"command": shlex.join(p.command)}
    for f in dataclasses.fields(p):
        value = getattr(p, f.name)
        if f.name == "environment" and p.env_file_values:  # env_file is re-read on load
            value = {k: v for k, v in value.items() if p.env_file_values.get(k) != v}
        if f.name not in ("name", "command", "env_file_values") and value != getattr(
            default, f.name
        ):
            out[f.name] = _toml_value(f.name, value)
    return out


def _toml_value(name: str, value: Any) -> Any:
    """A ProgramConfig field value as program_from_dict accepts it back."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, ProbeConfig):
        default = ProbeConfig(value.kind, value.target)
        table: dict[str, Any] = {value.kind: value.target}
        for key in ("period", "timeout", "failures", "initial_delay"):
            if getattr(value, key) != getattr(default, key):
                v = getattr(value, key)
                table[key] = v if key == "failures" else duration_for_toml(v)
        return table
    if isinstance(value, signal.Signals):
        return value.name.removeprefix("SIG")
    if name == "env_file":
        return list(value)
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, dict):
        return dict(value)
    if name in DURATION_FIELDS:
        return duration_for_toml(value)
    if name in SIZE_FIELDS:
        return size_for_toml(value)
    return value
