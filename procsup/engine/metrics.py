"""CPU% and RSS per instance (its whole process tree, or its cgroup under cgroup tracking),
sampled only when someone asks."""

from __future__ import annotations

import time
from collections.abc import Iterable

from procsup.engine.instance import Instance
from procsup.engine.proctree import LazyProcessTable


class Sampler:
    """CPU% is the delta since the previous sample of the same instance; on a first look it is
    the average since the process started, so a one-shot `list` still shows something true."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], tuple[float, float]] = {}

    def sample(self, instances: Iterable[Instance]) -> dict[str, tuple[float, int]]:
        table = LazyProcessTable()  # scanned only if an instance needs it
        now = time.monotonic()
        out: dict[str, tuple[float, int]] = {}
        seen = set()
        for inst in instances:
            pid = inst.pid  # (a property of a property: read once)
            if pid is None:
                continue
            key = (inst.name, pid)
            seen.add(key)
            cpu, rss = inst.usage(table)
            prev = self._last.get(key)
            if prev is not None and now - prev[1] > 0.05:
                pct = (cpu - prev[0]) / (now - prev[1]) * 100
            else:
                pct = cpu / max(now - inst.info.started_mono, 0.001) * 100
            self._last[key] = (cpu, now)
            out[inst.name] = (max(pct, 0.0), rss)
        sampled = {name for name, _ in seen}
        # forget old pids of the instances looked at; keep the others' samples for next time
        self._last = {k: v for k, v in self._last.items() if k in seen or k[0] not in sampled}
        return out
