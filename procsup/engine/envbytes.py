"""A child's environment as the bytes execve is given, each variable encoded and checked once.

Every spawn encodes its whole environment (the master's ~90 variables on a server, plus the
program's own): ~40 µs a spawn, paid again for every run of a cron task although only the
run's few marks (its id, its scheduled instant) differ from the run before (issue 14). A
(name, value) pair once encoded and found valid is kept, so a spawn encodes only the pairs it
has not seen; the kept pairs are dropped all at once when there are too many (the runs' own
marks are new every time).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: kept pairs before they are all dropped (a few spawns' worth of new marks past the base)
MAX_PAIRS = 4096

_pairs: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def env_bytes(env: Mapping[str, str]) -> dict[bytes, bytes] | None:
    """`env` encoded with os.fsencode, in its order; None if a pair not seen before is not
    a valid variable (an empty name, '=' in the name, a null byte, or not encodable): the
    caller then encodes the whole way, which raises the error it always raised."""
    found = list(map(_pairs.get, env.items()))
    if None in found:
        return _with_new(env, found)
    return dict(found)  # type: ignore[arg-type]


def _with_new(
    env: Mapping[str, str], found: list[tuple[bytes, bytes] | None]
) -> dict[bytes, bytes] | None:
    """`found` completed with the pairs not seen before (found.index: a C loop, where the
    usual spawn has only its few marks to encode)."""
    if len(_pairs) >= MAX_PAIRS:
        _pairs.clear()
    items = list(env.items())
    fsencode = os.fsencode
    at = found.index(None)
    while True:
        pair = items[at]
        try:
            key, value = fsencode(pair[0]), fsencode(pair[1])
        except ValueError:  # UnicodeEncodeError
            return None
        if not key or b"=" in key or b"\0" in key or b"\0" in value:
            return None
        found[at] = _pairs[pair] = (key, value)
        try:
            at = found.index(None, at + 1)
        except ValueError:
            return dict(found)  # type: ignore[arg-type]
