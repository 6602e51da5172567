"""Spawn a child straight into its cgroup with clone3(CLONE_INTO_CGROUP) (Linux 5.7).

A child that joins its cgroup between fork and exec (a write to `cgroup.procs`) pays twice: the
hook takes subprocess off its vfork path, and the migration waits for an RCU grace period (7-15
ms when nothing else migrated just before), which is most of a restart. A child cloned into the
leaf is born there: no migration, and not even its first instruction runs outside.

subprocess cannot do that, so the child is made here: the raw syscall through `ctypes.PyDLL`,
which keeps the GIL held across the call, so the child starts as a copy of the master whose only
thread holds the GIL. That is only safe while the master has no other thread (another thread
could hold a lock the child would need, and raw clone3 runs no atfork handler); `usable()` checks
it on every spawn, and `process.spawn` takes the old path otherwise. The child runs a few `os.*`
calls (what Popen's C child does) and execs; an error travels back as `stage:errno` on a
close-on-exec pipe and the parent raises the OSError Popen would have raised.
"""

from __future__ import annotations

import _signal
import contextlib
import ctypes
import errno
import fcntl
import gc
import logging
import os
import signal
from dataclasses import dataclass
from typing import NoReturn

log = logging.getLogger(__name__)

SYS_CLONE3 = 435  # the same number on every architecture (the generic syscall table)
CLONE_INTO_CGROUP = 0x200000000
#: errors that mean "clone3 into a cgroup cannot work here" (old kernel, seccomp, old struct)
UNSUPPORTED = (errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG)
#: Python ignores these at start-up; Popen's restore_signals gives them back to the child
RESTORED = (signal.SIGPIPE, signal.SIGXFSZ)
FD_CEILING = 2**31 - 1  # os.closerange closes with close_range(2): cost follows open fds


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


class Unsupported(Exception):
    """clone3 into a cgroup does not work on this system (the text says why)."""


@dataclass(frozen=True)
class Launch:
    """What the child does between clone3 and exec, worked out by the parent beforehand."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    stdout: int  # blocking write ends of the output pipes
    stderr: int | None  # None: stderr goes where stdout goes
    pass_fds: tuple[int, ...] = ()
    ids: tuple[int, int, list[int]] | None = None  # uid, gid, groups to switch to


_broken: str | None = None
_syscall: ctypes._CFuncPtr | None = None  # type: ignore[name-defined]


def usable() -> bool:
    """True unless clone3 failed here before, or the master runs more than one thread."""
    if _broken is not None:
        return False
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


def _clone3() -> ctypes._CFuncPtr:  # type: ignore[name-defined]
    global _syscall
    if _syscall is None:
        func = ctypes.PyDLL(None, use_errno=True).syscall
        func.restype = ctypes.c_long
        func.argtypes = [ctypes.c_long, ctypes.c_void_p, ctypes.c_size_t]
        _syscall = func
    return _syscall


def spawn_into(cgroup_dir: str, launch: Launch) -> int:
    """Start `launch` inside the cgroup directory `cgroup_dir`; returns the pid once it has
    exec'd. Raises OSError as Popen would (a failed child is reaped first), ValueError for an
    unusable argv or environment, Unsupported when clone3 cannot work here (remembered)."""
    argv, env = _encode(launch.argv, launch.env)
    paths = _exec_paths(argv[0], launch.env)
    resets = _signals_to_reset()
    cg_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
    except OSError:
        os.close(cg_fd)
        raise
    try:
        pid = _fork_into(cg_fd, lambda: _child(launch, argv, env, paths, resets, err_w))
    finally:
        os.close(cg_fd)
        os.close(err_w)
    try:
        report = _read_all(err_r)
    finally:
        os.close(err_r)
    if report:
        os.waitpid(pid, 0)  # reaped here, before any SIGCHLD sweep could see it
        raise _error(report, launch.argv[0], launch.cwd)
    return pid


def _fork_into(cg_fd: int, in_child: object) -> int:
    """clone3 with every signal blocked and the gc off, so nothing of the master's runs in the
    child; both are restored in the parent. Runs `in_child` (which never returns) in the child.
    (`_signal` rather than `signal`: the same calls without an enum made per signal.)"""
    args = CloneArgs(flags=CLONE_INTO_CGROUP, exit_signal=signal.SIGCHLD, cgroup=cg_fd)
    gc_was_on = gc.isenabled()
    gc.disable()
    old_mask = _signal.pthread_sigmask(signal.SIG_BLOCK, _signal.valid_signals())
    try:
        pid = _clone3()(SYS_CLONE3, ctypes.byref(args), ctypes.sizeof(args))
        if pid == 0:
            in_child()  # type: ignore[operator]
            os._exit(255)
    finally:
        _signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        if gc_was_on:
            gc.enable()
    if pid < 0:
        code = ctypes.get_errno()
        if code in UNSUPPORTED:
            _disable(f"clone3: {os.strerror(code)}")
            raise Unsupported(os.strerror(code))
        raise OSError(code, os.strerror(code))
    return int(pid)


def _encode(argv: list[str], env: dict[str, str]) -> tuple[list[bytes], dict[bytes, bytes]]:
    """argv and env as bytes, checked as Popen checks them, so the child cannot fail on them."""
    if not argv:
        raise ValueError("empty command")
    args = [os.fsencode(a) for a in argv]
    environ = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
    for key in environ:
        if not key or b"=" in key:
            raise ValueError(f"illegal environment variable name: {key!r}")
    if any(b"\0" in x for x in (*args, *environ, *environ.values())):
        raise ValueError("embedded null byte")
    return args, environ


def _exec_paths(argv0: bytes, env: dict[str, str]) -> list[bytes]:
    """Where exec is tried, as Popen does: the name itself if it has a '/', else each
    directory of the PATH in the child's environment."""
    if os.path.dirname(argv0):
        return [argv0]
    return [os.path.join(os.fsencode(d), argv0) for d in os.get_exec_path(env)]


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


