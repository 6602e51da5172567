"""After a master was killed (`kill -9`), find what it left running and stop it before starting
fresh copies, so there are never two copies of a worker.

This is the process-tracking way (pids, start times, environment marks). Under cgroup tracking
the new master has already killed its predecessor's instance cgroups (cgtree.py) by then, which
also reaches daemons that lost their marks; this pass then finds nothing, or processes of a
predecessor that ran under process tracking."""

from __future__ import annotations

import asyncio
import logging
import os

from procsup.engine.proctree import start_ticks
from procsup.engine.statefile import SavedState
from procsup.engine.stopping import terminate

log = logging.getLogger(__name__)


def find_leftovers(state: SavedState, state_dir: str, run_id: str) -> set[int]:
    """Processes of an earlier master of this state_dir: by recorded pid + start time, and by the
    PROCSUP_STATE_DIR mark every descendant inherits. After a clean shutdown there are none, so
    the scan of every process's environment is skipped. Task runs are left alone: a local-lock
    run finishes under its flock, a Redis-lock run is stopped by its keeper."""
    found: set[int] = set()
    for pid, ticks in state.pids.values():
        if ticks and start_ticks(int(pid)) == ticks:
            found.add(int(pid))
    if state.clean:
        return found
    import psutil  # only after an unclean end: ~0.9 MiB of memory otherwise (issue 14)

    me = os.getpid()
    for proc in psutil.process_iter(["environ"]):
        env = proc.info.get("environ") or {}
        if (
            proc.pid != me
            and env.get("PROCSUP_STATE_DIR") == state_dir
            and not env.get("PROCSUP_INSTANCE_ID", "").startswith(run_id)
            and "PROCSUP_TASK" not in env  # a task run lives on under its lock, by design
        ):
            found.add(proc.pid)
    return found


async def stop_predecessors(pids: set[int], timeout: float) -> None:
    """Stop what find_leftovers found, with its process groups: TERM, `timeout`, then KILL."""
    if not pids:
        return
    log.warning(
        "stopping %d process(es) left by a previous master: %s",
        len(pids),
        " ".join(map(str, sorted(pids))),
    )
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except OSError:
            continue
    await terminate(pids, timeout, groups)
    await asyncio.sleep(0)
