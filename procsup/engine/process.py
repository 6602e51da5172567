"""One child process: spawn it in its own session and learn when it exits.

No policy lives here (restarts and backoff are in `instance.py`). Exits are learned from a single
SIGCHLD-driven reaper, which also reaps orphans re-parented to us as child subreaper; signalling
a tree and awaiting processes that are not our children (through pidfds) is pidsignal.py's.
Nothing here polls.
"""

from __future__ import annotations

import asyncio
import grp
import logging
import os
import pwd
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from procsup.engine.cgroups import Cgroup

from procsup.engine import cgspawn, fdlimit, spawnhelper
from procsup.engine.libc import libc

log = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to us instead of init (Linux >= 3.4)."""
    return libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def quiet_signal_wakeup() -> None:
    """Let asyncio's signal self-pipe overflow silently.

    asyncio writes one byte per delivered signal into a socketpair that holds about 280 of them,
    so 500 children exiting at once overflow it. By default CPython then reports every lost byte
    through a pending call, which floods the interpreter and was seen to spin a master at 100%
    CPU mid-shutdown. A lost byte costs us nothing: a write only fails while unread SIGCHLD
    bytes are queued, and each of those triggers a full `waitpid` sweep afterwards. Call after
    the last `add_signal_handler`, which re-installs the wakeup fd each time.
    """
    fd = signal.set_wakeup_fd(-1)
    if fd != -1:
        signal.set_wakeup_fd(fd, warn_on_full_buffer=False)


class Reaper:
    """Reaps every child on SIGCHLD and routes exit codes to whoever watches that pid.

    Children we do not watch (orphans of our instances) are reaped and forgotten, so no zombie
    is ever left behind.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._watchers: dict[int, Callable[[int], None]] = {}
        self._loop = loop
        loop.add_signal_handler(signal.SIGCHLD, self.reap)

    def watch(self, pid: int, on_exit: Callable[[int], None]) -> None:
        """Call `on_exit(returncode)` once `pid` exits; negative codes are signals.

        Call it right after spawning, with no await in between: reaping only happens in a loop
        callback, so the exit cannot be reaped before the watcher is in place."""
        self._watchers[pid] = on_exit

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            callback = self._watchers.pop(pid, None)
            if callback is not None:
                callback(os.waitstatus_to_exitcode(status))

    def close(self) -> None:
        self._loop.remove_signal_handler(signal.SIGCHLD)


@dataclass
class SpawnSpec:
    """Everything needed to start one child."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None = None
    user: str | None = None
    merge_stderr: bool = False
    pass_fds: tuple[
        int, ...
    ] = ()  # descriptors the child inherits (a task's lock, a keeper's link)
    cgroup: Cgroup | None = None  # the child joins it before it execs
    #: a variable the child sets to its own pid just before exec (WATCHDOG_PID, as systemd
    #: sets it): no parent knows the pid before the fork
    pid_env: str | None = None


@dataclass
class Child:
    """A started child: its pid and the read ends of its output pipes (non-blocking)."""

    pid: int
    popen: subprocess.Popen[bytes] | None  # None: spawned by clone3 into its cgroup
    stdout_fd: int
    stderr_fd: int | None

    def mark_reaped(self, returncode: int) -> None:
        """Tell Popen we reaped it, so it never calls waitpid on a recycled pid."""
        if self.popen is not None:
            self.popen.returncode = returncode


def _identity(user: str | None) -> tuple[int | None, int | None, list[int] | None]:
    """uid, gid and supplementary groups to switch to (only when we are root)."""
    if user is None or os.getuid() != 0:
        return None, None, None
    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid, [g.gr_gid for g in grp.getgrall() if user in g.gr_mem]


def _joiner(cgroup: Cgroup | None) -> tuple[int | None, Callable[[], None] | None]:
    """A descriptor on the cgroup's `cgroup.procs` and the preexec hook that writes "0" to it:
    the child moves itself in between fork and exec, so not even its first instruction runs
    outside. The hook only makes one write(2) on a descriptor opened beforehand (no locks, no
    allocation worth the name), which is what makes preexec_fn safe here. The kernel checks
    the opener's rights (Linux 5.16+), so the write works after the switch to `user`."""
    if cgroup is None:
        return None, None
    fd = cgroup.open_procs()

    def join() -> None:
        os.write(fd, b"0")

    return fd, join


def spawn(spec: SpawnSpec) -> Child:
    """Start `spec` in a new session with piped output. Raises OSError on spawn failure,
    EMFILE included when the spawn would use descriptors the master keeps for itself.

    Into a cgroup, the child is cloned straight into it (cgspawn.py) while the master has one
    thread and the kernel allows it; else it joins the cgroup itself between fork and exec.
    A child that needs its own pid in its environment (`pid_env`) is cloned by cgspawn.py too
    (Python runs in it before exec); else Popen's child sets it in a hook. Any other child is
    Popen's (vfork, nothing of ours runs in it)."""
    fdlimit.BUDGET.ensure()
    if (spec.cgroup is not None or spec.pid_env) and cgspawn.usable():
        try:
            return _spawn(spec, None, clone=True)
        except cgspawn.Unsupported:
            pass  # logged once and remembered: the old path from now on
    join_fd, join = _joiner(spec.cgroup)
    try:
        return _spawn(spec, _with_pid_env(spec, join))
    except subprocess.SubprocessError as exc:  # only the preexec hook raises this
        what = f"join cgroup {spec.cgroup.path}" if spec.cgroup else f"set {spec.pid_env}"
        raise OSError(f"cannot {what}: {exc}") from None
    finally:
        if join_fd is not None:
            os.close(join_fd)


