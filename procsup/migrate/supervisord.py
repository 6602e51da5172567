"""supervisord `.conf` files → procsup tables.

Read with configparser under supervisord's own rules (`;`/`#` inline comments after whitespace,
lower-cased keys, no configparser interpolation; supervisord's `%(name)s` expansions done here),
`[include] files =` globs relative to the including file. configparser keeps no line numbers,
so a small scan of each file finds them for the warnings.
"""

from __future__ import annotations

import configparser
import glob
import os
import re
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from procsup.datatypes import parse_duration, parse_size
from procsup.migrate.common import Conversion, Entry, SourceError

KIND = "supervisord"
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


def convert(path: Path) -> Conversion:
    conv = Conversion(sources=[(str(path), KIND)])
    main = _read(path)
    files = [main, *_includes(main, conv)]
    programs: list[tuple[int, int, Entry]] = []
    env: dict[str, str] = {}
    for src in files:
        for section in src.parser.sections():
            _section(src, section, conv, programs, env)
    for _prio, _i, entry in sorted(programs, key=lambda p: (p[0], p[1])):
        if env:
            entry.table["environment"] = env | entry.table.get("environment", {})
        conv.add(entry, str(path), None)
    if len({p for p, _, _ in programs}) > 1:
        conv.master_comments.append(
            "programs are written in supervisord's priority order (lowest first); procsup "
            "has no start-order key yet, so they start together"
        )
    return conv


def _read(path: Path) -> Source:
    parser = configparser.RawConfigParser(
        inline_comment_prefixes=(";", "#"), strict=False, interpolation=None
    )
    try:
        text = path.read_text(encoding="utf-8")
        parser.read_string(text, source=str(path))
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SourceError(f"{path}: not UTF-8 text") from None
    except configparser.Error as exc:
        raise SourceError(f"{path}: not a supervisord ini file: {_one_line(exc)}") from None
    return Source(path, parser, _scan_lines(text))


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def _scan_lines(text: str) -> dict[tuple[str, str | None], int]:
    """(section, key) -> line number, and (section, None) -> the header's line."""
    found: dict[tuple[str, str | None], int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), 1):
        header = re.match(r"\[([^\]]+)\]", line.strip())
        if header and not line[:1].isspace():
            section = header.group(1).strip()
            found.setdefault((section, None), number)
        elif line[:1] not in (" ", "\t", ";", "#") and re.match(r"[^=:]+[=:]", line):
            key = re.split(r"[=:]", line, maxsplit=1)[0].strip().lower()
            found.setdefault((section, key), number)
    return found


def _includes(main: Source, conv: Conversion) -> list[Source]:
    """The files of `[include] files = a/*.conf b.conf`, relative to the including file."""
    if not main.parser.has_section("include"):
        return []
    sources = []
    raw = main.parser.get("include", "files", fallback="")
    here = str(main.path.parent)
    for pattern in raw.split():
        pattern = pattern.replace("%(here)s", here)
        full = os.path.join(here, os.path.expanduser(pattern))
        matches = sorted(glob.glob(full))
        if not matches:
            conv.warn(main.path, main.line("include", "files"), f"include {pattern}: no file")
        for match in matches:
            src = _read(Path(match))
            sources.append(src)
            conv.sources.append((match, KIND))
    return sources


def _section(
    src: Source,
    section: str,
    conv: Conversion,
    programs: list[tuple[int, int, Entry]],
    env: dict[str, str],
) -> None:
    kind, _, name = section.partition(":")
    where = (src.path, src.line(section))
    if kind == "program" and name:
        for entry, prio in _Program(src, section, name, conv).convert():
            programs.append((prio, len(programs), entry))
    elif kind == "include":
        for key in src.parser.options(section):
            if key != "files":
                conv.warn(src.path, src.line(section, key), f"[include] {key}: unknown key")
    elif kind == "group":
        members = src.parser.get(section, "programs", fallback="")
        conv.warn(
            *where,
            f"[{section}]: procsup has no groups; act on {members or 'them'} together "
            "by naming them or with a glob (procsup restart 'queue*')",
        )
    elif kind == "unix_http_server":
        _unix_http_server(src, section, conv)
    elif kind == "supervisord":
        _supervisord(src, section, conv, env)
    elif kind in ("supervisorctl", "rpcinterface"):
        conv.warn(*where, f"[{section}]: not needed: the procsup CLI talks to the master's socket")
    elif kind == "eventlistener":
        conv.warn(*where, f"[{section}]: event listeners are not supported; see on_failure")
    elif kind == "fcgi-program":
        conv.warn(*where, f"[{section}]: fcgi programs (a shared socket) are not supported")
    elif kind == "inet_http_server":
        conv.warn(*where, f"[{section}]: no TCP control; procsup listens on a unix socket only")
    else:
        conv.warn(*where, f"[{section}]: unknown section, not imported")


