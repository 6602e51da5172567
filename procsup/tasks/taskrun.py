"""One run of a cron task: a child process on the same spawn path as program instances, the lock
it holds, its timeout, and the record that goes into the history.

A run under a local lock inherits the flock descriptor, so the kernel frees the lock with the
run's last process. A run under a Redis lease runs below a keeper (keeper.py), the dead man's
switch that stops it before the lease could expire, whether or not this master is still there to
renew it. The master renews the lease every ttl/3 and moves the keeper's deadline on each renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from procsup.config.load import TaskConfig
from procsup.engine import exitinfo
from procsup.engine.cgroups import Cgroup
from procsup.engine.child import SPAWN_ERRORS, ChildProc
from procsup.engine.instenv import INSTANCE_ENV
from procsup.engine.output import Output
from procsup.engine.process import SpawnSpec
from procsup.engine.runtime import Runtime
from procsup.engine.stopping import StopPolicy
from procsup.tasks.runrecord import RunRecord
from procsup.tasks.runspec import Hold, task_spec
from procsup.tasks.spareleaf import SpareLeaf

if TYPE_CHECKING:
    from procsup.tasks.redislock import Lease

log = logging.getLogger(__name__)

KEEPER = str(Path(__file__).with_name("keeper.py"))
#: how long before the lease could expire the run must be dead (a share of the ttl, at least 50 ms)
LEASE_MARGIN = 0.1
#: statuses a stop reason turns into; any other reason ends as "stopped"
STOP_STATUS = {"timeout": "timeout", "lock-lost": "lock-lost"}


class TaskRun:
    def __init__(
        self,
        config: TaskConfig,
        rt: Runtime,
        output: Output,
        record: RunRecord,
        hold: Hold,
        scheduled_iso: str,
    ) -> None:
        self.config = config
        self.rt = rt
        self.output = output
        self.record = record
        self.hold = hold
        self.scheduled_iso = scheduled_iso
        self.spawn_id = f"{rt.run_id}:task:{record.run_id}"
        self.proc: ChildProc | None = None
        self.stop_reason: str | None = None
        self.done: asyncio.Future[RunRecord] = rt.loop.create_future()
        self._exited: asyncio.Future[int] = rt.loop.create_future()
        self._timeout: asyncio.TimerHandle | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._link: socket.socket | None = None  # to the keeper
        self._link_buf = b""
        self._keeper_code: int | None = None
        self._keeper_error: str | None = None
        self._keeper_lost = False
        #: the task's leaf kept between runs (spareleaf.py): taken by a batch run's spawn,
        #: given back at the end of a run never stopped
        self.spare: SpareLeaf | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def cgroup(self) -> Cgroup | None:
        """Under cgroup tracking: the run and all it starts."""
        return self.proc.cgroup if self.proc else None

    # --- starting ---------------------------------------------------------------------------

    def start(self) -> bool:
        """Spawn the run. On a spawn error the run ends at once as failed (False)."""
        return self.begin(overlap=False)()()

    def begin(self, overlap: bool = True) -> Callable[[], Callable[[], bool]]:
        """`start` in three steps: the spawn request goes out now (and `started` is stamped);
        the returned function takes the answer (the pid, or the spawn error) and returns the
        last step, which completes the start (watch, output, timeout) and returns what
        `start` returns. With `overlap`, the spawn is split (spawnbatch.py, through the
        spawn helper) so that the runs of one instant exec side by side (instant.py); the
        other steps must follow with no await in between (the reaper must not see the child
        before its watcher is in place)."""
        spec = self._spec()
        keeper_end = None
        self.record.started = time.time()
        try:
            if self.hold.lease is not None:  # its socketpair may hit EMFILE too
                spec, keeper_end = self._under_keeper(spec)
            if overlap:
                reuse = self.spare.take() if self.spare is not None else None
                finish = ChildProc.submit(self.rt, spec, self.output, self.spawn_id, "task", reuse)
            else:
                proc = ChildProc.spawn(self.rt, spec, self.output, self.spawn_id, "task")
                finish = lambda: proc  # noqa: E731
        except SPAWN_ERRORS as exc:
            error = exc
            return lambda: lambda: self._spawn_failed(error, spec, keeper_end)

        def collect() -> Callable[[], bool]:
            try:
                proc = finish()
            except SPAWN_ERRORS as exc:
                failed = exc
                return lambda: self._spawn_failed(failed, spec, keeper_end)

            def complete() -> bool:
                self._close_fds(keeper_end)
                self._spawned(proc)
                return True

            return complete

        return collect

    def _spawn_failed(
        self, exc: BaseException, spec: SpawnSpec, keeper_end: socket.socket | None
    ) -> bool:
        self._close_fds(keeper_end)
        self._close_link()
        self._finish_spawn_error(exitinfo.spawn_error_text(exc, self.config.command[0], spec.cwd))
        return False

    def _spawned(self, proc: ChildProc) -> None:
        """The child runs: watch it, feed its output, and arm its timeout and lease."""
        self.proc = proc
        proc.watch(self._on_exit)
        try:
            proc.attach()
        except OSError as exc:  # the run goes on; its output is lost, and that is said
            log.error("task %s: cannot open its log files: %s", self.config.name, exc)
        if self.hold.fd is not None:  # the lock's holder, for people (fixed width: no truncate)
            with contextlib.suppress(OSError):
                os.pwrite(self.hold.fd, f"{proc.pid:>10}\n".encode(), 0)
        if self.config.timeout:
            self._timeout = self.rt.loop.call_later(
                self.config.timeout, lambda: self.rt.background(self.stop("timeout"))
            )
        if self.hold.lease is not None:
            self._renewer = self.rt.loop.create_task(self._keep_lease())

    def _spec(self) -> SpawnSpec:
        rec = self.record
        env = {
            "PROCSUP_RUN_ID": rec.run_id,
            "PROCSUP_SCHEDULED_AT": self.scheduled_iso,
            "PROCSUP_SCHEDULED_EPOCH": repr(rec.scheduled or time.time()),
            INSTANCE_ENV: self.spawn_id,
            "PROCSUP_STATE_DIR": self.rt.state_dir,
        }
        if rec.fencing_token is not None:
            env["PROCSUP_FENCING_TOKEN"] = str(rec.fencing_token)
        fds = () if self.hold.fd is None else (self.hold.fd,)
        return task_spec(self.rt, self.config, self.config.command, env, fds)

    def _under_keeper(self, spec: SpawnSpec) -> tuple[SpawnSpec, socket.socket]:
        """Run the command below a keeper that stops it before the lease can expire."""
        assert self.hold.lease is not None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setblocking(False)
        self._link = ours
        self.rt.loop.add_reader(ours.fileno(), self._on_keeper_data)
        argv = [
            sys.executable,
            "-I",
            "-S",
            KEEPER,
            str(theirs.fileno()),
            str(int(self.config.stop_signal)),
            repr(self._grace()),
            repr(self._kill_by(self.hold.lease)),
            "--",
            *spec.argv,
        ]
        fds = (*spec.pass_fds, theirs.fileno())
        return SpawnSpec(argv, spec.env, spec.cwd, spec.user, spec.merge_stderr, fds), theirs

    @staticmethod
    def _close_fds(sock: socket.socket | None) -> None:
        if sock is not None:
            sock.close()

    # --- the lease --------------------------------------------------------------------------

    def _grace(self) -> float:
        assert self.hold.lease is not None
        return min(self.config.stop_timeout, self.hold.lease.ttl / 3)

    def _kill_by(self, lease: Lease) -> float:
        """The monotonic instant the run must be dead by: a margin before the lease expires."""
        return lease.expires - max(0.05, lease.ttl * LEASE_MARGIN)

    async def _keep_lease(self) -> None:
        """Renew every ttl/3 (compare-and-renew); when the lease is lost, or cannot be renewed
        before the run would have to stop, the run is stopped (or goes on unlocked, if the
        task says `on_lock_lost = "continue"`)."""
        lease, locks = self.hold.lease, self.hold.locks
        assert lease is not None and locks is not None
        from procsup.tasks.redislock import LockUnavailable

        interval = lease.ttl / 3
        next_renew = time.monotonic() + interval
        problem = ""
        while not self._exited.done():
            give_up = self._kill_by(lease) - self._grace() - 0.05
            now = time.monotonic()
            if now >= give_up:
                await self._lease_lost(f"could not renew the lease in time ({problem})")
                return
            await asyncio.sleep(max(0.0, min(next_renew, give_up) - now))
            if time.monotonic() < next_renew or self._exited.done():
                continue
            try:
                renewed = await locks.renew(lease)
            except LockUnavailable as exc:
                problem = str(exc)
                next_renew = time.monotonic() + min(interval / 4, 0.5)
                continue
            if not renewed:
                await self._lease_lost("the lease expired or was taken by another holder")
                return
            self._tell_keeper(self._kill_by(lease))
            next_renew = time.monotonic() + interval

    async def _lease_lost(self, why: str) -> None:
        if self._exited.done():
            return
        if self.config.on_lock_lost == "continue":
            self.output.note(f"lock lost, run {self.record.run_id} continues unlocked: {why}")
            log.warning("task %s: lock lost, run continues: %s", self.config.name, why)
            self.record.reason = f"lock lost, went on: {why}"
            self._tell_keeper(0.0)
            return
        self.output.note(f"lock lost, stopping run {self.record.run_id}: {why}")
        log.error("task %s: lock lost, stopping run %s: %s", self.config.name, self.pid, why)
        self.record.reason = why
        await self.stop("lock-lost")

    def _tell_keeper(self, kill_by: float) -> None:
        if self._link is not None:
            with contextlib.suppress(OSError):
                self._link.send(f"D {kill_by!r}\n".encode())

    def _on_keeper_data(self) -> None:
        assert self._link is not None
        try:
            data = self._link.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_link()
            return
        self._link_buf += data
        *lines, self._link_buf = self._link_buf.split(b"\n")
        for line in lines:
            text = line.decode(errors="replace")
            if text.startswith("X "):
                with contextlib.suppress(ValueError):
                    self._keeper_code = int(text[2:])
            elif text.startswith("E "):
                self._keeper_error = text[2:]
            elif text == "L":
                self._keeper_lost = True
                self.stop_reason = self.stop_reason or "lock-lost"

    def _close_link(self) -> None:
        if self._link is not None:
            self.rt.loop.remove_reader(self._link.fileno())
            self._link.close()
            self._link = None

    # --- stopping ---------------------------------------------------------------------------

    async def stop(self, reason: str) -> None:
        """Stop the run's whole tree (stop_signal, then SIGKILL after stop_timeout)."""
        proc = self.proc
        if proc is None or self._exited.done():
            return
        self.stop_reason = self.stop_reason or reason
        await proc.stop(self._policy(), self._exited)

    def _policy(self) -> StopPolicy:
        return StopPolicy(
            f"task {self.config.name}", self.config.stop_signal, self.config.stop_timeout
        )

    # --- the end ----------------------------------------------------------------------------

    def _on_exit(self, code: int) -> None:
        proc = self.proc
        assert proc is not None
        try:
            if self._link is not None:
                self._on_keeper_data()  # the keeper's last words: the run's own exit code
                self._close_link()
        finally:  # whatever happens above, the run ends and its lock is freed
            if self._keeper_code is not None:
                code = self._keeper_code
            self._exited.set_result(code)
            if self._timeout is not None:
                self._timeout.cancel()
            if self._renewer is not None:
                self._renewer.cancel()
            self.rt.background(self._release(proc))
            self._conclude(code)

    def _conclude(self, code: int) -> None:
        """The run's status and reason, from how it ended."""
        rec = self.record
        rec.ended = time.time()
        rec.exit_code = code
        if self._keeper_error is not None:
            rec.status, rec.exit_code = "failed", None
            rec.reason = exitinfo.spawn_cause(self._keeper_error)
        elif self.stop_reason is not None:
            rec.status = STOP_STATUS.get(self.stop_reason, "stopped")
            if rec.status == "stopped":
                rec.reason = self.stop_reason
            elif rec.status == "timeout":
                rec.reason = f"ran longer than {self.config.timeout}s"
        else:
            rec.status = "ok" if code == 0 else "failed"
            if code != 0:  # why it failed, after any note the run already has
                cause = exitinfo.exit_cause(code, rec.duration)
                rec.reason = f"{rec.reason}; {cause}" if rec.reason else cause
        self.done.set_result(rec)

    def _finish_spawn_error(self, error: str) -> None:
        rec = self.record
        rec.status, rec.reason = "failed", exitinfo.spawn_cause(error)
        rec.ended = time.time()
        self._exited.set_result(-1)
        self.rt.background(self._release(None))
        self.done.set_result(rec)

    def _keep_leaf(self, proc: ChildProc) -> bool:
        """The empty leaf of a run never stopped goes back to its task (spareleaf.py)."""
        leaf, spare = proc.cgroup, self.spare
        return spare is not None and leaf is not None and spare.give(leaf, self.stop_reason)

    async def _release(self, proc: ChildProc | None) -> None:
        """Free the lock once every process of the run is gone (processes it left behind are
        stopped first): the master's copy of the flock is closed, and a lease is deleted with
        compare-and-delete, so a lease that already passed to someone else is left alone.

        The master keeps its own copy of the flock descriptor while the run lives, so a run
        that closes inherited descriptors (sudo does) is still covered; if the master dies,
        the kernel drops that copy and the run's own keeps the lock."""
        if proc is not None and not self._keep_leaf(proc):
            try:
                await proc.stop_leftovers(self._policy())
            except Exception:
                log.exception("task %s: stopping what the run left behind failed", self.config.name)
        if self.hold.fd is not None:
            os.close(self.hold.fd)
            self.hold.fd = None
        lease, locks = self.hold.lease, self.hold.locks
        if lease is None or locks is None:
            return
        from procsup.tasks.redislock import LockUnavailable

        try:
            await locks.release(lease)
        except LockUnavailable as exc:
            log.warning(
                "task %s: lease not released, it expires in %ss: %s",
                self.config.name,
                lease.ttl,
                exc,
            )
