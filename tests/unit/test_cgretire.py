"""The batched removal of emptied leaves (engine/cgretire.py), on plain directories standing in
for leaf cgroups (a leaf's removal is its rmdir), with the real event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from procsup.engine import cgretire
from procsup.engine.cgretire import LeafRetirer
from procsup.engine.cgroups import Cgroup


def make_leaves(tmp_path: Path, n: int) -> list[Cgroup]:
    leaves = []
    for i in range(n):
        (tmp_path / f"inst-{i}").mkdir()
        leaves.append(Cgroup(str(tmp_path / f"inst-{i}")))
    return leaves


def left(tmp_path: Path) -> int:
    return sum(1 for _ in tmp_path.iterdir())


def test_leaves_go_together_once_no_more_come(tmp_path: Path) -> None:
    async def scenario() -> None:
        retirer = LeafRetirer(asyncio.get_running_loop())
        leaves = make_leaves(tmp_path, 3)
        for cg in leaves:
            retirer.retire(cg)
            await asyncio.sleep(cgretire.QUIET / 2)  # each came before the lull
        assert left(tmp_path) == 3
        await asyncio.sleep(cgretire.QUIET * 1.5)
        assert left(tmp_path) == 0 and retirer.waiting() == 0

    asyncio.run(scenario())


def test_a_steady_trickle_still_goes_within_max_wait(tmp_path: Path) -> None:
    async def scenario() -> None:
        retirer = LeafRetirer(asyncio.get_running_loop())
        leaves = make_leaves(tmp_path, 100)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for cg in leaves:  # never quiet for QUIET
            retirer.retire(cg)
            await asyncio.sleep(cgretire.QUIET / 3)
            if left(tmp_path) < 100:
                break
        assert left(tmp_path) < 100
        assert loop.time() - start < cgretire.MAX_WAIT + 4 * cgretire.QUIET
        retirer.flush()

    asyncio.run(scenario())


def test_many_leaves_go_in_chunks_and_flush_removes_the_rest(tmp_path: Path) -> None:
    async def scenario() -> None:
        retirer = LeafRetirer(asyncio.get_running_loop())
        n = cgretire.CHUNK + 10
        for cg in make_leaves(tmp_path, n):
            retirer.retire(cg)
        await asyncio.sleep(cgretire.QUIET * 1.2)
        assert left(tmp_path) in (10, 0)  # the first chunk, and maybe the next turn's
        await asyncio.sleep(0)
        assert left(tmp_path) == 0
        for cg in make_leaves(tmp_path, 5):
            retirer.retire(cg)
        retirer.flush()
        assert left(tmp_path) == 0 and retirer.waiting() == 0

    asyncio.run(scenario())
