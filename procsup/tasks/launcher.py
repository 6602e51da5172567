"""Starting task runs without forking the master (issue 14: 200 tasks every second).

Under cgroup tracking each run is cloned into its own cgroup leaf, and clone3 is a full fork of
whoever calls it: 1-3 ms of the master's loop per run at 40-80 MiB, which made 20 runs due at the
same second start over 120 ms. The launcher hands that fork to a small helper (zygote.py): the
master sends each run's spawn spec with its pipes and lock descriptor, and goes on with the next
due task while the helper clones on the other core. The run is still the master's own child
(CLONE_PARENT), in its own leaf, with the same environment, directory, user, session and
descriptors as a run the master cloned itself; only who made the syscall differs.

The reaper holds exit codes of unknown children while a spawn is in flight, so a run that ends
before its pid comes back is not lost. If the helper cannot start or dies, runs go on the
master's own spawn path (process.spawn) and the helper is started again for later runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import marshal
import os
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path

from procsup.engine import fdlimit
from procsup.engine.cgtree import make_leaf
from procsup.engine.child import ChildProc
from procsup.engine.output import Output
from procsup.engine.process import Child, Reaper, SpawnSpec, _identity, spawn
from procsup.engine.runtime import Runtime

log = logging.getLogger(__name__)

ZYGOTE = str(Path(__file__).with_name("zygote.py"))
MAX_REPLY = 64 * 1024
#: the helper is started again after it died, this many times in all; then runs stay direct
MAX_STARTS = 5


class HelperGone(Exception):
    """The helper is not there, or went away before the request reached it: spawn directly."""


class HelperLost(Exception):
    """The helper went away after the request reached it: the run may have started, so it is
    not started again (its leaf is emptied and the run fails)."""


class Launcher:
    """The master's end of the helper: requests out, pids (or errors) back, in order."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pending: dict[int, asyncio.Future[int]] = {}
        self._outbox: deque[tuple[bytes, list[int], int]] = deque()
        self._next_id = 0
        self._starts = 0
        self._ready = False  # the helper said it is ready
        self._closed = False

    def usable(self) -> bool:
        """Whether a run can go through the helper now, else it takes the master's own spawn:
        until the helper has said it is ready (its interpreter starts in tens of ms, and the
        first runs after a master start should not wait for it), and under process tracking
        or a test's seams. Starts the helper again if it went away."""
        if self._closed or self.rt.cgroups is None or self.rt.spawner is not spawn:
            return False
        if not isinstance(self.rt.reaper, Reaper):
            return False
        if self._sock is None:
            self.start()
        return self._ready

    def start(self) -> None:
        """Start the helper (in the background: runs go direct until it is ready)."""
        if self._sock is None and not self._closed and self._starts < MAX_STARTS:
            try:
                self._start()
            except OSError as exc:
                log.warning("task launcher helper did not start (%s): runs spawn directly", exc)

    def _start(self) -> None:
        self._starts += 1
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", ZYGOTE, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C of a foreground master is not for it
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        proc = self._proc
        self.rt.reaper.watch(proc.pid, lambda code: self._helper_exited(proc, ours, code))
        self.rt.loop.add_reader(ours.fileno(), self._on_replies)

    async def spawn(self, spec: SpawnSpec) -> Child:
        """Have the helper clone `spec` into spec.cgroup. Raises what process.spawn raises for
        the same spec, or HelperGone."""
        assert spec.cgroup is not None
        fdlimit.BUDGET.ensure()
        if self._sock is None:
            raise HelperGone("not running")
        out_r, out_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        ours, ends = [out_r], [out_w]
        try:
            err_r = None
            if not spec.merge_stderr:
                err_r, err_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
                ours.append(err_r)
                ends.append(err_w)
            for end in ends:  # the child must see blocking pipes (one shared description)
                os.set_blocking(end, True)
            pid = await self._request(spec, [*ends, *spec.pass_fds])
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for end in ends:
                os.close(end)
        return Child(pid, None, out_r, err_r)

    async def _request(self, spec: SpawnSpec, fds: list[int]) -> int:
        uid, gid, groups = _identity(spec.user)  # KeyError for an unknown user, as spawn
        ids = None if uid is None or gid is None else (uid, gid, groups or [])
        rid = self._next_id = self._next_id + 1
        assert spec.cgroup is not None
        body = marshal.dumps(
            (rid, spec.cgroup.path, spec.argv, spec.env, spec.cwd, not spec.merge_stderr, ids)
        )
        done: asyncio.Future[int] = self.rt.loop.create_future()
        self._pending[rid] = done
        self._outbox.append((body, [os.dup(fd) for fd in fds], rid))
        self._flush()
        return await done

    def _flush(self) -> None:
        """Send what waits, as far as the socket takes it (a burst can fill its buffer)."""
        sock = self._sock
        while self._outbox and sock is not None:
            body, fds, _ = self._outbox[0]
            try:
                socket.send_fds(sock, [body], fds)
            except BlockingIOError:
                self.rt.loop.add_writer(sock.fileno(), self._flush)
                return
            except OSError:
                self._helper_gone()
                return
            self._outbox.popleft()
            for fd in fds:
                os.close(fd)
        if sock is not None:
            self.rt.loop.remove_writer(sock.fileno())

    def _on_replies(self) -> None:
        assert self._sock is not None
        while self._sock is not None:
            try:
                data = self._sock.recv(MAX_REPLY)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._helper_gone()
                return
            rid, pid, error = marshal.loads(data)
            if rid == 0:
                self._ready = True
                continue
            done = self._pending.pop(rid, None)
            if done is None or done.done():
                continue
            if error is None:
                done.set_result(pid)
                continue
            if error[0] == "unsupported" and not self._closed:  # for good: direct from now on
                log.warning("task launcher: %s; runs spawn directly", error[2])
                self._closed = True
            done.set_exception(_error(error))

    def _helper_exited(self, proc: subprocess.Popen[bytes], sock: socket.socket, code: int) -> None:
        proc.returncode = code  # reaped by the reaper, not by Popen
        if not self._closed:
            log.warning("task launcher helper exited (%d); it is started again", code)
        if self._sock is sock:
            self._helper_gone()

    def _helper_gone(self) -> None:
        """Fail what is unanswered (those runs spawn directly) and forget the helper."""
        sock, self._sock = self._sock, None
        self._ready = False
        if sock is not None:
            self.rt.loop.remove_reader(sock.fileno())
            self.rt.loop.remove_writer(sock.fileno())
            sock.close()
        unsent = set()
        while self._outbox:
            _, fds, rid = self._outbox.popleft()
            unsent.add(rid)
            for fd in fds:
                os.close(fd)
        pending, self._pending = self._pending, {}
        for rid, done in pending.items():
            if not done.done():
                done.set_exception(HelperGone() if rid in unsent else HelperLost())

    async def close(self) -> None:
        """Stop the helper: it exits when its socket closes (a pending spawn fails over)."""
        self._closed = True
        proc = self._proc
        self._helper_gone()
        if proc is None:
            return
        for _ in range(100):  # it exits at once on EOF; the reaper collects it
            if proc.poll() is not None or not _alive(proc.pid):
                return
            await asyncio.sleep(0.01)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _error(error: tuple[str, int, str, str | None]) -> Exception:
    kind, code, text, filename = error
    if kind == "value":
        return ValueError(text)
    if kind == "unsupported":
        return HelperGone(text)
    return OSError(code, text, filename) if filename is not None else OSError(code, text)


