"""Composition from the outside: `run_master` builds the engine (engine/master.py) and, beside
it, the parts from the layers above it, the cron scheduler (tasks/) and the control server that
serves the master through its facade (control/). `procsup daemon -f` calls it; nothing in the
engine imports this module."""

from __future__ import annotations

import asyncio
import logging
import socket
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
    from procsup.control.fleet.heartbeat import Heartbeat
    from procsup.control.fleet.remote import RemoteControl

log = logging.getLogger("procsup")


class FleetFrontend:
    """The control server plus the master's cluster heartbeat (and, with remote_control, the
    reader of its control stream), started and closed together."""

    def __init__(self, server: Server, heartbeat: Heartbeat, remote: RemoteControl | None) -> None:
        self.server = server
        self.heartbeat = heartbeat
        self.remote = remote

    @property
    def path(self) -> Path:
        return self.server.path

    async def start(self) -> None:
        await self.server.start()
        self.heartbeat.start()
        if self.remote is not None:
            self.remote.start()

    def ensure_socket(self) -> None:
        self.server.ensure_socket()

    async def close_listener(self) -> None:
        await self.server.close_listener()

    async def close(self) -> None:
        if self.remote is not None:
            await self.remote.close()
        await self.heartbeat.close()
        await self.server.close()


class ControlParts:
    """engine.parts.Parts: the real scheduler, and the control server over the facade."""

    def __init__(self) -> None:
        self.scheduler: Scheduler | None = None

    def tasks(self, rt: Runtime, config: Config, restart: PlannedRestart) -> Scheduler:
        self.scheduler = Scheduler(rt, config, restart)
        return self.scheduler

    def frontend(self, master: Master) -> Server | FleetFrontend:
        assert self.scheduler is not None, "the master builds its tasks before its server"
        facade = MasterFacade(master, self.scheduler)
        server = Server(facade)
        cfg = master.config.master
        if not cfg.cluster:
            return server
        from procsup.control.fleet.heartbeat import Heartbeat
        from procsup.control.fleet.remote import RemoteControl

        node = cfg.node_name or socket.gethostname()
        heartbeat = Heartbeat(facade, cfg, node)
        facade.fleet_status = heartbeat.status
        remote = None
        if cfg.remote_control and cfg.redis_url:
            remote = RemoteControl(cfg.redis_url, cfg.cluster, node, str(server.path))
        return FleetFrontend(server, heartbeat, remote)


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
