"""crontabs (`crontab -l` output, or `/etc/cron.d` files with a user column) → procsup tasks.

Each schedule line becomes a task run through `sh -c` (cron runs every line through SHELL);
`@reboot` becomes a program with `autorestart = "never"`. `NAME=value` lines apply to the
lines after them: CRON_TZ is the tasks' timezone, SHELL the shell, PATH and the rest go into
their environment; MAILTO has no equivalent (a warning).
"""

from __future__ import annotations

import os
import pwd
import re
from pathlib import Path
from typing import Any

from procsup.cli.migrate.common import Conversion, Entry, SourceError, read_text

KIND = "crontab"
ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
FIELD = re.compile(r"^[0-9*/,\-A-Za-z?LW#]+$")


def convert(path: Path) -> Conversion:
    text = read_text(path)
    conv = Conversion(sources=[(str(path), KIND)])
    lines = list(enumerate(text.splitlines(), 1))
    system = has_user_column(path, [line for _, line in lines])
    state: dict[str, Any] = {"env": {}, "shell": "/bin/sh", "tz": None}
    for number, raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assign = ASSIGN.match(line)
        if assign and not split_schedule(line):
            _assign(assign.group(1), _unquote(assign.group(2)), state, conv, path, number)
            continue
        parsed = split_schedule(line, system)
        if parsed is None:
            conv.warn(path, number, f"not a crontab line: {line[:60]!r}; skipped")
            continue
        _line(*parsed, state, conv, path, number)
    if not conv.entries:
        raise SourceError(f"{path}: no schedule lines: not a crontab")
    return conv


def split_schedule(line: str, system: bool = False) -> tuple[str, str | None, str] | None:
    """(schedule, user, command) of a schedule line, or None."""
    words = line.split()
    if words and words[0].startswith("@"):
        count = 1
        if words[0].lower() not in ALIASES | {"@reboot"}:
            return None
    else:
        count = 5
        if len(words) <= 5 or not all(FIELD.match(w) for w in words[:5]):
            return None
    user = words[count] if system and len(words) > count + 1 else None
    rest = line.split(None, count + (1 if user else 0))
    if len(rest) <= count + (1 if user else 0):
        return None
    return " ".join(words[:count]), user, rest[-1]


def has_user_column(path: Path, lines: list[str]) -> bool:
    """System crontabs (/etc/crontab, /etc/cron.d) have a user after the schedule; elsewhere,
    when every schedule line's sixth word is a user of this host."""
    if str(path).startswith(("/etc/cron.d", "/etc/crontab")):
        return True
    users = []
    for line in lines:
        parsed = split_schedule(line.strip(), system=True)
        if parsed and not line.strip().startswith("#"):
            users.append(parsed[1])
    return bool(users) and all(u is not None and _is_user(u) for u in users)


def _is_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _home(user: str | None) -> str | None:
    try:
        entry = pwd.getpwnam(user) if user else pwd.getpwuid(os.geteuid())
    except KeyError:
        return None
    return entry.pw_dir if os.path.isdir(entry.pw_dir) else None


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _assign(
    key: str, value: str, state: dict[str, Any], conv: Conversion, path: Path, number: int
) -> None:
    if key in ("CRON_TZ", "TZ"):
        state["tz"] = value or None
        if key == "TZ":
            state["env"] = {**state["env"], "TZ": value}
    elif key == "SHELL":
        state["shell"] = value
    elif key == "MAILTO":
        conv.warn(
            path,
            number,
            "MAILTO: procsup sends no mail; output is in the task's log files and "
            "`procsup history`; add on_failure = \"mail -s 'task failed' you@example.com\"",
        )
    else:
        state["env"] = {**state["env"], key: value}


def _line(
    schedule: str,
    user: str | None,
    command: str,
    state: dict[str, Any],
    conv: Conversion,
    path: Path,
    number: int,
) -> None:
    command, stdin = split_percent(command)
    script = command
    if stdin is not None:  # a here-document feeds the whole command, as cron's pipe does
        script = f"(\n{command}\n) <<'PROCSUP_STDIN'\n{stdin}\nPROCSUP_STDIN"
    table: dict[str, Any] = {"command": [state["shell"], "-c", script]}
    comments = [f"{path.name}:{number}: {schedule} {command}"[:200]]
    if stdin is not None:
        comments.append("text after % is the command's standard input, as cron gives it")
    if user:
        table["user"] = user
    home = _home(user)
    if home:
        table["directory"] = home  # cron runs each line in the user's home folder
    if state["env"]:
        table["environment"] = dict(state["env"])
    name = task_name(command)
    if schedule == "@reboot":
        table["autorestart"] = "never"
        comments.append("@reboot: a program that runs once when the master starts")
        conv.add(Entry("programs", name, table, comments), path, number)
        return
    table["schedule"] = schedule.lower() if schedule.startswith("@") else schedule
    if state["tz"]:
        table["timezone"] = state["tz"]
    conv.add(Entry("tasks", name, table, comments), path, number)


def split_percent(command: str) -> tuple[str, str | None]:
    """cron's `%`: the first unescaped one ends the command, the rest is its standard input
    (further `%` are newlines); `\\%` is a literal %."""
    parts = re.split(r"(?<!\\)%", command)
    head = parts[0].replace("\\%", "%")
    if len(parts) == 1:
        return head, None
    return head, "\n".join(p.replace("\\%", "%") for p in parts[1:])


def task_name(command: str) -> str:
    """A readable name from the command's first words: `cd /srv/app && php artisan
    import:data >> x` → `php-artisan-import-data`."""
    tail = re.split(r"&&|;|\|\|", command)[-1] if "cd " in command else command
    tail = re.split(r"[|<>]", tail)[0]
    words = [Path(w).name for w in tail.split() if not w.startswith("-") and "=" not in w]
    words = [w for w in words if w not in ("flock", "timeout", "nice", "sudo", "exec")]
    name = re.sub(r"[^A-Za-z0-9]+", "-", "-".join(words[:3])).strip("-").lower()
    return name[:40] or "cron"
