"""The master as the control commands see it (handlers/view.MasterView): a thin facade over the
master, its registry, sampler and scheduler, so no handler reaches into the master's parts.
Name resolution and log queries are the engine's (engine/names.py, engine/logquery.py); this only
hands them the scheduler's tasks. The protocol version joins the master's facts here, where the
protocol is known."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import cast

from procsup.config.load import Config, ProgramConfig
from procsup.config.save import save_config
from procsup.control.protocol import FAILED, PROTOCOL_VERSION, ProtocolError
from procsup.core.schema import FleetStatus, InstanceRow, MasterInfo, TaskRow
from procsup.engine.events import Broadcaster
from procsup.engine.instance import Instance
from procsup.engine.logquery import log_sources
from procsup.engine.master import Master
from procsup.engine.names import resolve_targets
from procsup.engine.output import Output
from procsup.engine.program import Program
from procsup.tasks.runrecord import RunRecord
from procsup.tasks.scheduler import Scheduler
from procsup.tasks.singleton import Singletons
from procsup.tasks.taskrun import TaskRun


class MasterFacade:
    def __init__(
        self, master: Master, scheduler: Scheduler, singletons: Singletons | None = None
    ) -> None:
        self._master = master
        self._scheduler = scheduler
        self._singletons = singletons
        #: the heartbeat's status (control/fleet/), set by the composition when in a cluster
        self.fleet_status: Callable[[], FleetStatus] | None = None

    async def park_singletons(self, programs: list[str], parked: bool) -> None:
        """`stop --everywhere` / `start` of singleton programs: tell every master via Redis."""
        if self._singletons is None or not programs:
            return
        from procsup.tasks.redislock import LockUnavailable

        try:
            await self._singletons.park(programs, parked)
        except LockUnavailable as exc:
            raise ProtocolError(FAILED, f"cannot tell the other masters: {exc}") from None

    # --- the master ---
    @property
    def config(self) -> Config:
        return self._master.config

    @property
    def events(self) -> Broadcaster:
        return self._master.events

    def info(self) -> MasterInfo:
        facts = self._master.info()
        facts["fleet"] = self.fleet_status() if self.fleet_status is not None else None
        return cast(
            MasterInfo, {"version": facts.pop("version"), "protocol": PROTOCOL_VERSION, **facts}
        )

    def request_shutdown(self) -> None:
        self._master.request_shutdown()

    async def reload(self, reset: bool = False) -> dict[str, list[str]]:
        return await self._master.reload(reset)

    def save(self) -> list[str]:
        cfg = self._master.config
        return save_config(cfg.path, self._master.registry.programs, cfg.master.log_dir)

    # --- programs and instances ---
    def instances(self) -> list[Instance]:
        return self._master.registry.instances()

    def resolve(self, names: list[str]) -> list[Instance]:
        return self._master.registry.resolve(names)

    def rows(self, insts: list[Instance], stats: bool = False) -> list[InstanceRow]:
        rows = [self._master.registry.row(inst) for inst in insts]
        if stats:
            sampled = self.stats(insts)
            for row in rows:
                row["cpu"], row["rss"] = sampled.get(row["name"], (None, None))
        return rows

    def stats(self, insts: list[Instance]) -> dict[str, tuple[float, int]]:
        return self._master.sampler.sample(insts)

    async def start(self, insts: list[Instance]) -> None:
        await self._master.registry.start(insts)

    async def stop(self, insts: list[Instance]) -> None:
        await self._master.registry.stop(insts)

    async def restart(self, insts: list[Instance], rolling: bool = False) -> list[str]:
        return await self._master.registry.restart(insts, rolling)

    async def scale(self, program: str, numprocs: int) -> Program:
        prog = await self._master.registry.scale(program, numprocs)
        self._master.check_fd_need()  # more instances may need more descriptors than allowed
        return prog

    async def add(self, config: ProgramConfig) -> Program:
        prog = await self._master.registry.add_adhoc(config)
        self._master.check_fd_need()
        return prog

    async def remove(self, program: str) -> None:
        await self._master.registry.remove(program)

    # --- tasks ---
    def task_names(self) -> Collection[str]:
        return self._scheduler.tasks.keys()

    def task_rows(self) -> list[TaskRow]:
        return self._scheduler.rows()

    async def run_task(self, name: str) -> TaskRun | RunRecord:
        return await self._scheduler.run_now(name)

    def pause_tasks(self, names: list[str], paused: bool) -> list[str]:
        return self._scheduler.set_paused(names, paused)

    async def stop_task_runs(self, names: list[str]) -> list[RunRecord]:
        return await self._scheduler.stop_runs(names)

    def history(self, task: str | None, limit: int) -> list[RunRecord]:
        return self._scheduler.history.recent(task, limit)

    # --- names and logs ---
    def targets(self, names: list[str]) -> tuple[list[Instance], list[str]]:
        """Instances and tasks named; `all` means every instance (task runs stop by name)."""
        insts, tasks = resolve_targets(
            self._master.registry, self._scheduler.tasks, names, all_tasks=False
        )
        return insts, list(tasks)

    def log_sources(self, names: list[str]) -> list[Output]:
        return log_sources(self._master.registry, self._scheduler.tasks, names)