async def start_run(
    rt: Runtime,
    launcher: Launcher | None,
    spec: SpawnSpec,
    output: Output,
    spawn_id: str,
    on_exit: Callable[[int], None],
) -> ChildProc:
    """Spawn a task run into its own cgroup leaf (through the launcher when it can) and watch
    it. Raises one of SPAWN_ERRORS, with the leaf already removed."""
    if launcher is None or not launcher.usable():
        proc = ChildProc.spawn(rt, spec, output, spawn_id, "task")
        proc.watch(on_exit)
        return proc
    assert rt.cgroups is not None and isinstance(rt.reaper, Reaper)
    reaper = rt.reaper
    spec.cgroup = cgroup = rt.cgroups.leaf("task", spawn_id, make=False)  # the helper makes it
    reaper.hold()
    try:
        try:
            child = await _spawn_through(launcher, spec)
        except BaseException:  # one of SPAWN_ERRORS
            cgroup.remove()
            raise
        rt.leader_set.add(child.pid)
        proc = ChildProc(rt, output, child, cgroup, spawn_id, leader=True)
        proc.watch(on_exit)  # before release(): an exit reaped meanwhile is held for it
    finally:
        reaper.release()
    return proc


async def _spawn_through(launcher: Launcher, spec: SpawnSpec) -> Child:
    """The helper's spawn, or the master's own when the request never reached the helper."""
    try:
        return await launcher.spawn(spec)
    except HelperGone:
        assert spec.cgroup is not None
        if not os.path.isdir(spec.cgroup.path):
            make_leaf(spec.cgroup.path)
        return spawn(spec)  # the master's own path
    except HelperLost:
        assert spec.cgroup is not None and launcher.rt.cgroups is not None
        await launcher.rt.cgroups.discard(spec.cgroup, "a run whose helper died")
        raise OSError("the task launcher helper died while starting the run") from None
