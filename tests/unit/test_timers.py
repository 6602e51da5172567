"""procsup.tasks.timers.WallTimers on a real event loop and the real wall clock: callbacks run
in deadline order, a later timer does not move the loop's wake-up, a replaced timer runs at its
new time only, and closed timers fire nothing; the timerfd under them (finetimer.py) runs its
callback once per wait, at the last wait set, and not at all once disarmed."""

from __future__ import annotations

import asyncio
import os
import time

from procsup.tasks.finetimer import FineTimer
from procsup.tasks.timers import WallTimers


def test_callbacks_run_in_deadline_order_and_replacing_moves_one() -> None:
    async def scenario() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        timers = WallTimers(loop)
        fired: list[tuple[str, float]] = []
        done = loop.create_future()

        def note(name: str) -> None:
            fired.append((name, time.time()))
            if len(fired) == 3:
                done.set_result(None)

        start = time.time()
        timers.set("a", start + 0.15, lambda: note("a"))
        timers.set("b", start + 0.05, lambda: note("b"))
        timers.set("c", start + 0.10, lambda: note("c"))
        timers.set("b", start + 0.25, lambda: note("b"))  # replaced: only the new time counts
        await asyncio.wait_for(done, 5)
        await asyncio.sleep(0.1)  # nothing else fires (the old "b" is gone)
        timers.close()
        return [(name, at - start) for name, at in fired]

    fired = asyncio.run(scenario())
    assert [name for name, _ in fired] == ["c", "a", "b"]
    for (_, at), due in zip(fired, (0.10, 0.15, 0.25), strict=True):
        assert at >= due - 0.002  # never early (the loop's clock may round a little)


def test_closed_timers_fire_nothing_and_free_their_descriptor() -> None:
    async def scenario() -> tuple[list[str], int, int]:
        loop = asyncio.get_running_loop()
        before = len(os.listdir("/proc/self/fd"))
        timers = WallTimers(loop)
        fired: list[str] = []
        timers.set("a", time.time() + 0.05, lambda: fired.append("a"))
        opened = len(os.listdir("/proc/self/fd"))
        timers.close()
        await asyncio.sleep(0.15)
        return fired, opened - before, len(os.listdir("/proc/self/fd")) - before

    fired, opened, left = asyncio.run(scenario())
    assert fired == []
    assert opened <= 1  # the timerfd, where the system has one
    assert left == 0


def test_fine_timer_rearm_replaces_and_disarm_cancels() -> None:
    async def scenario() -> tuple[list[float], float]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        timer = FineTimer(loop, lambda: fired.append(time.monotonic()))
        start = time.monotonic()
        try:
            timer.arm(0.02)
            timer.arm(0.08)  # replaces the first wait
            await asyncio.sleep(0.2)
            timer.arm(0.02)
            timer.disarm()
            await asyncio.sleep(0.1)
        finally:
            timer.close()
        return fired, start

    fired, start = asyncio.run(scenario())
    assert len(fired) == 1
    assert fired[0] - start >= 0.08
