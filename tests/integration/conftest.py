"""Fixtures shared by the integration tests of the spawn paths (test_cgspawn.py,
test_spawnhelper.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from procsup.engine.cgroups import Cgroup, subtree_path
from tests.harness import wait_for
from tests.integration.test_tracking import require_cgroups


@pytest.fixture
def leaf(tmp_path: Path) -> Iterator[Cgroup]:
    """An empty leaf cgroup of this test's own, removed after it (whatever is left is killed)."""
    require_cgroups()
    base = subtree_path(str(tmp_path))
    os.makedirs(base, exist_ok=True)
    cg = Cgroup(f"{base}/inst-test")
    os.mkdir(cg.path)
    yield cg
    cg.kill()
    wait_for(lambda: not cg.populated(), 5, f"{cg.path} to empty")
    cg.remove()
    os.rmdir(base)