def _read_all(fd: int) -> bytes:
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


# --- in the child -------------------------------------------------------------------------------


def _child(
    launch: Launch,
    argv: list[bytes],
    env: dict[bytes, bytes],
    paths: list[bytes],
    resets: list[int],
    err_w: int,
) -> NoReturn:
    """One thread, the GIL held, gc off, every signal blocked. Never returns."""
    stage = "setup"
    pipe: int | None = err_w
    try:
        signal.set_wakeup_fd(-1)  # the master's asyncio self-pipe is not ours to write to
        for sig in resets:
            signal.signal(sig, signal.SIG_DFL)
        pipe, out, err = (_above_stdio(fd) for fd in (err_w, launch.stdout, launch.stderr))
        _stdio(out, err)
        if launch.cwd is not None:
            stage = "chdir"
            os.chdir(launch.cwd)
            stage = "setup"
        os.setsid()
        if launch.ids is not None:
            uid, gid, groups = launch.ids
            os.setgroups(groups)
            os.setregid(gid, gid)
            os.setreuid(uid, uid)
        _close_fds(keep=(pipe, *launch.pass_fds))
        for fd in launch.pass_fds:
            os.set_inheritable(fd, True)
        _signal.pthread_sigmask(signal.SIG_SETMASK, ())
        stage = "exec"
        _exec(paths, argv, env)
    except OSError as exc:
        _report(pipe, f"{stage}:{exc.errno or 0}")
    except BaseException as exc:  # whatever it is, the parent must hear of it
        _report(pipe, f"bug:{type(exc).__name__}")
    finally:
        os._exit(255)


def _above_stdio(fd: int | None) -> int | None:
    """A copy of `fd` numbered 3 or more, so that the dup2 onto 0-2 cannot overwrite it."""
    if fd is None or fd > 2:
        return fd
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def _stdio(out: int | None, err: int | None) -> None:
    assert out is not None
    os.dup2(out, 1)
    os.dup2(err if err is not None else out, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    if null == 0:
        os.set_inheritable(0, True)
    else:
        os.dup2(null, 0)
        os.close(null)


def _close_fds(keep: tuple[int | None, ...]) -> None:
    """Close every descriptor but 0-2 and `keep` (close_fds=True)."""
    low = 3
    for fd in sorted({k for k in keep if k is not None and k >= 3}):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, FD_CEILING)


def _exec(paths: list[bytes], argv: list[bytes], env: dict[bytes, bytes]) -> NoReturn:
    """execve each candidate; report the first error other than "not there", as Popen does."""
    first = last = errno.ENOENT
    seen = False
    for path in paths:
        try:
            os.execve(path, argv, env)
        except OSError as exc:
            last = exc.errno or errno.ENOENT
            if not seen and last not in (errno.ENOENT, errno.ENOTDIR):
                first, seen = last, True
    raise OSError(first if seen else last, "exec failed")


def _report(err_w: int | None, text: str) -> None:
    if err_w is None:
        return
    with contextlib.suppress(OSError):
        os.write(err_w, text.encode())
