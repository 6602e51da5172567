"""What every importer produces: tables for the TOML, the comments that explain them, and the
warnings (file:line and why) for everything that could not be carried over.

An importer never drops a source key silently: it maps it into a table, notes it in a comment,
or adds a warning naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAME_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


class SourceError(Exception):
    """The source cannot be read or parsed at all (exit 2): one line naming the file."""


def read_text(path: Path) -> str:
    """A source file's text; SourceError (one line naming the file) when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SourceError(f"{path}: not UTF-8 text") from None


@dataclass(frozen=True)
class Warning:
    """A source key or section procsup has no equivalent for, and why."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass
class Entry:
    """One `[programs.NAME]` or `[tasks.NAME]` table and the comments written above it."""

    kind: str  # "programs" | "tasks"
    name: str
    table: dict[str, Any]
    comments: list[str] = field(default_factory=list)
    origin: tuple[str, int | None] = ("", None)  # the file and line it came from


@dataclass
class Conversion:
    """The result of importing one or more source files."""

    sources: list[tuple[str, str]] = field(default_factory=list)  # (file, kind)
    master: dict[str, Any] = field(default_factory=dict)
    master_comments: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)

    def warn(self, file: str | Path, line: int | None, message: str) -> None:
        self.warnings.append(Warning(str(file), line, message))

    def add(self, entry: Entry, file: str | Path, line: int | None) -> Entry:
        """Add an entry under a unique, valid name (renamed with a warning if needed)."""
        wanted = entry.name
        name = safe_name(wanted)
        taken = {e.name for e in self.entries}
        base, n = name, 2
        while name in taken or name == "all":
            name, n = f"{base}-{n}", n + 1
        if name != wanted:
            self.warn(
                file, line, f"'{wanted}' is named '{name}' (names must be unique, [A-Za-z0-9_.-])"
            )
        entry.name = name
        entry.origin = (str(file), line)
        self.entries.append(entry)
        return entry

    def merge(self, other: Conversion) -> None:
        self.sources += other.sources
        self.master |= other.master
        self.master_comments += other.master_comments
        self.warnings += other.warnings
        for entry in other.entries:
            self.add(entry, *entry.origin)


def safe_name(name: str) -> str:
    cleaned = NAME_BAD.sub("-", name).strip("-")
    return cleaned or "imported"


def line_of(text: str, pattern: str, start: int = 1) -> int | None:
    """The first line (1-based, from `start`) matching a regular expression, or None."""
    regex = re.compile(pattern)
    for number, line in enumerate(text.splitlines(), 1):
        if number >= start and regex.search(line):
            return number
    return None
