"""Singleton programs: one instance set across every master on the same Redis, under a lease.

Each `singleton = true` program has a lease `procsup:lock:singleton:NAME` (tasks/redislock.py:
the same SET NX PX, fencing token, compare-and-renew and compare-and-delete as redis-locked
tasks). The master that holds it runs the program; every other master stands by, shows who holds
it, and tries again every `poll` seconds, so it takes over soon after the lease is gone.

The program's processes run below the keeper (keeper.py) with the lease's deadline, renewed every
ttl/3: if this master is killed, frozen or cut off from Redis, the keeper stops them before the
lease can expire, so two hosts never run the program at once. A holder whose instances are all
stopped by a user (`procsup stop`) releases the lease, and another master takes the program over.

The engine knows none of this: each program gets a gate (engine.seams.SpawnGate) in
`Runtime.gates`, which an instance asks before it spawns and which wraps its command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import time
from typing import TYPE_CHECKING

from procsup.config.load import ProgramConfig
from procsup.core.states import STOPPED_STATES, State
from procsup.engine.process import SpawnSpec
from procsup.tasks.taskrun import KEEPER, LEASE_MARGIN

if TYPE_CHECKING:
    from procsup.engine.instance import Instance
    from procsup.engine.master import Master
    from procsup.tasks.redislock import Lease, RedisLocks

log = logging.getLogger("procsup")

PREFIX = "singleton:"
LABEL_PREFIX = "procsup:holder:singleton:"
PARKED_PREFIX = "procsup:parked:singleton:"  # `stop --everywhere`: no master takes it over
MAX_POLL = 0.5  # a standby master asks for the lease at least this often


class Gate:
    """One singleton program's lease as seen by this master (engine.seams.SpawnGate)."""

    def __init__(self, program: str, loop: asyncio.AbstractEventLoop, me: str) -> None:
        self.program = program
        self.loop = loop
        self.me = me  # this master's name, as the others show it
        self.lease: Lease | None = None
        self.holder: str | None = "?"  # another master's name, "" for nobody, "?" not yet known
        self._links: set[socket.socket] = set()
        self.nudge = asyncio.Event()  # one of its instances changed state (a stop, an exit)

    def kill_by(self) -> float:
        """The monotonic instant the program must be dead by: a margin before the lease ends."""
        assert self.lease is not None
        return self.lease.expires - max(0.05, self.lease.ttl * LEASE_MARGIN)

    def may_run(self) -> bool:
        return self.lease is not None and time.monotonic() < self.kill_by()

    def standby(self) -> str | None:
        return None if self.lease is not None else self.holder

    def holder_name(self) -> str | None:
        """Who runs the program now, as far as this master knows (None: nobody, or unknown)."""
        if self.lease is not None:
            return self.me
        return self.holder if self.holder not in ("", "?") else None

    def wrap(self, spec: SpawnSpec, stop_signal: int, stop_timeout: float) -> SpawnSpec:
        """The command below a keeper holding the lease's deadline; the fencing token in env."""
        assert self.lease is not None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setblocking(False)
        self._links.add(ours)
        self.loop.add_reader(ours.fileno(), self._on_link, ours)
        self.loop.call_soon(theirs.close)  # the spawn is synchronous: the child has it by then
        grace = min(stop_timeout, self.lease.ttl / 3)
        argv = [sys.executable, "-I", "-S", KEEPER, str(theirs.fileno()), str(stop_signal)]
        argv += [repr(grace), repr(self.kill_by()), "--", *spec.argv]
        env = {**spec.env, "PROCSUP_FENCING_TOKEN": str(self.lease.fence)}
        fds = (*spec.pass_fds, theirs.fileno())
        return SpawnSpec(argv, env, spec.cwd, spec.user, spec.merge_stderr, fds, spec.cgroup)

    def tell_keepers(self) -> None:
        """Move every keeper's deadline to the renewed lease's."""
        line = f"D {self.kill_by()!r}\n".encode()
        for link in list(self._links):
            with contextlib.suppress(OSError):
                link.send(line)

    def _on_link(self, link: socket.socket) -> None:
        try:
            data = link.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the keeper is gone with its run
            self.loop.remove_reader(link.fileno())
            self._links.discard(link)
            link.close()

    def close(self) -> None:
        for link in list(self._links):
            self.loop.remove_reader(link.fileno())
            link.close()
        self._links.clear()


