"""Composition from the outside: `run_master` builds the engine (engine/master.py) and, beside
it, the parts from the layers above it, the cron scheduler (tasks/) and the control server that
serves the master through its facade (control/). `procsup daemon -f` calls it; nothing in the
engine imports this module."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from procsup.config.load import Config, ConfigError, load_config
from procsup.control.facade import MasterFacade
from procsup.control.server import Server
from procsup.engine.cgroups import CgroupUnavailable
from procsup.engine.master import AlreadyRunning, Master
from procsup.engine.parts import PlannedRestart
from procsup.engine.runtime import Runtime
from procsup.tasks.scheduler import Scheduler

if TYPE_CHECKING:
    from procsup.control.metrics import MetricsServer

log = logging.getLogger("procsup")


class ControlParts:
    """engine.parts.Parts: the real scheduler, and the control server over the facade."""

    def __init__(self) -> None:
        self.scheduler: Scheduler | None = None

    def tasks(self, rt: Runtime, config: Config, restart: PlannedRestart) -> Scheduler:
        self.scheduler = Scheduler(rt, config, restart)
        return self.scheduler

    def frontend(self, master: Master) -> Server | WithMetrics:
        assert self.scheduler is not None, "the master builds its tasks before its server"
        server = Server(MasterFacade(master, self.scheduler))
        listen = master.config.master.metrics_listen
        if listen is None:
            return server
        from procsup.control.metrics import MetricsServer  # prometheus-client: only when asked

        return WithMetrics(server, MetricsServer(listen, master, self.scheduler))


class WithMetrics:
    """engine.parts.Frontend: the control server, with the metrics endpoint started and closed
    beside it (the endpoint has no socket file of its own to look after)."""

    def __init__(self, server: Server, metrics: MetricsServer) -> None:
        self.server = server
        self.metrics = metrics

    @property
    def path(self) -> Path:
        return self.server.path

    async def start(self) -> None:
        await self.server.start()
        await self.metrics.start()

    def ensure_socket(self) -> None:
        self.server.ensure_socket()

    async def close_listener(self) -> None:
        await self.server.close_listener()

    async def close(self) -> None:
        await self.metrics.close()
        await self.server.close()


def build_master(config: Config) -> Master:
    """The master with its scheduler and control server, not yet running."""
    return Master(config, ControlParts())


def run_master(config_path: Path) -> int:
    """Entry point of `procsup daemon -f`: load the config and run until shut down."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        for issue in exc.issues:
            log.error("%s", issue)
        return 2
    master = build_master(config)
    try:
        return asyncio.run(master.run())
    except AlreadyRunning as exc:
        log.error("%s", exc)
        return 1
    except CgroupUnavailable as exc:
        log.error('tracking = "cgroup" in %s, but no cgroup can be made: %s', config_path, exc)
        return 2
