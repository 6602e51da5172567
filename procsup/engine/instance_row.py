"""What an instance is made of and how it reads: the child's spawn spec and output files from its
program's config, and its row for `list` (the registry adds `overrides`). Kept apart from
instance.py, which holds the state machine."""

from __future__ import annotations

from typing import Protocol

from procsup.config.load import ProgramConfig
from procsup.core.schema import InstanceRow
from procsup.core.states import RUNNING_STATES, STOPPED_STATES, State
from procsup.engine.backoff import RunInfo
from procsup.engine.child import child_cwd, child_env
from procsup.engine.health import Health
from procsup.engine.instenv import INSTANCE_ENV
from procsup.engine.output import Output
from procsup.engine.process import SpawnSpec
from procsup.engine.runtime import Runtime


class RowSource(Protocol):
    """What a row is read from (instance.Instance)."""

    name: str
    config: ProgramConfig
    num: int
    rt: Runtime
    state: State
    info: RunInfo
    desired: bool
    waiting: str | None
    health: Health
    output: Output

    @property
    def pid(self) -> int | None: ...


def spawn_spec(
    config: ProgramConfig, num: int, rt: Runtime, instance_id: str, notify: str | None
) -> SpawnSpec:
    """The child of instance `num`: `{num}` filled in, the PROCSUP_* marks, NOTIFY_SOCKET (the
    `notify` path) when the program speaks sd_notify, and with a watchdog WATCHDOG_USEC and
    WATCHDOG_PID (the child's own pid, which only the child can fill in: `pid_env`)."""
    n = str(num)
    own = {k: v.replace("{num}", n) for k, v in config.environment.items()}
    marks = {
        "PROCSUP_PROGRAM": config.name,
        "PROCSUP_PROCESS_NAME": f"{config.name}:{num}",
        "PROCSUP_PROCESS_NUM": n,
        INSTANCE_ENV: instance_id,
        "PROCSUP_STATE_DIR": rt.state_dir,
    }
    env = child_env(rt, own, marks)
    pid_env = None
    if notify is not None:
        env["NOTIFY_SOCKET"] = notify
        if config.watchdog:  # as systemd: the interval, and whose it is (set by the child)
            env["WATCHDOG_USEC"] = str(int(config.watchdog * 1_000_000))
            pid_env = "WATCHDOG_PID"
    cwd = child_cwd(rt, config.directory)
    argv = [arg.replace("{num}", n) for arg in config.command]
    return SpawnSpec(argv, env, cwd, config.user, config.merge_stderr, pid_env=pid_env)


def make_output(config: ProgramConfig, num: int, name: str) -> Output:
    """The instance's output, its ring named `name` (the instance's own string, not a copy)."""
    n = str(num)
    stderr = None if config.merge_stderr else config.stderr_log.replace("{num}", n)
    return Output(
        name,
        config.stdout_log.replace("{num}", n),
        stderr,
        config.log_max_size,
        config.log_backups,
        config.log_timestamps,
    )


def start_timeout(cfg: ProgramConfig) -> float:
    """How long `start --wait` and a rolling restart wait for it to leave STARTING: past
    start_seconds, or, when READY=1 or a readiness probe ends STARTING, long enough for
    the probe's first verdict (a minute at least, as systemd's TimeoutStartSec default)."""
    wait = cfg.start_seconds
    if cfg.notify:
        wait = max(wait, 60.0)
    if cfg.readiness is not None:
        probe = cfg.readiness
        wait = max(wait, probe.initial_delay + probe.failures * (probe.period + probe.timeout))
    return wait


def standby(inst: RowSource) -> str | None:
    """The lease holder's name while a stopped singleton stands by for it."""
    if not inst.config.singleton or inst.state not in STOPPED_STATES:
        return None
    gate = inst.rt.gates.get(inst.config.name)
    return gate.standby() if gate is not None else "?"


def instance_row(inst: RowSource) -> InstanceRow:
    """The instance row without `overrides` (the registry knows those: Registry.row)."""
    info, state = inst.info, inst.state
    running = state in RUNNING_STATES
    return {
        "name": inst.name,
        "program": inst.config.name,
        "num": inst.num,
        "state": state,
        "pid": inst.pid,
        "started": info.started_wall if running else None,
        "uptime": inst.rt.clock.monotonic() - info.started_mono if running else None,
        "restarts": info.restarts,
        "attempt": info.failures if state == State.BACKOFF else 0,
        "next_try": info.next_try,
        "last_exit": info.last_exit,
        "last_exit_time": info.last_exit_time,
        "spawn_error": info.spawn_error,
        "last_exit_reason": info.exit_reason,
        "last_exit_cause": info.exit_cause,
        "desired": inst.desired,
        "waiting": f"waiting for {inst.waiting}" if inst.waiting else None,
        "overrides": [],
        "health": inst.health.text(running),
        "ready": running and state == State.RUNNING and inst.health.is_ready(),
        "status_text": inst.health.status if running else None,
        **inst.output.log_status(),
        "standby": standby(inst),
    }
