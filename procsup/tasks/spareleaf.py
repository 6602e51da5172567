"""A task's cgroup leaf kept from one run for the next (under cgroup tracking).

Why: the spawn helper's clone3 into a new leaf costs about a third more than into one that
held a process before (the kernel sets up the new cgroup's bookkeeping on its first member),
and the master makes and removes a directory per run; with 200 tasks every second that is
~10 % of what a run costs procsup. Only a leaf that is empty and was never cgroup.kill'ed
is kept: on this kernel every later clone3 into a killed cgroup is killed at birth. A run
that was stopped (timeout, replace, `stop`, a lost lock) may have been killed that way, so
its leaf is removed as before; one spare per task, any other is removed.
"""

from __future__ import annotations

import os

from procsup.engine.cgroups import Cgroup


class SpareLeaf:
    def __init__(self) -> None:
        self._leaf: Cgroup | None = None
        self._closed = False

    def take(self) -> Cgroup | None:
        """The spare leaf for a new run (it is the run's from now on), or None."""
        leaf, self._leaf = self._leaf, None
        if leaf is not None and not os.path.isdir(leaf.path):
            return None  # removed behind our back: the run makes a new one
        return leaf

    def give(self, leaf: Cgroup, stop_reason: str | None) -> bool:
        """A run's leaf at its end: kept for the next run (or removed, when a spare is kept
        already) if it is empty and the run was never stopped, so no cgroup.kill reached it.
        False when the caller must clear it as usual (stop what is left, remove it)."""
        if stop_reason is not None or leaf.populated():
            return False
        if self._leaf is None and not self._closed:
            self._leaf = leaf
        else:
            leaf.remove()
        return True

    def close(self) -> None:
        """The task is gone (shutdown, reload): its spare leaf goes too."""
        self._closed = True
        if self._leaf is not None:
            self._leaf.remove()
            self._leaf = None
