"""An instance's restart arithmetic and the facts it keeps about its runs: the doubling delay
between failed starts, and the floor below which a run counts as a failed start whatever the
settings say. Pure, so the policy's numbers can be read (and tested) apart from the machine."""

from __future__ import annotations

from dataclasses import dataclass

MIN_RETRY_DELAY = 0.1  # even `restart_delay = 0` never spins a CPU
#: a run shorter than this is a failed start even when start_seconds is lower (0 included),
#: so that no setting turns a program that exits at once into a busy loop
QUICK_EXIT_FLOOR = 1.0


def backoff_delay(failures: int, first: float, cap: float) -> float:
    """Delay before retry number `failures` (1-based): first, 2×first, 4×first … up to cap."""
    first = max(first, MIN_RETRY_DELAY)
    return min(first * 2 ** min(failures - 1, 62), max(cap, first))


@dataclass(slots=True)  # one per instance: no dict (issue 14)
class RunInfo:
    """Facts about the current or last run, for `list`."""

    started_wall: float | None = None
    started_mono: float = 0.0
    last_exit: int | None = None
    last_exit_time: float | None = None
    spawn_error: str | None = None
    exit_cause: str | None = None  # "exited with code 1 after 3s (not expected)"
    exit_reason: str | None = None  # the whole sentence, with what happened next
    start_ticks: int = 0  # kernel start time: tells a leftover of ours from a recycled pid
    restarts: int = 0
    failures: int = 0
    next_try: float | None = None
