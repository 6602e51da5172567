"""Spawn a child straight into its cgroup with clone3(CLONE_INTO_CGROUP) (Linux 5.7).

A child that joins its cgroup between fork and exec (a write to `cgroup.procs`) pays twice: the
hook takes subprocess off its vfork path, and the migration waits for an RCU grace period (7-15
ms when nothing else migrated just before), which is most of a restart. A child cloned into the
leaf is born there: no migration, and not even its first instruction runs outside.

subprocess cannot do that, so the child is made here: the raw syscall through `ctypes.PyDLL`,
which keeps the GIL held across the call, so the child starts as a copy of the cloning process
whose only thread holds the GIL. The child runs a few `os.*` calls (what Popen's C child does)
and execs; an error travels back as `stage:errno` on a close-on-exec pipe and the parent raises
the OSError Popen would have raised.

The cloning process is the spawn helper when the master has one (spawnhelper.py: a small process
whose clones copy little, with CLONE_PARENT so the child is still the master's); else the master
itself, which is only safe while it has no other thread (another thread could hold a lock the
child would need, and raw clone3 runs no atfork handler): `usable()` checks it, and
`process.spawn` takes the old path otherwise.
"""

from __future__ import annotations

import _signal
import ctypes
import errno
import gc
import logging
import os
import signal
from dataclasses import dataclass
from typing import Any, NoReturn

from procsup.engine import spawnhelper
from procsup.engine.cgchild import Launch, Program, child_main
from procsup.engine.envbytes import env_bytes
from procsup.engine.libc import libc_function

log = logging.getLogger(__name__)

SYS_CLONE3 = 435  # the same number on every architecture (the generic syscall table)
CLONE_INTO_CGROUP = 0x200000000
CLONE_PARENT = 0x8000  # the child's parent is the caller's parent (spawnhelper.py)
#: errors that mean "clone3 into a cgroup cannot work here" (old kernel, seccomp, old struct)
UNSUPPORTED = (errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG)
#: Python ignores these at start-up; Popen's restore_signals gives them back to the child
RESTORED = (signal.SIGPIPE, signal.SIGXFSZ)


class CloneArgs(ctypes.Structure):
    """struct clone_args, version 2 (88 bytes)."""

    _fields_ = [
        (name, ctypes.c_uint64)
        for name in (
            "flags",
            "pidfd",
            "child_tid",
            "parent_tid",
            "exit_signal",
            "stack",
            "stack_size",
            "tls",
            "set_tid",
            "set_tid_size",
            "cgroup",
        )
    ]


ARGS_SIZE = ctypes.sizeof(CloneArgs)


class Unsupported(Exception):
    """clone3 into a cgroup does not work on this system (the text says why)."""


_broken: str | None = None


def usable() -> bool:
    """True unless clone3 failed here before; with no spawn helper, only while the master runs
    one thread (the helper's clones do not copy the master, threads and all)."""
    if _broken is not None:
        return False
    return spawnhelper.current() is not None or _one_thread()


def _one_thread() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _disable(why: str) -> None:
    global _broken
    if _broken is None:
        log.warning(
            "clone3 into a cgroup is not available (%s): children join their cgroup after "
            "fork instead, which makes each spawn slower",
            why,
        )
    _broken = why


def clone3_function() -> Any:
    """syscall(2), through which clone3 is called (glibc has no wrapper for it)."""
    return libc_function(
        "syscall", ctypes.c_long, [ctypes.c_long, ctypes.c_void_p, ctypes.c_size_t], hold_gil=True
    )


def spawn_into(cgroup_dir: str | None, launch: Launch) -> int:
    """Start `launch` inside the cgroup directory `cgroup_dir` (None: a plain clone3 by the
    master, where it is, for a child that must know its own pid before exec: `pid_env`);
    returns the pid once it has exec'd. Raises OSError as Popen would (a failed child is reaped
    first), ValueError for an unusable argv or environment, Unsupported when clone3 cannot work
    here (remembered) or, for this spawn only, when neither the spawn helper nor a
    lone-threaded master can clone."""
    argv, env = encode(launch.argv, launch.env)
    paths = exec_paths(argv[0], launch.env)
    if cgroup_dir is None:
        pid, report = _clone_here(-1, launch, argv, env, paths)
        return _started(pid, report, launch)
    cg_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        helper = spawnhelper.current()
        body, fds = _request(cg_fd, launch, argv, env, paths)
        got = helper.spawn(body, fds, cgroup_dir) if helper is not None else None
        pid, report = got if got is not None else _clone_here(cg_fd, launch, argv, env, paths)
    finally:
        os.close(cg_fd)
    return _started(pid, report, launch)