def _unix_http_server(src: Source, section: str, conv: Conversion) -> None:
    for key, value in src.parser.items(section):
        line = src.line(section, key)
        if key == "file":
            conv.master["socket"] = _path(value, src)
        elif key == "chmod":
            conv.master["socket_mode"] = "0" + value.strip().lstrip("0").rjust(3, "0")
        elif key == "chown":
            user, _, group = value.partition(":")
            if group:
                conv.master["socket_group"] = group.strip()
            conv.warn(src.path, line, f"chown {user}: the socket belongs to the master's user")
        else:
            why = "peer uid check (SO_PEERCRED) instead" if key in ("username", "password") else ""
            conv.warn(src.path, line, f"[{section}] {key}: not supported {why}".rstrip())


def _supervisord(src: Source, section: str, conv: Conversion, env: dict[str, str]) -> None:
    reasons = {
        "logfile": "the master logs to stderr (the journal under systemd) or daemon -f "
        "--log-file FILE",
        "minfds": "the master raises its open-file limit itself (LimitNOFILE= in the unit)",
        "nodaemon": "run `procsup daemon -f` to stay in the foreground",
        "pidfile": "the pid lock is in state_dir",
        "user": "run the master as that user (User= in the systemd unit)",
    }
    for key, value in src.parser.items(section):
        line = src.line(section, key)
        if key == "childlogdir":
            conv.master["log_dir"] = _path(value, src)
        elif key == "environment":
            try:
                env.update(parse_environment(_expand(value, {"here": str(src.path.parent)})))
            except ValueError as exc:
                conv.warn(src.path, line, f"environment: {exc}")
        elif key == "nodaemon":
            conv.master_comments.append(f"supervisord nodaemon={value}: {reasons[key]}")
        else:
            why = reasons.get(key, "no procsup equivalent")
            conv.warn(src.path, line, f"[supervisord] {key}: not imported: {why}")


def _path(value: str, src: Source) -> str:
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


def _expand(value: str, names: dict[str, Any]) -> str:
    """supervisord's `%(name)s` expansions; ValueError naming what cannot be expanded."""
    names = {f"ENV_{k}": v for k, v in os.environ.items()} | names
    names.setdefault("host_node_name", socket.gethostname())
    try:
        return value % names
    except KeyError as exc:
        raise ValueError(f"%({exc.args[0]})s cannot be expanded") from None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad %-expansion ({exc})") from None


class _Program:
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
        return [(Entry("programs", self.name, self.table, self.comments), priority)]

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

    def _template(self, key: str, value: str) -> str:
        """Expand for every process_num; `{num}` where supervisord put the process number."""
        base = {
            "program_name": self.name,
            "group_name": self.name,
            "here": str(self.src.path.parent),
            "numprocs": self.numprocs,
        }
        template = _expand(value, base | {"process_num": MARK}).replace(str(MARK), "{num}")
        for i in range(self.numprocs):
            real = _expand(value, base | {"process_num": self.start + i})
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
        return _expand(v, names | {"process_num": self.start + i, "here": ""})

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
        self.table["directory"] = _path(self._template("directory", v), self.src)

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
            self.table[target] = _path(self._template(key, word), self.src)

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
    from procsup.datatypes import duration_for_toml

    return duration_for_toml(parse_duration(seconds))
