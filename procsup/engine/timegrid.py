"""Timers rounded up to a shared grid, so that periodic work of many instances wakes the
master together instead of one at a time.

Five hundred watchdog deadlines, a hundred probe periods and the notify hub's rounds each fire
on their own schedule; a wake-up (epoll_wait returning, a loop iteration, the scheduler's
bookkeeping) costs more than the check it runs. Rounding each due time up to a multiple of the
grid on the monotonic clock puts whatever is due in the same slot into one loop iteration, for
a delay of at most one grid step.
"""

from __future__ import annotations

import math

GRID = 0.05  # seconds: the slot of the notify hub's rounds; coarser grids are multiples of it


COARSE = 0.25  # seconds: the grid of periods of two seconds and more (probes, watchdogs)


def grid_for(period: float) -> float:
    """The grid for a timer that recurs every `period`: coarse where a quarter second is
    small against the period, the hub's grid otherwise."""
    return COARSE if period >= 2 else GRID


def aligned_time(now: float, delay: float, grid: float = GRID) -> float:
    """The first multiple of `grid` at or after `now + delay` (for loop.call_at: timers of
    the same slot then share one due time exactly)."""
    return math.ceil((now + delay) / grid) * grid


def aligned_delay(now: float, delay: float, grid: float = GRID) -> float:
    """The delay from `now` to `aligned_time(now, delay, grid)`, for a call_later clock."""
    return max(aligned_time(now, delay, grid) - now, 0.0)