class Singletons:
    """Keeps the lease of every singleton program of the master: a part started and closed
    beside the control server (control/compose.py)."""

    def __init__(self, master: Master, name: str) -> None:
        self.master = master
        self.name = name  # how other masters see this one: `STANDBY (held by NAME)`
        self._locks: RedisLocks | None = None
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._sync: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._follow_config()
        self._sync = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        """Programs come and go with a reload: a gate for each singleton there is. A state
        change of an instance wakes its holder at once (a `stop` hands the lease over)."""
        sub = self.master.events.subscribe()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(MAX_POLL):
                        event = await sub.queue.get()
                        program = event.data.get("program") if event.type == "state" else None
                        gate = self.master.rt.gates.get(str(program))
                        if isinstance(gate, Gate):
                            gate.nudge.set()
                if sub.dropped:
                    sub = self.master.events.subscribe()
                self._follow_config()
        finally:
            self.master.events.unsubscribe(sub)

    def _follow_config(self) -> None:
        rt = self.master.rt
        wanted = {
            n: p.config for n, p in self.master.registry.programs.items() if p.config.singleton
        }
        for name in [n for n in self._jobs if n not in wanted]:
            self._jobs.pop(name).cancel()
            gate = rt.gates.pop(name, None)
            if isinstance(gate, Gate):  # removed, or no longer a singleton: free its lease
                if gate.lease is not None:
                    rt.background(self._release(gate.lease))
                gate.close()
        for name, cfg in wanted.items():
            if name not in self._jobs:
                gate = Gate(name, rt.loop, self.name)
                rt.gates[name] = gate
                self._jobs[name] = rt.loop.create_task(self._keep(gate, cfg))

    def _redis(self) -> RedisLocks:
        if self._locks is None:
            from procsup.tasks.redislock import RedisLocks

            url = self.master.config.master.redis_url
            assert url is not None, "config validation: singleton needs redis_url"
            self._locks = RedisLocks(url)
        return self._locks

    def _instances(self, program: str) -> list[Instance]:
        prog = self.master.registry.programs.get(program)
        return list(prog.instances.values()) if prog is not None else []

    def _wanted(self, program: str) -> bool:
        return any(inst.desired for inst in self._instances(program))

    def _runnable(self, program: str) -> bool:
        """Worth holding the lease for: wanted, and not given up here (FATAL): a host where
        it cannot start lets another one try."""
        return any(i.desired and i.state != State.FATAL for i in self._instances(program))

    def _config(self, program: str, old: ProgramConfig) -> ProgramConfig:
        """The program's config now (a reload may have changed lock_ttl)."""
        prog = self.master.registry.programs.get(program)
        return prog.config if prog is not None else old

    async def _keep(self, gate: Gate, cfg: ProgramConfig) -> None:
        """Stand by until the lease can be had and the program is wanted; hold it while so."""
        from procsup.tasks.redislock import LockUnavailable

        while True:
            cfg = self._config(gate.program, cfg)
            poll = pause = min(cfg.lock_ttl / 4, MAX_POLL)
            try:
                wanted = self._wanted(gate.program) and not await self._parked(gate.program)
                if wanted and await self._acquire(gate, cfg):
                    await self._hold(gate, cfg)
                    if not self._runnable(gate.program):  # FATAL here: let others try first
                        pause = 3 * poll
                else:
                    gate.holder, left = await self._holder(gate.program)
                    if wanted and left is not None:  # ask again right as the lease ends
                        pause = min(poll, left + 0.005)
            except LockUnavailable as exc:
                gate.holder = "?"
                log.warning("singleton %s: %s", gate.program, exc)
            await asyncio.sleep(pause)

    async def _acquire(self, gate: Gate, cfg: ProgramConfig) -> bool:
        from procsup.tasks.redislock import LockUnavailable

        locks = self._redis()
        lease = await locks.acquire(PREFIX + gate.program, cfg.lock_ttl)
        if lease is None:
            return False
        try:  # parked between our look and the acquire?
            parked = await self._parked(gate.program)
        except LockUnavailable:
            parked = True  # cannot tell: do not run it
        if parked:
            with contextlib.suppress(LockUnavailable):
                await locks.release(lease)
            return False
        gate.lease = lease
        with contextlib.suppress(LockUnavailable):
            await self._label(gate)
        log.info("singleton %s: lease taken (fencing token %d)", gate.program, lease.fence)
        for inst in self._instances(gate.program):
            if inst.desired and inst.state in STOPPED_STATES:
                await inst.start()
        return True

    async def _label(self, gate: Gate) -> None:
        """Who holds it, for the standby masters' `list` (expires with the lease)."""
        assert gate.lease is not None
        await self._redis().put(LABEL_PREFIX + gate.program, self.name, gate.lease.ttl)

    async def _holder(self, program: str) -> tuple[str, float | None]:
        """Who holds the lease ("" for nobody) and for how much longer at most."""
        locks = self._redis()
        left = await locks.remaining(PREFIX + program)
        if left is None:
            return "", None
        return await locks.get(LABEL_PREFIX + program) or "?", left

    async def park(self, programs: list[str], parked: bool) -> None:
        """`stop --everywhere` parks the programs: no master takes them over until a `start`
        of them on any master unparks them. Raises LockUnavailable if Redis cannot be told."""
        locks = self._redis()
        for program in programs:
            if parked:
                await locks.put(PARKED_PREFIX + program, self.name)
            else:
                await locks.delete(PARKED_PREFIX + program)

    async def _parked(self, program: str) -> bool:
        return await self._redis().get(PARKED_PREFIX + program) is not None

    async def _hold(self, gate: Gate, cfg: ProgramConfig) -> None:
        """Renew every ttl/3 while the program is wanted; stand down when the lease is lost or
        could not be renewed in time; release it when nobody here wants the program."""
        lease = gate.lease
        assert lease is not None
        interval = lease.ttl / 3
        next_renew = time.monotonic() + interval
        try:
            while self._runnable(gate.program):
                give_up = gate.kill_by() - min(cfg.stop_timeout, lease.ttl / 3) - 0.05
                now = time.monotonic()
                if now >= give_up:
                    return await self._stand_down(gate, "could not renew the lease in time")
                if now >= next_renew:
                    renewed = await self._renew(gate, lease)
                    if renewed is False:
                        return await self._stand_down(gate, "the lease expired or was taken")
                    next_renew = now + (interval if renewed else min(interval / 4, 0.5))
                    continue
                gate.nudge.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gate.nudge.wait(), min(next_renew, give_up) - now)
            await self._hand_over(gate)
        except asyncio.CancelledError:
            gate.lease = None
            raise

    async def _renew(self, gate: Gate, lease: Lease) -> bool | None:
        """True: renewed (the keepers told); False: lost; None: Redis did not answer."""
        from procsup.tasks.redislock import LockUnavailable

        try:
            if not await self._redis().renew(lease):
                return False
        except LockUnavailable as exc:
            log.warning("singleton %s: renewing: %s", gate.program, exc)
            return None
        gate.tell_keepers()
        with contextlib.suppress(LockUnavailable):
            await self._label(gate)
        return True

    async def _stand_down(self, gate: Gate, why: str) -> None:
        """The lease is gone: stop the program here, still wanted, to run again once held."""
        log.error("singleton %s: %s; stopping it here", gate.program, why)
        gate.lease = None
        for inst in self._instances(gate.program):
            wanted = inst.desired
            await inst.stop(f"singleton lease lost: {why}")
            inst.desired = wanted

    async def _hand_over(self, gate: Gate) -> None:
        """Nobody here wants it any more: free the lease so another master takes over."""
        from procsup.tasks.redislock import LockUnavailable

        lease, gate.lease = gate.lease, None
        for inst in self._instances(gate.program):  # stopped by the user: wait for the ends
            if inst.state not in STOPPED_STATES:
                await inst.stop("singleton handed over")
        if lease is not None:
            with contextlib.suppress(LockUnavailable):
                await self._redis().release(lease)
            log.info("singleton %s: stopped here, lease released for another host", gate.program)

    async def _release(self, lease: Lease) -> None:
        from procsup.tasks.redislock import LockUnavailable

        with contextlib.suppress(LockUnavailable):
            await self._redis().release(lease)

    async def close(self) -> None:
        """At shutdown, after every program stopped: release what is held."""
        from procsup.tasks.redislock import LockUnavailable

        gates = [g for n in self._jobs if isinstance(g := self.master.rt.gates.get(n), Gate)]
        leases = [g.lease for g in gates if g.lease is not None]
        jobs = [*self._jobs.values(), *([self._sync] if self._sync else [])]
        for job in jobs:
            job.cancel()
        for job in jobs:
            with contextlib.suppress(asyncio.CancelledError):
                await job
        for gate in gates:
            gate.lease = None
            gate.close()
        if self._locks is not None:
            for lease in leases:  # the next master need not wait for it to expire
                with contextlib.suppress(LockUnavailable):
                    await self._locks.release(lease)
            await self._locks.close()