class Pending:
    """A spawn under way (`submit`): `complete()` returns the Child or raises what `spawn`
    raises. Spawns that cannot be split are made whole at `submit` and only handed on here."""

    def __init__(self, spec: SpawnSpec, done: Child | None = None) -> None:
        self.spec = spec
        self._done = done
        self._sent: cgspawn.Submitted | None = None
        self._fds: tuple[int, int, int | None, int | None] | None = None

    def complete(self) -> Child:
        if self._done is not None:
            return self._done
        assert self._sent is not None and self._fds is not None
        out_r, out_w, err_r, err_w = self._fds
        try:
            pid = cgspawn.complete(self._sent)
        except cgspawn.Unsupported:
            _close(out_r, err_r)
            return spawn(self.spec)  # the old path, as `spawn` would have taken
        except BaseException:
            _close(out_r, err_r)
            raise
        finally:
            _close(out_w, err_w)
        return Child(pid, None, out_r, err_r)


def submit(spec: SpawnSpec) -> Pending:
    """The first half of `spawn`: into a cgroup, through the spawn helper, the request is sent
    and the answer left for `Pending.complete`, so that many spawns overlap (spawnbatch.py);
    any other spawn is made whole here. Raises what `spawn` raises, or at `complete`."""
    if spec.cgroup is None or spawnhelper.current() is None or not cgspawn.usable():
        return Pending(spec, spawn(spec))
    fdlimit.BUDGET.ensure()
    out_r, out_w, err_r, err_w = _pipes(spec)
    try:
        sent = cgspawn.submit_into(spec.cgroup.path, _launch(spec, out_w, err_w))
    except BaseException:
        _close(out_r, out_w, err_r, err_w)
        raise
    if sent is None:
        _close(out_r, out_w, err_r, err_w)
        return Pending(spec, spawn(spec))
    pending = Pending(spec)
    pending._sent, pending._fds = sent, (out_r, out_w, err_r, err_w)
    return pending


def _pipes(spec: SpawnSpec) -> tuple[int, int, int | None, int | None]:
    """(out_r, out_w, err_r, err_w): non-blocking read ends, blocking write ends."""
    out_r, out_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        err_r, err_w = (None, None) if spec.merge_stderr else os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        _close(out_r, out_w)
        raise
    # The child must see blocking pipes; O_NONBLOCK is on the shared file description.
    os.set_blocking(out_w, True)
    if err_w is not None:
        os.set_blocking(err_w, True)
    return out_r, out_w, err_r, err_w


def _close(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            os.close(fd)


def _with_pid_env(spec: SpawnSpec, join: Callable[[], None] | None) -> Callable[[], None] | None:
    """The preexec hook for a `pid_env` child when it cannot be cloned by cgspawn.py (the
    master runs other threads, or clone3 is refused): in Popen's forked child, the environment
    is rebuilt from the spec with the child's own pid (clearenv, then putenv), and Popen, given
    no `env`, execs with exactly that environment. Then the cgroup join, if any."""
    name = spec.pid_env
    if not name:
        return join
    env = spec.env
    clearenv = libc().clearenv  # looked up here: the child only calls it

    def setup() -> None:
        # the child's C environment, which exec passes on (os.environ may not hold all of it)
        clearenv()
        for key, value in env.items():
            os.putenv(key, value)
        os.putenv(name, str(os.getpid()))
        if join is not None:
            join()

    return setup


def _spawn(spec: SpawnSpec, join: Callable[[], None] | None, clone: bool = False) -> Child:
    out_r, out_w, err_r, err_w = _pipes(spec)
    try:
        if clone:
            cgroup_dir = spec.cgroup.path if spec.cgroup is not None else None
            pid = cgspawn.spawn_into(cgroup_dir, _launch(spec, out_w, err_w))
            return Child(pid, None, out_r, err_r)
        popen = _popen(spec, out_w, err_w, join)
    except BaseException:
        for fd in (out_r, err_r):
            if fd is not None:
                os.close(fd)
        raise
    finally:
        os.close(out_w)
        if err_w is not None:
            os.close(err_w)
    return Child(popen.pid, popen, out_r, err_r)


def _launch(spec: SpawnSpec, out_w: int, err_w: int | None) -> cgspawn.Launch:
    uid, gid, groups = _identity(spec.user)
    ids = None if uid is None or gid is None else (uid, gid, groups or [])
    return cgspawn.Launch(
        spec.argv, spec.env, spec.cwd, out_w, err_w, spec.pass_fds, ids, spec.pid_env
    )


def _popen(
    spec: SpawnSpec, out_w: int, err_w: int | None, join: Callable[[], None] | None
) -> subprocess.Popen[bytes]:
    uid, gid, groups = _identity(spec.user)
    env: dict[str, str] | None = spec.env
    executable = None
    if spec.pid_env:  # the hook builds the environment: checked and searched here, as Popen does
        env = None
        argv, _ = cgspawn.encode(spec.argv, spec.env)
        executable = _find(cgspawn.exec_paths(argv[0], spec.env))
    return subprocess.Popen(
        spec.argv,
        executable=executable,
        stdin=subprocess.DEVNULL,
        stdout=out_w,
        stderr=subprocess.STDOUT if err_w is None else err_w,
        cwd=spec.cwd,
        env=env,
        start_new_session=True,
        close_fds=True,
        pass_fds=spec.pass_fds,
        user=uid,
        group=gid,
        extra_groups=groups,
        preexec_fn=join,
    )


def _find(paths: list[bytes]) -> bytes:
    """The first executable file among `paths` (the PATH of the child's own environment, not
    the master's); else the first, and exec reports why it cannot run."""
    for path in paths:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return paths[0]
