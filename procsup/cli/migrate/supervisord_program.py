"""One supervisord `[program:x]` section → a procsup program table, key by key, and the
value rules shared with supervisord.py (paths, `%(name)s` expansions, the environment syntax).
"""

from __future__ import annotations

import configparser
import os
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from procsup.cli.migrate.common import Conversion, Entry
from procsup.core.values import duration_for_toml, parse_duration, parse_size

SIGNALS = {"TERM", "HUP", "INT", "QUIT", "KILL", "USR1", "USR2"}
MARK = 987654321  # a process_num no one uses: where it appears, procsup writes {num}
BOOL = {"true": True, "yes": True, "on": True, "1": True}
BOOL |= {"false": False, "no": False, "off": False, "0": False}


@dataclass
class Source:
    """One parsed file: its sections, and where each section and key is."""

    path: Path
    parser: configparser.RawConfigParser
    lines: dict[tuple[str, str | None], int]

    def line(self, section: str, key: str | None = None) -> int | None:
        return self.lines.get((section, key)) or self.lines.get((section, None))


def abs_path(value: str, src: Source) -> str:
    """A path as supervisord reads it (`%(here)s` expanded), made absolute."""
    value = value.replace("%(here)s", str(src.path.parent)).strip()
    return os.path.normpath(os.path.join(src.path.parent, os.path.expanduser(value)))


def parse_environment(text: str) -> dict[str, str]:
    """supervisord's `KEY="v",KEY2=v` syntax: commas separate, quotes may hold anything."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace = ",\n\t "
    lexer.whitespace_split = True
    env = {}
    for token in lexer:
        key, eq, value = token.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"expected KEY=value pairs separated by commas, not {token!r}")
        env[key.strip()] = value
    return env


def expand(value: str, names: dict[str, Any]) -> str:
    """supervisord's `%(name)s` expansions; ValueError naming what cannot be expanded."""
    names = {f"ENV_{k}": v for k, v in os.environ.items()} | names
    names.setdefault("host_node_name", socket.gethostname())
    try:
        return value % names
    except KeyError as exc:
        raise ValueError(f"%({exc.args[0]})s cannot be expanded") from None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad %-expansion ({exc})") from None


