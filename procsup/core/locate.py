"""Where the config file, socket and state_dir are — with the stdlib (and core/fastjson.py) only.

Every CLI call needs this and nothing else from the config, so it must not pay for the full
validating loader (`procsup list` has to start fast). `config/load.py` uses the same rules.
"""

from __future__ import annotations

import os

from procsup.core import fastjson

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
    """(socket, state_dir) from the `[procsup]` table; defaults when the file is missing.

    The answer is cached per config file and trusted while the file's inode, size and mtime are
    unchanged: parsing TOML costs more than everything else `procsup list` does.
    """
    try:
        st = os.stat(config_path)
    except OSError:
        return _defaults(os.path.dirname(config_path))
    stamp = [st.st_ino, st.st_size, st.st_mtime_ns]
    cache = _read_cache()
    entry = cache.get(config_path)
    if isinstance(entry, list) and len(entry) == 3 and entry[0] == stamp:
        return str(entry[1]), str(entry[2])
    socket, state_dir = _parse(config_path)
    cache[config_path] = [stamp, socket, state_dir]
    _write_cache(cache)
    return socket, state_dir


def _defaults(base: str, table: dict[str, object] | None = None) -> tuple[str, str]:
    table = table or {}
    state_dir = resolve(str(table.get("state_dir", "run")), base)
    socket = table.get("socket")
    return (
        resolve(str(socket), base) if socket else os.path.join(state_dir, "procsup.sock"),
        state_dir,
    )


def _parse(config_path: str) -> tuple[str, str]:
    import tomllib

    try:
        with open(config_path, "rb") as f:
            raw = tomllib.load(f).get("procsup", {})
    except FileNotFoundError:
        raw = {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise LocateError(f"{config_path}: cannot read the config: {exc}") from None
    return _defaults(os.path.dirname(config_path), raw if isinstance(raw, dict) else {})


def _cache_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "procsup", "locations.json")


def _read_cache() -> dict[str, object]:
    try:
        with open(_cache_path(), "rb") as f:
            data = fastjson.loads(f.read())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(cache: dict[str, object]) -> None:
    """Best effort: an unwritable home only costs speed."""
    path = _cache_path()
    if len(cache) > 64:
        cache = dict(list(cache.items())[-64:])
    import json  # only when the config changed: the hot path reads with core/fastjson.py

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(cache, f)
        os.replace(tmp, path)
    except OSError:
        pass
