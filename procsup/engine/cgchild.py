"""What a child cloned into its cgroup runs between clone3 and exec (cgspawn.py clones it, from
the master or from the spawn helper): a few `os.*` calls, what Popen's C child does, and the
exec; any error goes back to the parent as `stage:errno` on a close-on-exec pipe.

Everything here runs in a copy of the cloning process with one thread, the GIL held, the gc off
and every signal blocked: it touches as little as it can (every object touched costs a copied
page) and never returns. The spawn helper plans the usual child before the clone
(`plan_steps`: the same calls as `child_main`, as a list of functions and their arguments;
`plan_passing` with passed descriptors, a task run's lock), so that the child (`run_steps`)
looks up no name at all.
"""

from __future__ import annotations

import _signal
import contextlib
import ctypes
import errno
import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from procsup.engine.libc import libc_function

FD_CEILING = 2**31 - 1  # os.closerange closes with close_range(2): cost follows open fds


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
    pid_env: str | None = None  # a variable the child sets to its own pid before exec


class Program:
    """What execve is given, as the C arrays it takes, built by the parent before the clone.
    os.execve would build them in the child from a dict, and every object made there is a
    copied page: ~50 page faults and ~0.15 ms of a spawn with 35 variables (issue 14)."""

    __slots__ = ("argv", "envp", "execve", "paths", "pid_prefix", "pid_slot")

    def __init__(
        self, paths: list[bytes], argv: list[bytes], env: dict[bytes, bytes], pid_env: str | None
    ) -> None:
        self.paths = paths
        self.argv = (ctypes.c_char_p * (len(argv) + 1))(*argv, None)
        # a variable the child sets to its own pid: its slot is the last one, filled there
        key = os.fsencode(pid_env) if pid_env is not None else None
        self.pid_prefix = b"" if key is None else key + b"="
        items = [k + b"=" + v for k, v in env.items() if k != key]
        self.pid_slot = -1 if key is None else len(items)
        self.envp = (ctypes.c_char_p * (len(items) + 2))(*items, None, None)
        self.execve = libc_function(
            "execve", ctypes.c_int, [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p]
        )


def child_main(launch: Launch, program: Program, resets: list[int], err_w: int) -> NoReturn:
    """One thread, the GIL held, gc off, every signal blocked. Never returns. Straight-line
    calls on values the parent worked out: in the child every object touched is a copied
    page (a generator, a set or a dict made here costs more than the call it serves)."""
    stage = "setup"
    pipe: int | None = err_w
    try:
        _signal.set_wakeup_fd(-1)  # the master's asyncio self-pipe is not ours to write to
        for sig in resets:  # _signal: signal.signal makes enums, every object a copied page
            _signal.signal(sig, _signal.SIG_DFL)
        pipe = _above_stdio(err_w)
        out = _above_stdio(launch.stdout)
        _stdio(out, _above_stdio(launch.stderr))
        # closed first: the spawn helper clones the requests waiting together back to back,
        # so a child holds the next children's descriptors until here (a chdir that hangs must
        # not keep their pipes open)
        if launch.pass_fds:
            _close_fds(keep=(pipe, *launch.pass_fds))
            for fd in launch.pass_fds:
                os.set_inheritable(fd, True)
        else:  # the usual case, without the set and the sort
            assert pipe is not None
            os.closerange(3, pipe)
            os.closerange(pipe + 1, FD_CEILING)
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
        _signal.pthread_sigmask(_signal.SIG_SETMASK, ())
        if program.pid_slot >= 0:  # these arrays are the child's own copy
            program.envp[program.pid_slot] = program.pid_prefix + str(os.getpid()).encode()
        stage = "exec"
        _exec(program)
    except OSError as exc:
        report(pipe, f"{stage}:{exc.errno or 0}")
    except BaseException as exc:  # whatever it is, the parent must hear of it
        report(pipe, f"bug:{type(exc).__name__}")
    finally:
        os._exit(255)


