"""Task chains (`after = { import = "ok" }`): which tasks follow which, and whether a run's end
starts them. The scheduler launches them; this is only the rule."""

from __future__ import annotations

from collections.abc import Iterable

from procsup.tasks.task import FAILED_STATUSES, Task


def index_chains(tasks: Iterable[Task]) -> dict[str, list[Task]]:
    """Which tasks are chained `after` which, in the order given."""
    chained: dict[str, list[Task]] = {}
    for task in tasks:
        for upstream in task.config.after:
            chained.setdefault(upstream, []).append(task)
    return chained


def chain_meets(condition: str | None, status: str) -> bool:
    """Whether a run that ended with `status` starts a task chained `after` it with `condition`
    (ok: it succeeded; failed: it failed, timed out or lost its lock; done: either)."""
    ok, failed = status == "ok", status in FAILED_STATUSES
    return (condition in ("ok", "done") and ok) or (condition in ("failed", "done") and failed)
