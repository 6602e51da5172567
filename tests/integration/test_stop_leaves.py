"""`stop` under cgroup tracking removes the emptied leaves after its reply, together
(engine/cgretire.py): a start right after a stop runs in leaves of its own, the old leaves go
a moment later, and a master shut down meanwhile leaves none behind."""

from __future__ import annotations

from pathlib import Path

from tests.harness import MasterProc, wait_for
from tests.integration.test_tracking import require_cgroups, subtree

CONFIG = """
[procsup]
tracking = "cgroup"
[programs.nap]
command = "sleep 100"
numprocs = 3
start_seconds = 0
stop_timeout = "2s"
"""


def leaves(m: MasterProc) -> set[str]:
    return {p.name for p in subtree(m).iterdir() if p.is_dir()}


def leaf_of(pid: int) -> str:
    line = Path(f"/proc/{pid}/cgroup").read_text().split("0::", 1)[1]
    return line.split("\n", 1)[0].rsplit("/", 1)[1]


def all_running(m: MasterProc) -> dict[str, int]:
    rows = m.call("list")["instances"]
    running = {r["name"]: r["pid"] for r in rows if r["state"] == "RUNNING"}
    return running if len(running) == len(rows) else {}


def test_a_start_right_after_stop_gets_new_leaves_and_the_old_ones_go(start_master):
    require_cgroups()
    m = start_master(CONFIG)
    first = wait_for(lambda: all_running(m), 10, "3 instances RUNNING")
    old = leaves(m)
    assert old == {leaf_of(pid) for pid in first.values()}
    assert m.cli("stop", "all").returncode == 0
    assert {r["state"] for r in m.call("list")["instances"]} == {"STOPPED"}
    assert m.cli("start", "all").returncode == 0  # at once: the old leaves may still be there
    again = wait_for(lambda: all_running(m), 10, "3 instances RUNNING again")
    assert not set(again.values()) & set(first.values())
    new = {leaf_of(pid) for pid in again.values()}
    assert len(new) == 3 and not new & old
    wait_for(lambda: leaves(m) == new, 5, "only the new leaves to be left")


def test_shutdown_right_after_stop_leaves_no_cgroup(start_master):
    require_cgroups()
    m = start_master(CONFIG)
    wait_for(lambda: all_running(m), 10, "3 instances RUNNING")
    assert m.cli("stop", "all").returncode == 0
    assert m.stop() == 0  # at once, while the leaves wait for their removal
    assert not subtree(m).exists()