#: one step of a planned child: (its stage for an error report, a function, its arguments)
Step = tuple[str, Callable[..., object], tuple[Any, ...]]


def plan_steps(
    launch: Launch, program: Program, resets: list[int], ignore: list[int], err_w: int
) -> list[Step] | None:
    """`child_main`'s steps as a list the spawn helper makes before the clone, for `run_steps`;
    None when the child needs what only `child_main` does (passed descriptors, or a
    descriptor among 0-2 to move first). `ignore`: signals to ignore first (the helper's)."""
    stderr = launch.stderr if launch.stderr is not None else launch.stdout
    if launch.pass_fds or min(err_w, launch.stdout, stderr) <= 2:
        return None
    steps: list[Step] = [("setup", _signal.signal, (sig, _signal.SIG_IGN)) for sig in ignore]
    steps += [("setup", _signal.signal, (sig, _signal.SIG_DFL)) for sig in resets]
    steps += [
        ("setup", os.dup2, (launch.stdout, 1)),
        ("setup", os.dup2, (stderr, 2)),
        ("setup", _null_stdin, ()),
        ("setup", os.closerange, (3, err_w)),
        ("setup", os.closerange, (err_w + 1, FD_CEILING)),
    ]
    if launch.cwd is not None:
        steps.append(("chdir", os.chdir, (launch.cwd,)))
    steps.append(("setup", os.setsid, ()))
    if launch.ids is not None:
        uid, gid, groups = launch.ids
        steps += [
            ("setup", os.setgroups, (groups,)),
            ("setup", os.setregid, (gid, gid)),
            ("setup", os.setreuid, (uid, uid)),
        ]
    steps.append(("setup", _signal.pthread_sigmask, (_signal.SIG_SETMASK, ())))
    if program.pid_slot >= 0:
        steps.append(("setup", _own_pid, (program,)))
    return steps


def plan_passing(
    launch: Launch,
    program: Program,
    resets: list[int],
    ignore: list[int],
    err_w: int,
    passed: list[int],
    fd_limit: int,
) -> tuple[list[Step], int] | None:
    """`plan_steps` for a child with passed descriptors (`passed`: the parent's copies, to
    become `launch.pass_fds` in the child): (the steps, the child's report descriptor).

    Every descriptor the child needs is first copied to a fixed number above all of them
    (the report pipe first, close-on-exec, so that any later error reaches the parent), then
    each passed one is put at its number; what those copies overwrite is the parent's, and
    closed in the child anyway. None where only `child_main` will do: a target among 0-2, or
    copies that would reach `fd_limit` (RLIMIT_NOFILE), the only way a `dup2` to a free
    number could fail."""
    targets = launch.pass_fds
    stderr = launch.stderr
    if not targets or min(*targets, err_w, launch.stdout, 3 if stderr is None else stderr) <= 2:
        return None
    floor = max(*targets, *passed, err_w, launch.stdout, -1 if stderr is None else stderr) + 1
    if floor + 3 + len(passed) >= fd_limit:
        return None
    out, err = floor + 1, (floor + 2 if stderr is not None else None)
    moved = [floor + 3 + i for i in range(len(passed))]
    steps: list[Step] = [("setup", os.dup2, (err_w, floor, False))]
    steps += [("setup", os.dup2, (launch.stdout, out))]
    if stderr is not None:
        steps.append(("setup", os.dup2, (stderr, err)))
    steps += [("setup", os.dup2, pair) for pair in zip(passed, moved, strict=True)]
    steps += [("setup", os.dup2, pair) for pair in zip(moved, targets, strict=True)]
    renumbered = Launch([], {}, launch.cwd, out, err, (), launch.ids, launch.pid_env)
    usual = plan_steps(renumbered, program, resets, ignore, floor)
    assert usual is not None  # every descriptor is above 2 now, and none is passed
    signals = len(ignore) + len(resets)
    kept = sorted(set(targets))
    closes: list[Step] = [
        ("setup", os.closerange, (low, high))
        for low, high in zip((3, *(t + 1 for t in kept)), (*kept, floor), strict=True)
    ]
    # the usual plan: its signals, dup2s to 1 and 2, stdin, two closeranges (the first one
    # replaced by those that skip the targets), then the rest
    body = [*usual[signals : signals + 3], *closes, *usual[signals + 4 :]]
    return [steps[0], *usual[:signals], *steps[1:], *body], floor


