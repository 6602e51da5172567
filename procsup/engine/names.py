"""Name resolution, once for every command: a NAME is a program, an instance (`queue:3`), a task,
a glob over any of them (`queue*`) or `all`. The registry resolves instances with `match`;
`resolve_targets` adds the tasks, which the engine knows only by name (tasks/ sits above it).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from procsup.engine.instance import Instance

T = TypeVar("T")

ALL = "all"


class Resolver(Protocol):
    """What name resolution needs of the registry (registry.Registry), so this module sits
    below it and the import goes one way."""

    def resolve(self, names: Iterable[str]) -> list[Instance]: ...


class NotFound(Exception):
    """A name that matches nothing; its text is the one-line error for people."""


def is_glob(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def matches(name: str, *candidates: str) -> bool:
    """Whether NAME (exact, or a glob) matches any of the candidate names."""
    return any(fnmatch.fnmatchcase(c, name) for c in candidates)


def match_tasks(tasks: Iterable[str], name: str, all_tasks: bool = True) -> list[str]:
    """The task names NAME matches; `all` matches every task unless `all_tasks` is False."""
    if name == ALL:
        return list(tasks) if all_tasks else []
    return [t for t in tasks if t == name or matches(name, t)]


def no_match(name: str) -> str:
    return f"no program, instance or task matches {name!r} (see `procsup list` and `procsup tasks`)"


def resolve_targets(
    registry: Resolver, tasks: Mapping[str, T], names: Iterable[str], all_tasks: bool = True
) -> tuple[list[Instance], dict[str, T]]:
    """The instances and the tasks the names match, each once, in order; raises NotFound for a
    name that matches neither. `all_tasks=False`: `all` means every instance and no task."""
    insts: dict[str, Instance] = {}
    found: dict[str, T] = {}
    for name in names:
        matched = match_tasks(tasks, name, all_tasks)
        found.update((t, tasks[t]) for t in matched)
        try:
            insts.update((i.name, i) for i in registry.resolve([name]))
        except NotFound:
            if not matched:
                raise NotFound(no_match(name)) from None
    return list(insts.values()), found
