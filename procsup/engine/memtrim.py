"""Giving freed memory back to the system after a burst (glibc's `malloc_trim`).

When a stuck `logs -f` follower or `events` subscriber leaves, much of what it held is not
freed at once: the exception that ended it (the client reset the connection) ties its frames,
its transport and the output chunks it held into reference cycles that only a full garbage
collection frees, which may not come for a long time; and what is freed goes back to malloc,
where glibc keeps the pages mapped (RSS stays up) until something trims them. Measured with 200
stuck followers leaving, three times over: without this, the master kept 6, 11, then 19 MiB
more; with it, under 3.5 MiB. `soon()` does both once, a moment after the last of a group of
clients left; it costs some milliseconds, and the trim does nothing where there is no glibc.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable

from procsup.engine.libc import libc

DELAY = 1.0  # seconds after the last release: one trim for a crowd of clients leaving at once
#: a reply this big (a `list` of some hundred instances) was built from many dicts and lists
#: above pymalloc's 512 bytes, from malloc: freed all over the heap once it is sent, and kept
#: mapped there by glibc (issue 14: ~2 MiB of a 2,000-instance master's RSS after `list`)
BIG_REPLY = 256 * 1024

_trim: Callable[[int], int] | None = None
_pending: asyncio.TimerHandle | None = None


def _load() -> Callable[[int], int] | None:
    """glibc's malloc_trim (engine/libc.py), or None on another C library."""
    try:
        return libc().malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


def trim() -> None:
    """Free what only a full collection frees, and return free heap memory to the system."""
    gc.collect()
    heap()


def heap() -> None:
    """Return free heap memory to the system, without a collection: after a big reply, whose
    rows plain reference counting has freed already. Measured 0.3 ms at 2,000 instances, next
    to the ~60 ms of the reply, and no timer: an idle master stays without wake-ups."""
    global _trim
    if _trim is None:
        _trim = _load() or (lambda _pad: 0)
    with contextlib.suppress(OSError):
        _trim(0)


def soon() -> None:
    """Trim DELAY seconds from now (re-armed by each call, so a crowd leaving trims once)."""
    global _pending
    if _pending is not None:
        _pending.cancel()
    _pending = asyncio.get_running_loop().call_later(DELAY, _run)


def _run() -> None:
    global _pending
    _pending = None
    trim()
