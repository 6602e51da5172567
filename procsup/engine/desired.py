"""Run-time desired state against the config file: what the user changed (stopped, started,
scaled, added) and how that reads for people.

Keeping what the user did across reloads and master restarts is right, but it must never be
silent: every instance row carries its `overrides`, `reload` says what it kept, and
`reload --reset` drops them. This module holds the facts and their wording; the registry
decides when they change. Pure: the time is an argument.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

from procsup.core import schema


@dataclass(frozen=True)
class Override:
    """One way an instance differs from the file. `kind` is `stopped`, `started` (the user's
    start/stop against `autostart`), `scaled` (numprocs) or `adhoc` (a program not in the file).
    """

    kind: str
    text: str
    at: float | None = None
    numprocs: int | None = None
    file_numprocs: int | None = None

    @property
    def program_wide(self) -> bool:
        """True for overrides of the whole program (every instance carries the same one)."""
        return self.kind in ("scaled", "adhoc")

    def to_json(self) -> schema.Override:
        row: schema.Override = {"kind": self.kind, "text": self.text, "at": self.at}
        if self.kind == "scaled" and self.numprocs is not None and self.file_numprocs is not None:
            row |= {"numprocs": self.numprocs, "file_numprocs": self.file_numprocs}
        return row


@dataclass
class RunTimeChanges:
    """What the user did at run time, kept in the state file: start/stop per instance (with
    when), and when each program was scaled or added."""

    desired: dict[str, bool] = field(default_factory=dict)  # instance -> wants running
    desired_at: dict[str, float] = field(default_factory=dict)  # instance -> when
    program_at: dict[str, float] = field(default_factory=dict)  # program -> scaled/added when

    def set_desired(self, instance: str, running: bool, at: float) -> None:
        self.desired[instance] = running
        self.desired_at[instance] = at

    def forget_instance(self, instance: str) -> None:
        self.desired.pop(instance, None)
        self.desired_at.pop(instance, None)

    def forget_program(self, program: str) -> None:
        self.program_at.pop(program, None)
        prefix = program + ":"
        for name in [n for n in self.desired if n.startswith(prefix)]:
            self.forget_instance(name)

    def forget_beyond(self, program: str, numprocs: int) -> None:
        """Drop the start/stop of instances the program no longer has (`worker:5` of 4)."""
        prefix = program + ":"
        for name in [n for n in self.desired if n.startswith(prefix)]:
            num = name[len(prefix) :]
            if num.isdigit() and int(num) >= numprocs:
                self.forget_instance(name)

    def clear(self) -> None:
        self.desired.clear()
        self.desired_at.clear()
        self.program_at.clear()


def when(at: float | None, now: float) -> str:
    """` 18:01` today, ` Nov 30 18:01` on another day, `` when unknown (an old state file)."""
    if at is None:
        return ""
    return _when(at, int(now))


@functools.lru_cache(maxsize=64)
def _when(at: float, now: int) -> str:
    """when() for `now` in whole seconds: a UTC offset is whole seconds, so every instant of
    that second has the same local date. Cached: a `stop all` stops every instance at one
    `at`, and its reply (and every `list` after it) words the same time for each row, where
    the three localtime calls and the strftime were ~4 µs a row (issue 14, session 19)."""
    fmt = "%H:%M" if time.localtime(at)[:3] == time.localtime(now)[:3] else "%b %d %H:%M"
    return " " + time.strftime(fmt, time.localtime(at))


def desired_override(wanted: bool, at: float | None, now: float) -> Override:
    """The user's start or stop of an instance, against the file's `autostart`."""
    if wanted:
        text = f"started by you{when(at, now)} (file: autostart = false)"
        return Override("started", text, at)
    return Override("stopped", f"stopped by you{when(at, now)}", at)


def scaled_override(numprocs: int, file_numprocs: int, at: float | None) -> Override:
    text = f"scaled to {numprocs}, file says {file_numprocs}"
    return Override("scaled", text, at, numprocs, file_numprocs)


def adhoc_override(at: float | None, now: float) -> Override:
    return Override("adhoc", f"added by you{when(at, now)}, not in the file", at)


def kept_lines(rows: list[tuple[str, str, int, list[Override]]]) -> list[str]:
    """One line per program-wide override and per group of instances with the same override:
    `worker scaled to 4 (file says 2)`, `api:1, api:3 stopped by you 18:01`, or the program's
    name alone when every instance of it shares the override (`worker stopped by you 18:01`).

    `rows` holds (instance, program, instances in the program, overrides) in display order.
    """
    lines: list[str] = []
    seen: set[tuple[str, str]] = set()
    groups: dict[tuple[str, str], list[str]] = {}
    sizes: dict[str, int] = {}
    for name, program, size, overrides in rows:
        sizes[program] = size
        for ov in overrides:
            if ov.program_wide:
                if (program, ov.kind) not in seen:
                    seen.add((program, ov.kind))
                    lines.append(f"{program} {_program_text(ov)}")
            else:
                groups.setdefault((program, ov.text), []).append(name)
    for (program, text), names in groups.items():
        who = program if len(names) == sizes[program] else ", ".join(names)
        lines.append(f"{who} {text}")
    return lines


def _program_text(ov: Override) -> str:
    if ov.kind == "scaled":
        return f"scaled to {ov.numprocs} (file says {ov.file_numprocs})"
    return ov.text
