"""A task's spare cgroup leaf (tasks/spareleaf.py) on real cgroups: only an empty leaf of a run
that was never stopped is kept, one per task, and whatever is kept goes at the task's end."""

from __future__ import annotations

import os
import subprocess

from procsup.engine.cgroups import Cgroup
from procsup.tasks.spareleaf import SpareLeaf
from tests.harness import wait_for


def test_only_an_empty_leaf_of_an_unstopped_run_is_kept(leaf: Cgroup) -> None:
    spare = SpareLeaf()
    assert not spare.give(leaf, "timeout")  # a stopped run's leaf may have been killed
    assert spare.take() is None
    fd = leaf.open_procs()
    try:
        sleeper = subprocess.Popen(["sleep", "30"], preexec_fn=lambda: os.write(fd, b"0"))
    finally:
        os.close(fd)
    try:
        wait_for(leaf.populated, 5, "the sleeper in the leaf")
        assert not spare.give(leaf, None)  # something left in it: stopped and removed as before
    finally:
        sleeper.kill()
        sleeper.wait()
    wait_for(lambda: not leaf.populated(), 5, "the leaf to empty")
    assert spare.give(leaf, None)
    assert spare.take() is leaf and spare.take() is None  # handed out once


def test_one_spare_a_task_and_none_after_close(leaf: Cgroup) -> None:
    other = Cgroup(f"{os.path.dirname(leaf.path)}/task-other")
    os.mkdir(other.path)
    spare = SpareLeaf()
    assert spare.give(leaf, None) and spare.give(other, None)
    assert not os.path.isdir(other.path)  # a second spare is removed at once
    spare.close()
    assert not os.path.isdir(leaf.path)
    os.mkdir(leaf.path)  # for the fixture's teardown
    assert spare.give(leaf, None) and not os.path.isdir(leaf.path)  # after close: removed
    os.mkdir(leaf.path)


def test_a_spare_removed_behind_its_back_is_not_handed_out(leaf: Cgroup) -> None:
    spare = SpareLeaf()
    assert spare.give(leaf, None)
    os.rmdir(leaf.path)
    assert spare.take() is None
    os.mkdir(leaf.path)
