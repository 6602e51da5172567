"""procsup.tasks.timers.WallTimers on a real event loop and the real wall clock: callbacks run
in deadline order, a later timer does not move the loop's wake-up, and a replaced timer runs
at its new time only."""

from __future__ import annotations

import asyncio
import time

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
