"""Checks of the graphs between entries: `depends_on` between programs and `after` between
tasks must name entries that exist and must not loop back. Pure; load.py adds the file.

`start_order` is also what the engine uses to start programs in dependency order and stop
them in reverse.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from procsup.config.checks import Problem


def graph_problems(
    kind: str, edges: Mapping[str, Mapping[str, str]], key: str, known: set[str]
) -> Iterator[tuple[str, Problem]]:
    """(entry name, problem) for every unknown name and every cycle in `edges`; `known` holds
    every name defined (one with errors of its own too, so it is not called unknown)."""
    for name, targets in edges.items():
        for target in targets:
            if target == name:
                yield name, (f"{kind}.{name}.{key}.{target}", targets[target], "names itself")
            elif target not in known:
                names = ", ".join(sorted(known)) or "none"
                message = f"no {kind[:-1]} named {target!r} (known: {names})"
                yield name, (f"{kind}.{name}.{key}.{target}", targets[target], message)
    for cycle in _cycles(edges):
        first, second = cycle[0], cycle[1]
        path = " -> ".join(cycle)
        message = f"a cycle: {path}; remove one of these"
        yield first, (f"{kind}.{first}.{key}.{second}", edges[first][second], message)


def _cycles(edges: Mapping[str, Mapping[str, str]]) -> list[list[str]]:
    """Each cycle once (through a depth-first walk), as names ending where they began."""
    found: list[list[str]] = []
    done: set[str] = set()

    def walk(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            if len(cycle) > 2:  # a self-reference is reported as such
                found.append(cycle)
            return
        if name in done or name not in edges:
            return
        for target in edges[name]:
            walk(target, [*path, name])
        done.add(name)

    for name in edges:
        walk(name, [])
    return found


def start_order(edges: Mapping[str, Mapping[str, str]]) -> list[list[str]]:
    """Names in waves: each wave depends only on earlier ones (unknown names are ignored, a
    cycle's members come last together), so stopping goes through the waves reversed."""
    left = {n: {t for t in ts if t in edges and t != n} for n, ts in edges.items()}
    waves: list[list[str]] = []
    while left:
        ready = sorted(n for n, ts in left.items() if not ts & left.keys())
        if not ready:  # only a cycle is left (a config checked by graph_problems has none)
            ready = sorted(left)
        waves.append(ready)
        for n in ready:
            del left[n]
    return waves
