"""Per-key validator building blocks for checks.py: each converts a raw TOML value or raises
`ValueError` with a message saying what is allowed (load.py adds the file and key path).

croniter and zoneinfo are imported inside the checks that need them, so reading only the
`[procsup]` table (the CLI's fast path) stays cheap.
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

from procsup.core import locate
from procsup.core.values import parse_duration, parse_size, toml_literal, toml_type

Check = Callable[[Any], Any]

MAX_SOCKET_NAME = 80  # AF_UNIX's 107 bytes minus "/proc/self/fd/NNNNNNN/"
CRON_ALIASES = frozenset(
    {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"}
)


def check_bool(v: object) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"must be true or false, not {toml_type(v)}")
    return v


def check_str(v: object) -> str:
    if not isinstance(v, str):
        raise ValueError(f"must be a string, not {toml_type(v)}")
    if not v.strip():
        raise ValueError("must not be empty")
    return v


def int_range(low: int, high: int | None = None) -> Check:
    def check(v: object) -> int:
        allowed = f"from {low} to {high}" if high is not None else f"{low} or more"
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"must be an integer, not {toml_type(v)} ({allowed}; no quotes)")
        if v < low or (high is not None and v > high):
            raise ValueError(f"must be {allowed}")
        return v

    return check


def choice(*options: str) -> Check:
    def check(v: object) -> str:
        if v not in options:
            raise ValueError("expected one of: " + ", ".join(f'"{o}"' for o in options))
        return str(v)

    return check


def positive_duration(v: object) -> float:
    seconds = parse_duration(v)
    if seconds <= 0:
        raise ValueError("must be more than 0, like 500ms or 15s")
    return seconds


def optional_timeout(v: object) -> float | None:
    """A duration; 0 means no timeout."""
    return parse_duration(v) or None


def positive_size(v: object) -> int:
    size = parse_size(v)
    if size <= 0:
        raise ValueError("must be more than 0, like 512MB")
    return size


def _argv(v: object, what: str) -> tuple[str, ...]:
    """A command: a string split like a shell would (no shell is run), or a list of strings."""
    if isinstance(v, str):
        try:
            argv = shlex.split(v)
        except ValueError as exc:
            raise ValueError(f"cannot split this {what} like a shell would ({exc})") from None
    elif isinstance(v, list) and all(isinstance(a, str) for a in v):
        argv = list(v)
    else:
        raise ValueError(f"expected the {what} as a string or a list of strings")
    if not argv or not argv[0]:
        raise ValueError(f"the {what} must not be empty")
    if any("\0" in a for a in argv):
        raise ValueError(f"the {what} must not contain NUL characters")
    return tuple(argv)


def check_command(v: object) -> tuple[str, ...]:
    return _argv(v, "command")


def check_hook(v: object) -> tuple[str, ...]:
    return _argv(v, "hook command")


def condition_map(kind: str, conditions: tuple[str, ...]) -> Check:
    """`{ name = "condition" }`: which other program/task this one waits for, and how. The names
    are checked against the whole config in order.py, once every file is read."""

    def check(v: object) -> dict[str, str]:
        allowed = ", ".join(f'"{c}"' for c in conditions)
        if not isinstance(v, dict):
            raise ValueError(f'expected a table of {kind} names, like {{ db = "{conditions[0]}" }}')
        for name, cond in v.items():
            if cond not in conditions:
                raise ValueError(f"{name} = {toml_literal(cond)}: expected one of: {allowed}")
        return dict(v)

    return check


def check_environment(v: object) -> dict[str, str]:
    """A table of strings; numbers and booleans become strings ("1", "1.5", "true")."""
    if not isinstance(v, dict):
        raise ValueError('expected a table like { APP_ENV = "production" }')
    env: dict[str, str] = {}
    for key, value in v.items():
        if not key or "=" in key or "\0" in key:
            raise ValueError(
                f"invalid variable name {toml_literal(key)}: must be non-empty, without '='"
            )
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str) or "\0" in value:
            raise ValueError(f"{key}: expected a string, number or boolean value")
        env[key] = value
    return env


def user_check(is_root: bool) -> Check:
    def check(v: object) -> str:
        name = check_str(v)
        try:
            pwd.getpwnam(name)
        except KeyError:
            raise ValueError("no such user on this host") from None
        if not is_root:
            raise ValueError("user can only be set when procsup runs as root")
        return name

    return check


def check_group(v: object) -> str:
    name = check_str(v)
    try:
        grp.getgrnam(name)
    except KeyError:
        raise ValueError("no such group on this host") from None
    return name


def resolve_path(base_dir: Path, v: str) -> Path:
    """~ expanded; relative paths are relative to base_dir (the config file's folder)."""
    return Path(locate.resolve(v, str(base_dir)))


def path_check(base_dir: Path) -> Check:
    def check(v: object) -> Path:
        return resolve_path(base_dir, check_str(v))

    return check


def socket_path_check(base_dir: Path) -> Check:
    """The control socket: any length of folder works (it is reached through a directory
    descriptor past the kernel's 107-byte limit), but the file name itself must be short."""

    def check(v: object) -> Path:
        path = resolve_path(base_dir, check_str(v))
        if len(os.fsencode(path.name)) > MAX_SOCKET_NAME:
            raise ValueError(
                f"the socket's file name must be at most {MAX_SOCKET_NAME} bytes "
                '(the folder may be long); use a short name like "procsup.sock"'
            )
        return path

    return check


def directory_check(base_dir: Path) -> Check:
    def check(v: object) -> Path:
        path = resolve_path(base_dir, check_str(v))
        if not path.exists():
            raise ValueError(f"directory {path} does not exist; create it or fix the path")
        if not path.is_dir():
            raise ValueError(f"{path} is not a directory")
        return path

    return check


def log_path_check(base_dir: Path) -> Check:
    """A log file path template: absolute string, `{num}` is the only placeholder."""

    def check(v: object) -> str:
        text = check_str(v)
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError:
            fields = {"?"}
        if fields - {"num"}:
            raise ValueError("only {num} may appear in braces (the instance number)")
        return str(resolve_path(base_dir, text))

    return check


def env_file_check(base_dir: Path) -> Check:
    """`env_file`: a path or a list of paths, relative to the config's folder; a leading `-`
    (kept in the result) makes a file optional, as in systemd's `EnvironmentFile=-`."""

    def check(v: object) -> tuple[str, ...]:
        items = [v] if isinstance(v, str) else v
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            raise ValueError('expected a file name or a list of them, like ".env" or ["-.env"]')
        out = []
        for item in items:
            optional = item.startswith("-")
            path = resolve_path(base_dir, item[1:] if optional else item)
            out.append(("-" if optional else "") + str(path))
        return tuple(out)

    return check


def check_include(v: object) -> tuple[str, ...]:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        raise ValueError('expected a list of file globs like ["conf.d/*.toml"]')
    return tuple(items)


def check_redis_url(v: object) -> str:
    url = check_str(v)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError('expected a URL like "redis://127.0.0.1:6379/0"')
    return url


def split_listen(text: str) -> tuple[str, int]:
    """`"127.0.0.1:9101"` or `"[::1]:9101"` → (host, port); ValueError when it is not one."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError('expected "HOST:PORT" like "127.0.0.1:9101" (port 1-65535)')
    return host, int(port)


def check_listen(v: object) -> str:
    """An address to listen on: a host (IP address or name) and a port."""
    text = check_str(v).strip()
    host, _ = split_listen(text)
    if any(c.isspace() or c in "/[]" for c in host):
        raise ValueError(f"{host!r} is not a host name or IP address")
    return text


def check_cron(v: object) -> str:
    """A cron expression: 5 fields, 6 with seconds first, or an @-alias like @daily."""
    from croniter import CroniterBadDateError, croniter  # lazy: keep `procsup list` light

    help_text = 'expected a cron expression like "*/5 * * * *" (6 fields: seconds first) or @daily'
    expr = check_str(v).strip()
    if expr.startswith("@"):
        if expr.lower() not in CRON_ALIASES:
            raise ValueError(help_text + ", @hourly, @weekly, @monthly, @yearly")
        return expr.lower()
    if len(expr.split()) not in (5, 6) or not croniter.is_valid(expr, second_at_beginning=True):
        from procsup.config.cron_fields import explain

        problem = explain(expr)
        raise ValueError(problem or help_text)
    try:  # valid fields can still name a date that never comes, like 30 February
        croniter(expr, second_at_beginning=len(expr.split()) == 6).get_next(float)
    except CroniterBadDateError:
        raise ValueError("this schedule never fires (no such date)") from None
    return expr


def every_interval(schedule: str) -> float | None:
    """Seconds of an "@every <duration>" schedule; None for a cron expression.

    Raises ValueError for a malformed "@every" schedule.
    """
    text = schedule.strip()
    if not text.lower().startswith("@every"):
        return None
    try:
        return positive_duration(text[len("@every") :].strip())
    except ValueError:
        raise ValueError('expected "@every <duration>" like "@every 30s"') from None


def check_schedule(v: object) -> str:
    """A task schedule: a cron expression (see check_cron) or "@every <duration>"."""
    if isinstance(v, str) and every_interval(v) is not None:
        return v.strip()
    return check_cron(v)


def check_timezone(v: object) -> str:
    import zoneinfo  # lazy: keep the CLI's fast path light

    name = check_str(v)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone; use an IANA name like Europe/Berlin") from None
    return name
