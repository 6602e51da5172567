"""Where the config file, socket and state_dir are — with the stdlib only.

Every CLI call needs this and nothing else from the config, so it must not pay for the full
validating loader (`procsup list` has to start fast). `config.py` uses the same rules.
"""

from __future__ import annotations

import os
import tomllib

ENV_VAR = "PROCSUP_CONFIG"
DEFAULT_LOCATIONS = ("procsup.toml", "~/.config/procsup/procsup.toml", "/etc/procsup/procsup.toml")


class LocateError(Exception):
    """The config file exists but cannot be read as TOML (one line, for people)."""


def absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def resolve(value: str, base_dir: str) -> str:
    """A config path: `~` expanded, relative ones taken from the config file's folder."""
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(value)))


def find_config_path(explicit: str | None) -> str:
    """-c PATH, else $PROCSUP_CONFIG, else the first existing default location, else
    ./procsup.toml. An explicit path is returned even when missing: the caller reports it."""
    chosen = explicit or os.environ.get(ENV_VAR)
    if chosen:
        return absolute(chosen)
    for candidate in DEFAULT_LOCATIONS:
        if os.path.isfile(absolute(candidate)):
            return absolute(candidate)
    return absolute(DEFAULT_LOCATIONS[0])


def master_paths(config_path: str) -> tuple[str, str]:
    """(socket, state_dir) from the `[procsup]` table; defaults when the file is missing."""
    table: dict[str, object] = {}
    try:
        with open(config_path, "rb") as f:
            raw = tomllib.load(f).get("procsup", {})
        table = raw if isinstance(raw, dict) else {}
    except FileNotFoundError:
        pass
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise LocateError(f"{config_path}: cannot read the config: {exc}") from None
    base = os.path.dirname(config_path)
    state_dir = resolve(str(table.get("state_dir", "run")), base)
    socket = table.get("socket")
    return (
        resolve(str(socket), base) if socket else os.path.join(state_dir, "procsup.sock"),
        state_dir,
    )
