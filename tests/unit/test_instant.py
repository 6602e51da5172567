"""The runs of one wake-up of the task timers (tasks/instant.py): the spawns' answers are
taken at most `depth` behind the requests, and the rest of every run's start comes only after
the last answer, in order, also after an error; a bug in one run's start does not stop the
others'; no garbage collection runs meanwhile."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

import pytest

from procsup.tasks.instant import Instant


def test_answers_at_most_depth_behind_and_every_start_after_the_last_answer() -> None:
    steps: list[str] = []

    def collect(n: int) -> Callable[[], None]:
        steps.append(f"answer {n}")
        return lambda: steps.append(f"start {n}")

    with Instant(depth=2) as instant:
        for n in range(4):
            instant.add(lambda n=n: collect(n))
            assert steps == [f"answer {k}" for k in range(max(0, n - 1))]  # 2 open at most
    assert steps == [f"answer {n}" for n in range(4)] + [f"start {n}" for n in range(4)]


def test_an_error_still_starts_every_run_answered_and_one_bad_start_stops_no_other(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started: list[int] = []

    def bad() -> None:
        raise ValueError("a bug in one run's start")

    with pytest.raises(RuntimeError), Instant(depth=8) as instant:
        instant.add(lambda: lambda: started.append(1))
        instant.add(lambda: bad)
        instant.add(lambda: lambda: started.append(3))
        raise RuntimeError("a bug between two fires")
    assert started == [1, 3]
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


def test_no_collection_during_the_instant_and_the_collector_back_after() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), Instant(depth=2) as instant:
        instant.add(lambda: lambda: None)
        assert not gc.isenabled()
        raise RuntimeError("a bug between two fires")
    assert gc.isenabled()
    gc.disable()  # a caller that had it off finds it off
    try:
        with Instant(depth=2):
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
