"""What a child cloned into its cgroup runs between clone3 and exec (cgspawn.py clones it, from
the master or from the spawn helper): a few `os.*` calls, what Popen's C child does, and the
exec; any error goes back to the parent as `stage:errno` on a close-on-exec pipe.

Everything here runs in a copy of the cloning process with one thread, the GIL held, the gc off
and every signal blocked: it touches as little as it can (every object touched costs a copied
page) and never returns.
"""

from __future__ import annotations

import _signal
import contextlib
import errno
import fcntl
import os
from dataclasses import dataclass
from typing import NoReturn

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


def child_main(
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
        _signal.set_wakeup_fd(-1)  # the master's asyncio self-pipe is not ours to write to
        for sig in resets:  # _signal: signal.signal makes enums, every object a copied page
            _signal.signal(sig, _signal.SIG_DFL)
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
        _signal.pthread_sigmask(_signal.SIG_SETMASK, ())
        if launch.pid_env is not None:  # this copy of the dict is the child's own
            env[os.fsencode(launch.pid_env)] = str(os.getpid()).encode()
        stage = "exec"
        _exec(paths, argv, env)
    except OSError as exc:
        report(pipe, f"{stage}:{exc.errno or 0}")
    except BaseException as exc:  # whatever it is, the parent must hear of it
        report(pipe, f"bug:{type(exc).__name__}")
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


def report(err_w: int | None, text: str) -> None:
    if err_w is None:
        return
    with contextlib.suppress(OSError):
        os.write(err_w, text.encode())
