"""Composition from the outside: `run_master` builds the engine (engine/master.py) and, beside
it, the parts from the layers above it, the cron scheduler (tasks/) and the control server that
serves the master through its facade (control/). `procsup daemon -f` calls it; nothing in the
engine imports this module."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Protocol

from procsup.config.load import Config, ConfigError, load_config
from procsup.control.facade import MasterFacade
from procsup.control.server import Server
from procsup.engine.cgroups import CgroupUnavailable
from procsup.engine.master import AlreadyRunning, Master
from procsup.engine.parts import PlannedRestart
from procsup.engine.runtime import Runtime
from procsup.tasks.scheduler import Scheduler
from procsup.tasks.singleton import Singletons

log = logging.getLogger("procsup")


class ControlParts:
    """engine.parts.Parts: the real scheduler, and the control server over the facade."""

    def __init__(self) -> None:
        self.scheduler: Scheduler | None = None

    def tasks(self, rt: Runtime, config: Config, restart: PlannedRestart) -> Scheduler:
        self.scheduler = Scheduler(rt, config, restart)
        return self.scheduler

    def frontend(self, master: Master) -> WithParts:
        assert self.scheduler is not None, "the master builds its tasks before its server"
        extras: list[Part] = []
        cfg = master.config.master
        singletons = None
        if cfg.redis_url:  # singleton programs may come with any reload
            singletons = Singletons(master, master_name(master.config))
            extras.append(singletons)
        facade = MasterFacade(master, self.scheduler, singletons)
        server = Server(facade)
        if cfg.cluster:
            from procsup.control.fleet.heartbeat import Heartbeat
            from procsup.control.fleet.remote import RemoteControl

            node = cfg.node_name or socket.gethostname()
            heartbeat = Heartbeat(facade, cfg, node)
            facade.fleet_status = heartbeat.status
            extras.append(_SyncStart(heartbeat))
            if cfg.remote_control and cfg.redis_url:
                remote = RemoteControl(cfg.redis_url, cfg.cluster, node, str(server.path))
                extras.append(_SyncStart(remote))
        if cfg.metrics_listen is not None:
            from procsup.control.metrics import MetricsServer  # prometheus-client: when asked

            extras.append(MetricsServer(cfg.metrics_listen, master, self.scheduler))
        return WithParts(server, extras)


def master_name(config: Config) -> str:
    """How other masters name this one: `node_name` if set, else host:state_dir (several
    masters on one machine are different holders)."""
    node = config.master.node_name
    return node if node else f"{socket.gethostname()}:{config.master.state_dir}"


class Part(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


class SyncStartPart(Protocol):
    def start(self) -> None: ...

    async def close(self) -> None: ...


class _SyncStart:
    """A part whose start only schedules its work on the loop (the fleet heartbeat, the remote
    control reader), as a Part."""

    def __init__(self, part: SyncStartPart) -> None:
        self.part = part

    async def start(self) -> None:
        self.part.start()

    async def close(self) -> None:
        await self.part.close()


class WithParts:
    """engine.parts.Frontend: the control server, with the parts that live exactly as long
    (the singleton leases, the fleet heartbeat and remote control, the metrics endpoint)
    started after it and closed before it, once every program has stopped."""

    def __init__(self, server: Server, extras: list[Part]) -> None:
        self.server = server
        self.extras = extras

    @property
    def path(self) -> Path:
        return self.server.path

    async def start(self) -> None:
        await self.server.start()
        for part in self.extras:
            await part.start()

    def ensure_socket(self) -> None:
        self.server.ensure_socket()

    async def close_listener(self) -> None:
        await self.server.close_listener()

    async def close(self) -> None:
        for part in reversed(self.extras):
            await part.close()
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