@dataclass(frozen=True)
class Submitted:
    """A spawn sent to the spawn helper, to be completed (`complete`) later."""

    cgroup_dir: str
    launch: Launch
    ticket: tuple[int, int]


def submit_into(cgroup_dir: str, launch: Launch) -> Submitted | None:
    """The first half of `spawn_into` when the spawn helper serves: the request is sent, the
    answer is left for `complete`, so that more spawns can be sent meanwhile (spawnbatch.py).
    None when there is no helper or it cannot serve: the caller spawns the whole way.
    Raises ValueError as `spawn_into` does."""
    helper = spawnhelper.current()
    if helper is None:
        return None
    argv, env = encode(launch.argv, launch.env)
    paths = exec_paths(argv[0], launch.env)
    cg_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        body, fds = _request(cg_fd, launch, argv, env, paths)
        ticket = helper.submit(body, fds)  # the descriptors travel with it: closed here after
    finally:
        os.close(cg_fd)
    return None if ticket is None else Submitted(cgroup_dir, launch, ticket)


def complete(sub: Submitted) -> int:
    """The second half: the pid once the child has exec'd, or what `spawn_into` raises. If the
    helper was lost meanwhile, the spawn is made again the whole way."""
    helper = spawnhelper.current()
    got = helper.collect(sub.ticket, sub.cgroup_dir) if helper is not None else None
    if got is None:
        return spawn_into(sub.cgroup_dir, sub.launch)
    return _started(*got, sub.launch)


def _started(pid: int, report: bytes, launch: Launch) -> int:
    """The pid of a child that exec'd, else the error (a failed child is reaped first)."""
    if pid < 0:
        _clone_failed(-pid)
    if report:
        os.waitpid(pid, 0)  # reaped here, before any SIGCHLD sweep could see it
        raise _error(report, launch.argv[0], launch.cwd)
    return pid


def _request(
    cg_fd: int, launch: Launch, argv: list[bytes], env: dict[bytes, bytes], paths: list[bytes]
) -> tuple[tuple[Any, ...], list[int]]:
    """What the spawn helper is sent (spawnhelper_main.py reads it): the plan, and the
    descriptors (the leaf, the output pipes, the passed ones in their order)."""
    split = launch.stderr is not None
    body = (
        argv,
        env,
        paths,
        launch.cwd,
        launch.ids,
        _ignored(),
        launch.pass_fds,
        split,
        launch.pid_env,
    )
    fds = [cg_fd, launch.stdout, *([launch.stderr] if split else []), *launch.pass_fds]
    return body, [fd for fd in fds if fd is not None]


def _clone_here(
    cg_fd: int, launch: Launch, argv: list[bytes], env: dict[bytes, bytes], paths: list[bytes]
) -> tuple[int, bytes]:
    """Clone the child from the master itself: (pid or -errno, exec report)."""
    if spawnhelper.current() is not None and not _one_thread():
        raise Unsupported("the spawn helper is gone and the master runs threads")
    resets = _signals_to_reset()
    program = Program(paths, argv, env, launch.pid_env)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = fork_into(cg_fd, lambda: child_main(launch, program, resets, err_w))
    except OSError as exc:
        os.close(err_r)
        return -(exc.errno or errno.EINVAL), b""
    finally:
        os.close(err_w)
    try:
        return pid, read_all(err_r)
    finally:
        os.close(err_r)


def _clone_failed(code: int) -> NoReturn:
    if code in UNSUPPORTED:
        _disable(f"clone3: {os.strerror(code)}")
        raise Unsupported(os.strerror(code))
    raise OSError(code, os.strerror(code))


def fork_into(cg_fd: int, in_child: object, flags: int = 0) -> int:
    """clone3 into the cgroup `cg_fd` (unless it is -1: a plain clone3) with `flags` added,
    every signal blocked and the gc off, so nothing of the caller's runs in the child; both are
    restored in the parent. Runs `in_child` (which never returns) in the child. Raises OSError
    when clone3 fails."""
    with Quiet():
        return clone_quiet(clone_args(cg_fd, flags), in_child)


class Quiet:
    """Every signal blocked and the gc off, for one clone or for many back to back (the
    spawn helper: a page written between two clones costs a fault each time). `_signal`
    rather than `signal`: the same calls without an enum made per signal."""

    def __enter__(self) -> None:
        self._gc_was_on = gc.isenabled()
        gc.disable()
        self._old_mask = _signal.pthread_sigmask(signal.SIG_BLOCK, _signal.valid_signals())

    def __exit__(self, *exc: object) -> None:
        _signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)
        if self._gc_was_on:
            gc.enable()


