"""The table of programs and what users do to it: resolve names, start/stop/restart/signal,
scale, add ad-hoc programs, apply a new config as a difference (or reset to it), and export the
desired state. What the user changed against the file is kept, and shown (desired.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from procsup.config.dump import program_to_dict
from procsup.config.load import Config, ConfigError, ProgramConfig, program_from_dict
from procsup.core.schema import InstanceRow
from procsup.core.states import RUNNING_STATES, State
from procsup.engine import deps
from procsup.engine.desired import (
    Override,
    RunTimeChanges,
    adhoc_override,
    desired_override,
    kept_lines,
    scaled_override,
)
from procsup.engine.events import Event
from procsup.engine.instance import Instance
from procsup.engine.names import ALL, NotFound, is_glob, matches
from procsup.engine.program import Program
from procsup.engine.runtime import Runtime
from procsup.engine.spawnbatch import Batch
from procsup.engine.statefile import SavedState

__all__ = ["NotFound", "Registry"]


class Registry:
    def __init__(self, rt: Runtime, saved: SavedState, config: Config) -> None:
        self.rt = rt
        self.config = config
        self.changes = RunTimeChanges(
            dict(saved.desired), dict(saved.desired_at), dict(saved.program_at)
        )
        self.programs: dict[str, Program] = {}
        self._waiters: set[Instance] = set()  # instances whose start waits for depends_on
        # the hooks every instance gets, made once: a closure and two bound methods per
        # instance were ~0.3 KB each at 2,000 instances (issue 14)
        self._hooks = (self._unmet, self._moved, self._waiting_changed)
        rt.describe = self.row  # state events carry the whole row, overrides included
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
            inst.desired = self.changes.desired.get(inst.name, cfg.autostart)
            self._wire(inst)
        return prog

    # --- depends_on -------------------------------------------------------------------------

    def _wire(self, inst: Instance) -> None:
        """Hold the instance's starts back until its program's depends_on is met."""
        inst.gate, inst.on_state, inst.on_waiting = self._hooks

    def _unmet(self, inst: Instance) -> str | None:
        """The instance's gate: the first unmet condition of its program's depends_on."""
        return deps.unmet(inst.config, self.programs)

    def _moved(self, inst: Instance) -> None:
        """An instance changed state: start again the instances waiting on its program (each
        checks its whole depends_on again and waits on, for the next condition, if unmet)."""
        name = inst.config.name
        for other in list(self._waiters):
            if other.desired and name in other.config.depends_on:
                self.rt.background(other.start())

    def _waiting_changed(self, inst: Instance) -> None:
        if inst.waiting is None:
            self._waiters.discard(inst)
        else:
            self._waiters.add(inst)
        prog = self.programs.get(inst.config.name)
        if prog is not None:
            self._publish_program(prog.name, "waiting", instances=self._rows(prog))

    async def _stop_in_order(self, insts: list[Instance]) -> None:
        """Stop dependents first, then what they depend on (each wave in parallel)."""
        for wave in deps.in_stop_order(insts, self.programs):
            await asyncio.gather(*(inst.stop() for inst in wave))

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
        if name == ALL:
            return self.instances()
        if name in self.programs:
            return list(self.programs[name])
        if is_glob(name):
            return [i for i in self.instances() if matches(name, i.name, i.config.name)]
        return [i for i in self.instances() if i.name == name]

    # --- actions ----------------------------------------------------------------------------

    def _user_wants(self, insts: list[Instance], running: bool) -> None:
        now = time.time()
        for inst in insts:
            self.changes.set_desired(inst.name, running, now)
        self.rt.changed()  # persisted even when the state does not change

    async def start(self, insts: list[Instance]) -> None:
        self._user_wants(insts, True)
        await self._start_batched(insts)

    async def stop(self, insts: list[Instance]) -> None:
        self._user_wants(insts, False)
        await self._stop_in_order(insts)

    async def restart(
        self, insts: list[Instance], rolling: bool = False, by_user: bool = True
    ) -> list[str]:
        """Restart; `rolling` goes one at a time, each waiting for RUNNING before the next.
        A planned restart (`by_user` false) is not something the user did."""
        if by_user:
            self._user_wants(insts, True)
        if not rolling:
            await asyncio.gather(*(inst.restart() for inst in insts))
            return []
        failed = []
        for inst in insts:
            await inst.restart()
            if not await inst.wait_running(inst.start_timeout() + 30):
                failed.append(inst.name)
                break
        return failed

    async def start_wanted(self) -> None:
        """The master's autostart."""
        await self._start_batched([i for i in self.instances() if i.desired])

    async def _start_batched(self, insts: list[Instance]) -> None:
        """Start `insts`, their spawns overlapped (spawnbatch.py) and all in one go, as the
        spawns one after the other were; instances someone holds, and those with a depends_on
        (their gate sees the batch's outcome), start the usual way after it."""
        later = [i for i in insts if i.busy() or i.config.depends_on]
        with Batch() as batch:
            for inst in insts:
                if not (inst.busy() or inst.config.depends_on):
                    inst.start_now(batch)
        await asyncio.gather(*(i.start() for i in later))

    async def stop_everything(self) -> None:
        """Shutdown: in reverse dependency order."""
        await self._stop_in_order(self.instances())

    async def scale(self, name: str, n: int) -> Program:
        """The user's `scale`: remembered (with when) until the file or a reset says otherwise."""
        prog = await self._resize(name, n)
        if prog.adhoc:  # keeps the time it was added
            return prog
        if n != prog.config.numprocs:
            self.changes.program_at[name] = time.time()
        else:  # back to what the file says: nothing left to show
            self.changes.program_at.pop(name, None)
        return prog

    async def _resize(self, name: str, n: int) -> Program:
        prog = self.programs.get(name)
        if prog is None:
            raise NotFound(f"no program named {name!r}")
        added, removed = await prog.scale(n)
        for inst in added + removed:  # a number used again starts afresh
            self.changes.forget_instance(inst.name)
        for inst in added:
            inst.desired = True
            self._wire(inst)
        await asyncio.gather(*(inst.start() for inst in added))
        self._publish_program(name, "scaled", numprocs=n, instances=self._rows(prog))
        return prog

    async def add_adhoc(self, cfg: ProgramConfig) -> Program:
        if cfg.name in self.programs:
            raise ValueError(f"a program named {cfg.name!r} already exists")
        self.changes.forget_program(cfg.name)
        self.changes.program_at[cfg.name] = time.time()
        prog = self._add(cfg, adhoc=True)
        self._publish_program(cfg.name, "added", instances=self._rows(prog))
        await asyncio.gather(*(inst.start() for inst in prog))
        return prog

    async def remove(self, name: str) -> None:
        prog = self.programs.get(name)
        if prog is None:
            raise NotFound(f"no program named {name!r}")
        await prog.stop_all()
        prog.close()
        del self.programs[name]
        if prog.adhoc:  # gone for good; a file program keeps its instances' start/stop
            self.changes.forget_program(name)
        self._publish_program(name, "removed")
        self.rt.changed()

    def _rows(self, prog: Program) -> list[InstanceRow]:
        return [self.row(inst) for inst in prog]

    def _publish_program(self, name: str, what: str, **data: Any) -> None:
        self.rt.publish(Event("program", name, {"event": what, **data}))

    # --- run-time changes against the file ----------------------------------------------------

    def overrides_of(self, inst: Instance, now: float | None = None) -> list[Override]:
        """How `inst` differs from the file because of what the user did at run time."""
        now = time.time() if now is None else now
        prog = self.programs.get(inst.config.name)
        found = []
        if prog is not None and prog.adhoc:
            found.append(adhoc_override(self.changes.program_at.get(prog.name), now))
        elif prog is not None and prog.numprocs != prog.config.numprocs:
            at = self.changes.program_at.get(prog.name)
            found.append(scaled_override(prog.numprocs, prog.config.numprocs, at))
        wanted = self.changes.desired.get(inst.name)
        adhoc = prog is not None and prog.adhoc  # all of it is the user's: said once above
        if wanted is not None and wanted != inst.config.autostart and not adhoc:
            at = self.changes.desired_at.get(inst.name)
            found.append(desired_override(wanted, at, now))
        return found

    def row(self, inst: Instance) -> InstanceRow:
        """The instance row of the protocol: its snapshot plus how it differs from the file."""
        row = inst.snapshot()
        row["overrides"] = [o.to_json() for o in self.overrides_of(inst)]
        return row

    def kept(self) -> list[str]:
        """Every run-time change still in force, one line per program or group of instances."""
        now = time.time()
        return kept_lines(
            [
                (inst.name, prog.name, prog.numprocs, self.overrides_of(inst, now))
                for prog in self.programs.values()
                for inst in prog
            ]
            + [(name, name, 0, [ov]) for name, ov in self._scaled_to_zero(now)]
        )

    def _scaled_to_zero(self, now: float) -> list[tuple[str, Override]]:
        """Programs scaled to 0 have no instance to carry the override."""
        return [
            (p.name, scaled_override(0, p.config.numprocs, self.changes.program_at.get(p.name)))
            for p in self.programs.values()
            if p.numprocs == 0 and p.config.numprocs > 0 and not p.adhoc
        ]

    # --- reload -----------------------------------------------------------------------------

    async def apply(self, new: Config, reset: bool = False) -> dict[str, list[str]]:
        """New programs start, removed ones stop, changed ones restart, the rest are untouched;
        a change of numprocs only adds or stops the extra instances. What the user changed at
        run time is kept (and listed under `kept`) unless `reset`, which drops it all (listed
        under `reset`): ad-hoc programs go, numprocs and start/stop follow the file."""
        self._adopt_saved_adhoc(new)
        undone = self.kept() if reset else []
        if reset:
            self.changes.clear()
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
        kept_numprocs = {  # a run-time scale survives unless the file's numprocs changed
            n: old[n].numprocs
            for n in changed
            if not reset and old[n].config.numprocs == new.programs[n].numprocs
        }
        await asyncio.gather(*(self.remove(n) for n in removed + changed))
        for name in removed:
            self.changes.forget_program(name)
        for name in changed + added:
            await self._recreate(new.programs[name], kept_numprocs.get(name))
        for name in scaled:
            self.programs[name].config = new.programs[name]
            self.changes.program_at.pop(name, None)  # the file's new numprocs wins
            await self._resize(name, new.programs[name].numprocs)
        for name in changed:
            if name not in kept_numprocs:
                self.changes.program_at.pop(name, None)
            self.changes.forget_beyond(name, self.programs[name].numprocs)
        self.config = new
        if reset:
            await self._reset_to_file()
        summary = {
            "added": sorted(added),
            "removed": sorted(removed),
            "changed": sorted(changed),
            "scaled": sorted(scaled),
        }
        return summary | ({"reset": undone} if reset else {"kept": self.kept()})

    async def _recreate(self, cfg: ProgramConfig, numprocs: int | None) -> None:
        """A changed program keeps a run-time numprocs when the file's numprocs did not change."""
        if cfg.name in self.programs:  # an ad-hoc program of that name gives way to the config
            await self.remove(cfg.name)
        if numprocs == cfg.numprocs:
            numprocs = None
        prog = self._add(cfg, numprocs)
        self._publish_program(cfg.name, "added", instances=self._rows(prog))
        await asyncio.gather(*(i.start() for i in prog if i.desired))

    async def _reset_to_file(self) -> None:
        """`reload --reset`: the file as written, as a fresh master would run it (instances
        that exited by themselves, EXITED or FATAL, are left as they are)."""
        adhoc = [n for n, p in self.programs.items() if p.adhoc]
        await asyncio.gather(*(self.remove(n) for n in adhoc))
        for prog in list(self.programs.values()):
            if prog.numprocs != prog.config.numprocs:
                await self._resize(prog.name, prog.config.numprocs)
        self.changes.clear()
        start, stop = [], []
        for inst in self.instances():
            if inst.config.autostart and inst.state == State.STOPPED:
                start.append(inst.start())
            elif not inst.config.autostart and (
                inst.state in RUNNING_STATES or inst.state == State.BACKOFF
            ):
                stop.append(inst.stop())
            inst.desired = inst.config.autostart
        await asyncio.gather(*start, *stop)

    def _adopt_saved_adhoc(self, new: Config) -> None:
        """An ad-hoc program that `save` wrote into the file is the same program: keep it."""
        for name, prog in self.programs.items():
            cfg = new.programs.get(name)
            if prog.adhoc and cfg is not None and _same_except_numprocs(prog.config, cfg):
                prog.adhoc = False
                prog.config = cfg
                self.changes.program_at.pop(name, None)

    # --- persistence ------------------------------------------------------------------------

    def export_state(self, saved: SavedState) -> None:
        saved.desired = dict(self.changes.desired)
        saved.desired_at = dict(self.changes.desired_at)
        saved.program_at = dict(self.changes.program_at)
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
