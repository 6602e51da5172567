"""The RLIMIT_NPROC headroom check of `procsup check` (core/nproc.py): the estimate and when it
warns."""

from __future__ import annotations

import os

from procsup.core import nproc


def test_estimate_counts_instances_tasks_and_master() -> None:
    need = nproc.estimate([2000, 10], tasks=20)
    assert need.instances == 2010
    assert need.total == nproc.MASTER_BASE + 2010 + nproc.PER_TASK * 20
    assert "2010 instance(s)" in need.explain()


def test_warns_when_running_plus_need_exceeds_soft_limit() -> None:
    need = nproc.estimate([2000], tasks=0)
    msg = nproc.headroom_message(need, soft=1024, running=100, root=False)
    assert msg is not None
    assert "RLIMIT_NPROC" in msg and "1024" in msg and "100" in msg and "ulimit -u" in msg


def test_silent_when_enough_unlimited_or_root() -> None:
    need = nproc.estimate([500], tasks=5)
    assert nproc.headroom_message(need, soft=4096, running=100, root=False) is None
    assert nproc.headroom_message(need, soft=None, running=100, root=False) is None
    assert nproc.headroom_message(need, soft=10, running=100, root=True) is None


def test_user_processes_counts_this_process_threads() -> None:
    assert nproc.user_processes(os.geteuid()) >= 1


def test_check_counts_the_config(tmp_path) -> None:
    from procsup.cli.check import nproc_need
    from procsup.config.load import load_config

    path = tmp_path / "procsup.toml"
    path.write_text(
        '[programs.w]\ncommand = "sleep 1"\nnumprocs = 2000\n'
        '[tasks.t]\ncommand = "true"\nschedule = "* * * * *"\n'
    )
    need = nproc_need(load_config(path))
    assert (need.instances, need.tasks) == (2000, 1)
