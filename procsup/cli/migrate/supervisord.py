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
from pathlib import Path

from procsup.cli.migrate.common import Conversion, Entry, SourceError, read_text
from procsup.cli.migrate.supervisord_program import (
    Program,
    Source,
    abs_path,
    expand,
    parse_environment,
)

KIND = "supervisord"


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
        conv.add(entry, *entry.origin)
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
    text = read_text(path)
    try:
        parser.read_string(text, source=str(path))
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
        for entry, prio in Program(src, section, name, conv).convert():
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
            conv.master["socket"] = abs_path(value, src)
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
            conv.master["log_dir"] = abs_path(value, src)
        elif key == "environment":
            try:
                env.update(parse_environment(expand(value, {"here": str(src.path.parent)})))
            except ValueError as exc:
                conv.warn(src.path, line, f"environment: {exc}")
        elif key == "nodaemon":
            conv.master_comments.append(f"supervisord nodaemon={value}: {reasons[key]}")
        else:
            why = reasons.get(key, "no procsup equivalent")
            conv.warn(src.path, line, f"[supervisord] {key}: not imported: {why}")
