"""The batch that overlaps the autostart's spawns: second halves run in order, at most `depth`
behind, and all of them when the batch ends, also after an error."""

from __future__ import annotations

import pytest

from procsup.engine.spawnbatch import Batch


def test_second_halves_run_in_order_at_most_depth_behind() -> None:
    done: list[int] = []
    with Batch(depth=2) as batch:
        for n in range(5):
            batch.add(lambda n=n: done.append(n))
            assert len(done) == max(0, n - 1)  # never more than 2 open
    assert done == [0, 1, 2, 3, 4]


def test_an_error_in_the_batch_still_finishes_what_was_sent() -> None:
    done: list[int] = []
    with pytest.raises(RuntimeError), Batch(depth=4) as batch:
        batch.add(lambda: done.append(1))
        batch.add(lambda: done.append(2))
        raise RuntimeError("a bug between two spawns")
    assert done == [1, 2]
