"""`stats`: CPU% and RSS of the named instances only, from a real master with real children."""

from __future__ import annotations

from collections.abc import Callable

from tests.harness import MasterProc

CONFIG = """
[programs.w]
command = "sleep 3600"
numprocs = 3
start_seconds = 0

[programs.off]
command = "sleep 3600"
autostart = false
"""


def test_stats_samples_the_named_running_instances(
    start_master: Callable[[str], MasterProc],
) -> None:
    m = start_master(CONFIG)
    for i in range(3):
        m.wait_state(f"w:{i}", "RUNNING")

    named = m.call("stats", {"names": ["w:1", "off:0", "no-such:9"]})
    # only w:1: off:0 has no process, no-such:9 is no instance (skipped, not an error)
    assert set(named["instances"]) == {"w:1"}
    sample = named["instances"]["w:1"]
    assert sample["cpu"] >= 0.0 and sample["rss"] > 0
    assert isinstance(named["time"], float)

    every = m.call("stats")  # no names: every instance with a process
    assert set(every["instances"]) == {"w:0", "w:1", "w:2"}
    assert m.call("stats", {"names": []})["instances"] == {}