#: what exec is tried with: (execve, the candidate paths, argv, envp), from a Program
Target = tuple[Callable[..., int], list[bytes], Any, Any]


def exec_target(program: Program) -> Target:
    return program.execve, program.paths, program.argv, program.envp


def run_steps(
    steps: list[Step],
    target: Target,
    err_w: int,
    _exit: Callable[[int], NoReturn] = os._exit,
    _get_errno: Callable[[], int] = ctypes.get_errno,
) -> NoReturn:
    """`child_main` from a plan: the same calls in the same order, but no attribute, global
    or module looked up in the child, where each lookup of a name the helper itself never
    looked up filled a cache entry (the type cache, a code object's counters): a copied page
    each, ~40 of a child's ~200 page faults (issue 14). Never returns."""
    stage = "setup"
    try:
        for stage, func, args in steps:  # noqa: B007 - the failing step's stage is reported
            func(*args)
        stage = "exec"
        execve, paths, argv, envp = target
        first = last = _ENOENT
        seen = False
        for path in paths:
            execve(path, argv, envp)
            last = _get_errno() or _ENOENT
            if not seen and last not in _MISSING:
                first, seen = last, True
        report(err_w, f"exec:{first if seen else last}")
    except OSError as exc:
        report(err_w, f"{stage}:{exc.errno or 0}")
    except BaseException as exc:  # whatever it is, the parent must hear of it
        report(err_w, f"bug:{type(exc).__name__}")
    finally:
        _exit(255)


_ENOENT = errno.ENOENT
_MISSING = (errno.ENOENT, errno.ENOTDIR)


def _null_stdin(
    _open: Callable[..., int] = os.open,
    _dup2: Callable[[int, int], int] = os.dup2,
    _close: Callable[[int], None] = os.close,
    _rdonly: int = os.O_RDONLY,
) -> None:
    """stdin on /dev/null, as `_stdio` does it."""
    null = _open("/dev/null", _rdonly)
    if null == 0:
        os.set_inheritable(0, True)
    else:
        _dup2(null, 0)
        _close(null)


def _own_pid(program: Program) -> None:
    """`pid_env`: the child's own pid into its slot of the arrays (the child's own copy)."""
    program.envp[program.pid_slot] = program.pid_prefix + str(os.getpid()).encode()


def _above_stdio(fd: int | None) -> int | None:
    """A copy of `fd` numbered 3 or more, so that the dup2 onto 0-2 cannot overwrite it."""
    if fd is None or fd > 2:
        return fd
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def _stdio(out: int | None, err: int | None) -> None:
    assert out is not None
    os.dup2(out, 1)
    os.dup2(err if err is not None else out, 2)
    null = os.open("/dev/null", os.O_RDONLY)
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


def _exec(program: Program) -> NoReturn:
    """execve each candidate; report the first error other than "not there", as Popen does."""
    first = last = errno.ENOENT
    seen = False
    for path in program.paths:
        program.execve(path, program.argv, program.envp)
        last = ctypes.get_errno() or errno.ENOENT
        if not seen and last not in (errno.ENOENT, errno.ENOTDIR):
            first, seen = last, True
    raise OSError(first if seen else last, "exec failed")


def report(err_w: int | None, text: str) -> None:
    if err_w is None:
        return
    with contextlib.suppress(OSError):
        os.write(err_w, text.encode())
