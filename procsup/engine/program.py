"""One program: its configuration and its instances (`numprocs` of them)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from procsup.config.load import ProgramConfig
from procsup.engine.instance import Instance
from procsup.engine.runtime import Runtime


class Program:
    def __init__(
        self,
        config: ProgramConfig,
        runtime: Runtime,
        numprocs: int | None = None,
        adhoc: bool = False,
    ) -> None:
        self.config = config
        self.rt = runtime
        self.adhoc = adhoc
        self.instances: dict[int, Instance] = {}
        self._grow(numprocs if numprocs is not None else config.numprocs)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def numprocs(self) -> int:
        return len(self.instances)

    def _grow(self, n: int) -> list[Instance]:
        added = []
        for num in range(len(self.instances), n):
            inst = Instance(self.config, num, self.rt)
            self.instances[num] = inst
            added.append(inst)
        return added

    async def scale(self, n: int) -> tuple[list[Instance], list[Instance]]:
        """Add or stop-and-remove instances from the top; returns (added, removed)."""
        added = self._grow(n)
        removed = [self.instances[num] for num in sorted(self.instances) if num >= n]
        await asyncio.gather(*(inst.stop() for inst in removed))
        for inst in removed:
            inst.close()
            del self.instances[inst.num]
        self.rt.changed()
        return added, removed

    async def stop_all(self) -> None:
        await asyncio.gather(*(inst.stop() for inst in self.instances.values()))

    def close(self) -> None:
        for inst in self.instances.values():
            inst.close()

    def __iter__(self) -> Iterator[Instance]:
        return iter(self.instances.values())