def clone_args(cg_fd: int, flags: int = 0) -> CloneArgs:
    """clone3's arguments: into the cgroup `cg_fd` (-1: where the caller is), `flags` added."""
    # with CLONE_PARENT the child's exit signal is the caller's own, and clone3 wants 0 here
    exit_signal = 0 if flags & CLONE_PARENT else signal.SIGCHLD
    if cg_fd >= 0:
        return CloneArgs(flags=CLONE_INTO_CGROUP | flags, exit_signal=exit_signal, cgroup=cg_fd)
    return CloneArgs(flags=flags, exit_signal=exit_signal)


def clone_quiet(args: CloneArgs, in_child: object) -> int:
    """The clone itself, inside `Quiet()`: the pid, or OSError."""
    pid = clone3_function()(SYS_CLONE3, ctypes.byref(args), ARGS_SIZE)
    if pid == 0:
        try:  # whatever happens, the child never returns into its parent's code
            in_child()  # type: ignore[operator]
        finally:
            os._exit(255)
    if pid < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return int(pid)


def encode(argv: list[str], env: dict[str, str]) -> tuple[list[bytes], dict[bytes, bytes]]:
    """argv and env as bytes, checked as Popen checks them, so the child cannot fail on them.
    (One join for the null-byte check instead of a generator over every string: this runs for
    every spawn, 2,000 times in a row at start-up.)"""
    if not argv:
        raise ValueError("empty command")
    environ = env_bytes(env)  # each variable checked once (envbytes.py)
    if environ is not None:
        args = [os.fsencode(a) for a in argv]
        if b"\0" in b"\1".join(args):
            raise ValueError("embedded null byte")
        return args, environ
    fsencode = os.fsencode
    args = [fsencode(a) for a in argv]
    environ = {fsencode(k): fsencode(v) for k, v in env.items()}
    for key in environ:
        if not key or b"=" in key:
            raise ValueError(f"illegal environment variable name: {key!r}")
    if b"\0" in b"\1".join((*args, *environ, *environ.values())):
        raise ValueError("embedded null byte")
    return args, environ


def exec_paths(argv0: bytes, env: dict[str, str]) -> list[bytes]:
    """Where exec is tried, as Popen does: the name itself if it has a '/', else each
    directory of the PATH in the child's environment, in order. The child tries each one
    (a miss costs it one failed execve, with nothing built in Python since the C arrays are
    prebuilt), so the list depends only on the name and the PATH: kept for the next spawn."""
    if os.path.dirname(argv0):
        return [argv0]
    key = (argv0, env.get("PATH"))
    paths = _paths.get(key)
    if paths is None:
        if len(_paths) >= 256:
            _paths.clear()
        paths = _paths[key] = [os.path.join(os.fsencode(d), argv0) for d in os.get_exec_path(env)]
    return paths


_paths: dict[tuple[bytes, str | None], list[bytes]] = {}


def _signals_to_reset() -> list[int]:
    """Signals Python catches, to go back to their default in the child, and SIGPIPE and
    SIGXFSZ (Popen's restore_signals); other ignored signals stay ignored across exec, as with
    Popen. Worked out here: in the child every object touched costs a copied page."""
    found = []
    for sig in _signal.valid_signals():  # plain ints: no enum per signal (10x faster)
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        handler = _signal.getsignal(sig)
        if handler in (_signal.SIG_DFL, None) or (
            handler == _signal.SIG_IGN and sig not in RESTORED
        ):
            continue
        found.append(sig)
    return found


def _ignored() -> list[int]:
    """Signals the master ignores that its children keep ignored (all but RESTORED): what a
    child of the spawn helper must be told, since it inherits the helper's dispositions."""
    return [
        sig
        for sig in _signal.valid_signals()
        if sig not in RESTORED
        and sig not in (signal.SIGKILL, signal.SIGSTOP)
        and _signal.getsignal(sig) == _signal.SIG_IGN
    ]


def read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 64):
        data += chunk
    return data


def _error(report: bytes, argv0: str, cwd: str | None) -> OSError:
    """The OSError Popen raises for the same failure: exec errors name argv[0], chdir errors
    the directory, the rest nothing."""
    stage, _, code_text = report.decode(errors="replace").partition(":")
    code = int(code_text) if code_text.isdigit() else 0
    if stage == "exec":
        return OSError(code, os.strerror(code), argv0)
    if stage == "chdir":
        return OSError(code, os.strerror(code), cwd)
    if stage == "setup" and code:
        return OSError(code, os.strerror(code))
    return OSError(f"the child failed before exec: {code_text}")
