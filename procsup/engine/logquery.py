"""Log queries: whose output a `logs` request reads (names resolved as everywhere, names.py) and
the backlog of recent lines, from the in-memory rings or, right after a master restart, from the
files. The control server only shapes these into replies and streams them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from procsup.engine.logs import LogChunk, tail_file
from procsup.engine.names import resolve_targets

if TYPE_CHECKING:
    from procsup.engine.output import Output
    from procsup.engine.registry import Registry


class HasOutput(Protocol):
    """A task, as far as logs go."""

    @property
    def output(self) -> Output: ...


def log_sources(
    registry: Registry, tasks: Mapping[str, HasOutput], names: list[str]
) -> list[Output]:
    """The outputs of the named instances and tasks (every one when none is named); raises
    names.NotFound for a name that matches nothing."""
    if not names:
        return [i.output for i in registry.instances()] + [t.output for t in tasks.values()]
    insts, matched = resolve_targets(registry, tasks, names)
    found = {name: task.output for name, task in matched.items()}
    found.update((i.name, i.output) for i in insts)
    return list(found.values())


def line_items(name: str, chunk: LogChunk) -> list[dict[str, Any]]:
    return [
        {"name": name, "stream": chunk.stream, "time": chunk.time, "line": line}
        for line in chunk.lines()
    ]


def backlog(
    sources: list[Output], n: int, streams: set[str], since: float | None
) -> list[dict[str, Any]]:
    """The last `n` lines (0: none, as `tail -n 0`; negative: all that is held), oldest first,
    of `streams`, no older than `since` seconds."""
    if n == 0:
        return []
    cutoff = time.time() - since if since is not None else None
    items: list[dict[str, Any]] = []
    for out in sources:
        chunks = out.ring.chunks()
        if not chunks:  # nothing since this master started: fall back to the files
            for stream, path in out.paths().items():
                chunks.extend(tail_file(path, stream, n))
        for chunk in chunks:
            if chunk.stream in streams and (cutoff is None or chunk.time >= cutoff):
                items.extend(line_items(out.ring.name, chunk))
    items.sort(key=lambda it: it["time"])  # stable: keeps each chunk's lines in order
    return items[-n:] if n > 0 else items