class Program:
    """One `[program:x]` section: the mapping of each supervisord key."""

    def __init__(self, src: Source, section: str, name: str, conv: Conversion) -> None:
        self.src, self.section, self.name, self.conv = src, section, name, conv
        self.raw = dict(src.parser.items(section))
        self.table: dict[str, Any] = {}
        self.comments: list[str] = []
        self.numprocs = 1
        self.start = 0

    def warn(self, key: str, message: str) -> None:
        self.conv.warn(self.src.path, self.src.line(self.section, key), f"{key}: {message}")

    def convert(self) -> list[tuple[Entry, int]]:
        self.numprocs = self._int("numprocs", 1, 0)
        self.start = self._int("numprocs_start", 0, 0)
        if "command" not in self.raw:
            self.conv.warn(self.src.path, self.src.line(self.section), "no command; skipped")
            return []
        priority = self._int("priority", 999, None)
        for key, value in self.raw.items():
            handler = getattr(self, f"_k_{key}", None)
            if handler is None:
                self.warn(key, f"not imported: {UNMAPPED.get(key, 'unknown supervisord key')}")
                continue
            try:
                handler(value)
            except ValueError as exc:
                self.warn(key, str(exc))
        self._defaults(priority)
        origin = (str(self.src.path), self.src.line(self.section))
        return [(Entry("programs", self.name, self.table, self.comments, origin), priority)]

    def _int(self, key: str, default: int, low: int | None) -> int:
        try:
            value = int(self.raw.get(key, default))
        except ValueError:
            return default  # reported by its handler
        return value if low is None or value >= low else default

    def _defaults(self, priority: int) -> None:
        """supervisord's defaults that differ from procsup's, written out so nothing changes."""
        self.table.setdefault("autorestart", "on-failure")  # supervisord: unexpected
        if "max_restarts" not in self.table:
            self._k_startretries("3")
        if priority != 999:
            self.comments.append(f"priority={priority}: written in priority order (see the top)")
        self.comments.append(
            "stopasgroup/killasgroup: always on in procsup (stop reaches the whole tree)"
        )
        if "directory" not in self.table:
            self.comments.append(
                "no directory: supervisord ran it in its own working directory; procsup runs it "
                "in this config file's folder"
            )
        if any("%(ENV_" in v for v in self.raw.values()):
            self.comments.append("%(ENV_…)s: expanded from the importing shell's environment")

    def _template(self, key: str, value: str) -> str:
        """Expand for every process_num; `{num}` where supervisord put the process number."""
        base = {
            "program_name": self.name,
            "group_name": self.name,
            "here": str(self.src.path.parent),
            "numprocs": self.numprocs,
        }
        template = expand(value, base | {"process_num": MARK}).replace(str(MARK), "{num}")
        for i in range(self.numprocs):
            real = expand(value, base | {"process_num": self.start + i})
            if template.replace("{num}", str(i)) != real:
                self.warn(
                    key,
                    f"procsup's {{num}} is 0…{self.numprocs - 1}, unpadded; supervisord gave "
                    f"{real!r} for instance {i} (numprocs_start or %(process_num)02d); "
                    f"written as {template!r}",
                )
                break
        return template

    # -- one method per supervisord key ------------------------------------------------------

    def _k_command(self, v: str) -> None:
        command = self._template("command", v)
        shlex.split(command)  # supervisord splits it the same way: fail here, not in check
        self.table["command"] = command

    def _k_process_name(self, v: str) -> None:
        names = [self._name_of(v, i) for i in range(min(self.numprocs, 3))]
        if names and names[0] != self.name:
            shown = ", ".join(names) + (" …" if self.numprocs > 3 else "")
            last = self.numprocs - 1
            self.comments.append(
                f"supervisord's processes {shown} are {self.name}:0 … {self.name}:{last}"
            )

    def _name_of(self, v: str, i: int) -> str:
        names = {"program_name": self.name, "group_name": self.name}
        return expand(v, names | {"process_num": self.start + i, "here": ""})

    def _k_numprocs(self, v: str) -> None:
        if int(v) < 0:
            raise ValueError("must be 0 or more")
        if int(v) != 1:
            self.table["numprocs"] = int(v)

    def _k_numprocs_start(self, v: str) -> None:
        if int(v):
            self.comments.append(
                f"numprocs_start={v}: instances are numbered from 0 ({self.name}:0 is "
                f"supervisord's process_num {v})"
            )

    def _k_directory(self, v: str) -> None:
        self.table["directory"] = abs_path(self._template("directory", v), self.src)

    def _k_environment(self, v: str) -> None:
        env = parse_environment(self._template("environment", v))
        self.table["environment"] = env

    def _k_user(self, v: str) -> None:
        self.table["user"] = v.strip()

    def _k_autostart(self, v: str) -> None:
        self.table["autostart"] = _bool(v)

    def _k_autorestart(self, v: str) -> None:
        word = v.strip().lower()
        if word == "unexpected":
            self.table["autorestart"] = "on-failure"
        else:
            self.table["autorestart"] = "always" if _bool(word) else "never"

    def _k_exitcodes(self, v: str) -> None:
        codes = [int(c) for c in v.split(",") if c.strip()]
        if codes != [0]:
            self.table["exit_codes"] = codes

    def _k_startsecs(self, v: str) -> None:
        seconds = int(v)
        if seconds != 1:
            self.table["start_seconds"] = seconds

    def _k_startretries(self, v: str) -> None:
        tries = int(v)
        if tries <= 0:
            self.table["max_restarts"] = 1
            raise ValueError(
                f"startretries={tries} (FATAL at the first failed start) has no procsup "
                "equivalent (max_restarts = 0 means never give up): written as max_restarts = 1"
            )
        self.table["max_restarts"] = tries
        self.comments.append(
            f"startretries={tries} -> max_restarts = {tries}: FATAL after the first start and "
            f"{tries} retries all exit before start_seconds, as in supervisord "
            "(procsup's retry delay doubles from restart_delay, supervisord's grows by 1s)"
        )

    def _k_stopsignal(self, v: str) -> None:
        name = v.strip().upper().removeprefix("SIG")
        if name not in SIGNALS:
            raise ValueError(f"unknown signal {v!r}")
        if name != "TERM":
            self.table["stop_signal"] = name

    def _k_stopwaitsecs(self, v: str) -> None:
        seconds = int(v)
        if seconds != 10:
            self.table["stop_timeout"] = _duration(seconds)
            if seconds > 50:
                self.comments.append(
                    "under systemd, raise TimeoutStopSec above this stop_timeout "
                    "(`procsup startup` does)"
                )

    def _k_stopasgroup(self, v: str) -> None:
        if not _bool(v):
            self.warn("stopasgroup", "false is not possible: procsup always signals the group")

    def _k_killasgroup(self, v: str) -> None:
        if not _bool(v):
            self.warn("killasgroup", "false is not possible: procsup always kills the tree")

    def _k_redirect_stderr(self, v: str) -> None:
        if _bool(v):
            self.table["merge_stderr"] = True

    def _k_priority(self, v: str) -> None:
        int(v)

    def _k_stdout_logfile(self, v: str) -> None:
        self._logfile("stdout_logfile", "stdout_log", v)

    def _k_stderr_logfile(self, v: str) -> None:
        if _bool_or(self.raw.get("redirect_stderr", "false")):
            self.comments.append("stderr_logfile: not used (redirect_stderr=true)")
            return
        self._logfile("stderr_logfile", "stderr_log", v)

    def _logfile(self, key: str, target: str, v: str) -> None:
        word = v.strip()
        if word.upper() == "AUTO":
            self.comments.append(f"{key}=AUTO: procsup's default file under log_dir")
        elif word.upper() == "NONE":
            self.warn(key, "NONE: procsup always keeps output; it goes to the default file")
        elif word.lower() == "syslog":
            self.warn(key, "syslog: not supported; output goes to the default file")
        else:
            self.table[target] = abs_path(self._template(key, word), self.src)

    def _k_stdout_logfile_maxbytes(self, v: str) -> None:
        size = parse_size(v.strip())
        if size == 0:
            raise ValueError("0 (never rotate) is not supported; procsup keeps its default size")
        self.table["log_max_size"] = v.strip()

    def _k_stdout_logfile_backups(self, v: str) -> None:
        self.table["log_backups"] = int(v)

    def _k_stderr_logfile_maxbytes(self, v: str) -> None:
        self._same_as_stdout("stderr_logfile_maxbytes", v)

    def _k_stderr_logfile_backups(self, v: str) -> None:
        self._same_as_stdout("stderr_logfile_backups", v)

    def _same_as_stdout(self, key: str, v: str) -> None:
        other = self.raw.get(key.replace("stderr", "stdout"))
        if other is None or other.strip() != v.strip():
            self.warn(key, "procsup has one log_max_size/log_backups for both streams")


UNMAPPED = {
    "umask": "procsup does not change the umask; set it in a wrapper script",
    "serverurl": "not needed",
    "stdout_capture_maxbytes": "no capture mode (event listeners are not supported)",
    "stderr_capture_maxbytes": "no capture mode (event listeners are not supported)",
    "stdout_events_enabled": "event listeners are not supported",
    "stderr_events_enabled": "event listeners are not supported",
    "stdout_syslog": "syslog is not supported",
    "stderr_syslog": "syslog is not supported",
}


def _bool(v: str) -> bool:
    word = v.strip().lower()
    if word not in BOOL:
        raise ValueError(f"expected true or false, not {v!r}")
    return BOOL[word]


def _bool_or(v: str) -> bool:
    return BOOL.get(v.strip().lower(), False)


def _duration(seconds: float) -> str | float:
    return duration_for_toml(parse_duration(seconds))
