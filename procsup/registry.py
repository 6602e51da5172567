"""The table of programs and what users do to it: resolve names, start/stop/restart/signal,
scale, add ad-hoc programs, apply a new config as a difference, and export the desired state."""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Iterable
from typing import Any

from procsup.config import Config, ConfigError, ProgramConfig, program_from_dict
from procsup.config_dump import program_to_dict
from procsup.events import Event
from procsup.instance import Instance
from procsup.program import Program
from procsup.runtime import Runtime
from procsup.statefile import SavedState


class NotFound(Exception):
    pass


class Registry:
    def __init__(self, rt: Runtime, saved: SavedState, config: Config) -> None:
        self.rt = rt
        self.config = config
        self.overrides: dict[str, bool] = dict(saved.desired)
        self.programs: dict[str, Program] = {}
        for name, cfg in config.programs.items():
            self._add(cfg, saved.numprocs.get(name))
        for name, raw in saved.adhoc.items():
            if name not in self.programs:
                try:
                    cfg = program_from_dict(name, raw, config.path.parent, config.master.log_dir)
                except ConfigError:
                    continue
                self._add(cfg, saved.numprocs.get(name), adhoc=True)

    def _add(self, cfg: ProgramConfig, numprocs: int | None = None, adhoc: bool = False) -> Program:
        prog = Program(cfg, self.rt, numprocs, adhoc)
        self.programs[cfg.name] = prog
        for inst in prog:
            inst.desired = self.overrides.get(inst.name, cfg.autostart)
        return prog

    # --- lookups ----------------------------------------------------------------------------

    def instances(self) -> list[Instance]:
        return [inst for prog in self.programs.values() for inst in prog]

    def resolve(self, names: Iterable[str]) -> list[Instance]:
        """NAME is a program, an instance (`queue:3`), a glob (`queue*`) or `all`."""
        found: dict[str, Instance] = {}
        for name in names:
            matched = self._match(name)
            if not matched and name not in self.programs:  # a program scaled to 0 is no error
                raise NotFound(f"no program or instance matches {name!r} (see `procsup list`)")
            found.update((inst.name, inst) for inst in matched)
        return list(found.values())

    def _match(self, name: str) -> list[Instance]:
        if name == "all":
            return self.instances()
        if name in self.programs:
            return list(self.programs[name])
        if any(ch in name for ch in "*?["):
            return [
                i
                for i in self.instances()
                if fnmatch.fnmatchcase(i.name, name) or fnmatch.fnmatchcase(i.config.name, name)
            ]
        return [i for i in self.instances() if i.name == name]

    # --- actions ----------------------------------------------------------------------------

    async def start(self, insts: list[Instance]) -> None:
        for inst in insts:
            self.overrides[inst.name] = True
        await asyncio.gather(*(inst.start() for inst in insts))

    async def stop(self, insts: list[Instance]) -> None:
        for inst in insts:
            self.overrides[inst.name] = False
        await asyncio.gather(*(inst.stop() for inst in insts))

    async def restart(self, insts: list[Instance], rolling: bool = False) -> list[str]:
        """Restart; `rolling` goes one at a time, each waiting for RUNNING before the next."""
        for inst in insts:
            self.overrides[inst.name] = True
        if not rolling:
            await asyncio.gather(*(inst.restart() for inst in insts))
            return []
        failed = []
        for inst in insts:
            await inst.restart()
            if not await inst.wait_running(inst.config.start_seconds + 30):
                failed.append(inst.name)
                break
        return failed

    async def start_wanted(self) -> None:
        await asyncio.gather(*(i.start() for i in self.instances() if i.desired))

    async def stop_everything(self) -> None:
        await asyncio.gather(*(prog.stop_all() for prog in self.programs.values()))

    async def scale(self, name: str, n: int) -> Program:
        prog = self.programs.get(name)
        if prog is None:
            raise NotFound(f"no program named {name!r}")
        added, _ = await prog.scale(n)
        for inst in added:
            inst.desired = True
        await asyncio.gather(*(inst.start() for inst in added))
        self._publish_program(name, "scaled", numprocs=n)
        return prog

    async def add_adhoc(self, cfg: ProgramConfig) -> Program:
        if cfg.name in self.programs:
            raise ValueError(f"a program named {cfg.name!r} already exists")
        prog = self._add(cfg, adhoc=True)
        self._publish_program(cfg.name, "added")
        await asyncio.gather(*(inst.start() for inst in prog))
        return prog

    async def remove(self, name: str) -> None:
        prog = self.programs.get(name)
        if prog is None:
            raise NotFound(f"no program named {name!r}")
        await prog.stop_all()
        prog.close()
        del self.programs[name]
        self._publish_program(name, "removed")
        self.rt.changed()

    def _publish_program(self, name: str, what: str, **data: Any) -> None:
        self.rt.publish(Event("program", name, {"event": what, **data}))

    # --- reload -----------------------------------------------------------------------------

    async def apply(self, new: Config) -> dict[str, list[str]]:
        """New programs start, removed ones stop, changed ones restart, the rest are untouched;
        a change of numprocs only adds or stops the extra instances."""
        self._adopt_saved_adhoc(new)
        old = {n: p for n, p in self.programs.items() if not p.adhoc}
        added = [n for n in new.programs if n not in old]
        removed = [n for n in old if n not in new.programs]
        changed, scaled = [], []
        for name in set(old) & set(new.programs):
            before, after = old[name].config, new.programs[name]
            if before == after:
                continue
            if _same_except_numprocs(before, after):
                scaled.append(name)
            else:
                changed.append(name)
        await asyncio.gather(*(self.remove(n) for n in removed + changed))
        for name in changed + added:
            if name in self.programs:  # an ad-hoc program of that name gives way to the config
                await self.remove(name)
            prog = self._add(new.programs[name])
            self._publish_program(name, "added")
            await asyncio.gather(*(i.start() for i in prog if i.desired))
        for name in scaled:
            self.programs[name].config = new.programs[name]
            await self.scale(name, new.programs[name].numprocs)
        self.config = new
        return {
            "added": sorted(added),
            "removed": sorted(removed),
            "changed": sorted(changed),
            "scaled": sorted(scaled),
        }

    def _adopt_saved_adhoc(self, new: Config) -> None:
        """An ad-hoc program that `save` wrote into the file is the same program: keep it."""
        for name, prog in self.programs.items():
            cfg = new.programs.get(name)
            if prog.adhoc and cfg is not None and _same_except_numprocs(prog.config, cfg):
                prog.adhoc = False

    # --- persistence ------------------------------------------------------------------------

    def export_state(self, saved: SavedState) -> None:
        saved.desired = {k: v for k, v in self.overrides.items()}
        saved.numprocs = {
            n: p.numprocs
            for n, p in self.programs.items()
            if p.adhoc or p.numprocs != p.config.numprocs
        }
        log_dir = self.config.master.log_dir
        saved.adhoc = {
            n: program_to_dict(p.config, log_dir) for n, p in self.programs.items() if p.adhoc
        }
        saved.pids = {
            inst.name: [inst.pid, inst.info.start_ticks]
            for inst in self.instances()
            if inst.pid is not None
        }


def _same_except_numprocs(a: ProgramConfig, b: ProgramConfig) -> bool:
    from dataclasses import replace

    return replace(a, numprocs=b.numprocs) == b
