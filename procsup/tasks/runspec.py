"""What a task's processes are spawned with (its directory, user and environment) and what a
run holds against overlap: shared by the runs (taskrun.py) and the hooks (task.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from procsup.config.load import TaskConfig
from procsup.engine.child import child_cwd, child_env
from procsup.engine.process import SpawnSpec
from procsup.engine.runtime import Runtime

if TYPE_CHECKING:
    from procsup.tasks.redislock import Lease, RedisLocks


@dataclass
class Hold:
    """What a run holds against overlap: a local flock descriptor or a Redis lease (or nothing,
    for `overlap = "allow"` and runs that went ahead without an unreachable Redis)."""

    fd: int | None = None
    lease: Lease | None = None
    locks: RedisLocks | None = None


def task_spec(
    rt: Runtime,
    config: TaskConfig,
    argv: tuple[str, ...],
    extra_env: dict[str, str],
    pass_fds: tuple[int, ...] = (),
) -> SpawnSpec:
    """How a task's processes (its runs and its hooks) are spawned: the task's directory, user
    and environment, plus PROCSUP_TASK and what `extra_env` adds."""
    env = child_env(rt, config.environment, {"PROCSUP_TASK": config.name, **extra_env})
    cwd = child_cwd(rt, config.directory)
    return SpawnSpec(list(argv), env, cwd, config.user, config.merge_stderr, pass_fds)
