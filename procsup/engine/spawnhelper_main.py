"""The spawn helper process (see spawnhelper.py for why it exists): it reads the master's
requests, clones each child into its cgroup leaf with CLONE_PARENT (so the child is the
master's), waits for the child's exec report and answers (pid, report).

It runs in a fresh `python -I -S` with only the stdlib and procsup.engine.cgspawn imported, so
its clones copy almost nothing. It dies with the master (PR_SET_PDEATHSIG) and when the master
closes its socket. The child does exactly what a child of the master's own clone path does
(cgspawn._child), after two steps that make the helper's inheritance the master's: signals the
master ignores are ignored (the rest of the helper's non-default ones go back to default), and
the passed descriptors get the numbers they had in the master.

Requests that are waiting together are cloned together (issue 14): every page the helper
writes after a clone faults once (copy-on-write), so the work between two clones is what a
clone costs beyond the syscall. The helper reads every waiting request and works out each
child's plan first, then clones them back to back, with next to nothing in between. A plan
is the child's calls as a list (cgchild.plan_steps; plan_passing for a child with passed
descriptors, such as a task run's lock) with its report pipe already made, so
that the child runs them without looking up a name (each lookup the helper never made
itself costs the child a copied page). The helper is started with LD_BIND_NOW, so that no
child resolves a libc symbol through ld.so on its first call (issue 14, session 19).
"""

from __future__ import annotations

import _signal
import ctypes
import errno
import fcntl
import gc
import marshal
import os
import resource
import selectors
import signal
import socket
from collections.abc import Callable
from functools import partial
from typing import NoReturn

from procsup.engine import cgchild, cgspawn

PR_SET_PDEATHSIG = 1
BUFSIZE = 65536
MAX_FDS = 64
MAX_AT_ONCE = 64  # requests read before their clones (the master keeps fewer out)


def main(sock_fd: int, master: int) -> None:
    """Serve the master until it closes the socket or dies. The requests waiting at each
    wake-up are cloned together, and each child's exec report is awaited beside the others (a
    selector over the socket and the report pipes), so children exec in parallel; each answer
    carries its request's id."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != master:  # the master died before the prctl
        return
    sock = socket.socket(fileno=sock_fd)
    mine = _dispositions()
    # every object of the helper so far (its imports) out of the collector's reach: after each
    # clone, a collection that walks them would copy every page they are on, in the helper
    gc.freeze()
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, None)
    while True:
        ready: list[Ready] = []
        more = True
        for key, _ in sel.select():
            if key.data is None:
                more = _take(sock, ready, mine)
            else:
                _report(sock, sel, key.fd, key.data)
        _clone_all(sock, sel, ready)
        if not more:
            return


#: a request ready to clone: (id, leaf, what the child runs, the descriptors it came with,
#: its report pipe's two ends)
Ready = tuple[int, int, Callable[[], NoReturn], list[int], int, int]


def _take(sock: socket.socket, ready: list[Ready], mine: dict[int, object]) -> bool:
    """Every request waiting on the socket: each one's plan into `ready`, or its error
    answered at once. False at the master's EOF."""
    wait = 0  # the socket is readable: the first read does not block, the others must not
    for _ in range(MAX_AT_ONCE):
        try:
            msg, anc, flags, _ = sock.recvmsg(BUFSIZE, socket.CMSG_SPACE(MAX_FDS * 4), wait)
        except BlockingIOError:
            return True
        wait = socket.MSG_DONTWAIT
        if not msg:
            return False
        fds = [fd for level, kind, data in anc for fd in _ints(level, kind, data)]
        ident = -1
        try:
            ident, *request = marshal.loads(msg)
            ready.append((ident, *_plan(request, flags, fds, mine)))
        except (OSError, ValueError, TypeError, EOFError) as exc:
            _close(fds)
            sock.send(marshal.dumps((ident, -(getattr(exc, "errno", None) or errno.EPROTO), b"")))
    return True


def _clone_all(sock: socket.socket, sel: selectors.BaseSelector, ready: list[Ready]) -> None:
    """Clone the children of `ready` back to back, each with its report pipe and its
    descriptors closed right after its own clone (no later child inherits them), then answer
    or watch the report pipes. Everything a clone needs is made before the first one."""
    steps = [
        (ident, cgspawn.clone_args(cg_fd, cgspawn.CLONE_PARENT), child, fds, report_r, report_w)
        for ident, cg_fd, child, fds, report_r, report_w in ready
    ]
    with cgspawn.Quiet():
        started = _clone_each(steps)
    for ident, pid, report_r in started:
        if report_r < 0:
            sock.send(marshal.dumps((ident, pid, b"")))
        else:
            sel.register(report_r, selectors.EVENT_READ, (ident, pid, []))


def _clone_each(
    steps: list[tuple[int, cgspawn.CloneArgs, Callable[[], NoReturn], list[int], int, int]],
) -> list[tuple[int, int, int]]:
    """The clones themselves, inside `Quiet()`: (id, pid or -errno, report pipe or -1) each.
    One loop with everything in locals (cgspawn.clone_quiet's steps, inlined): every page the
    helper writes between two clones is copied again after the next one (issue 14)."""
    started = []
    clone, number, size = cgspawn.clone3_function(), cgspawn.SYS_CLONE3, cgspawn.ARGS_SIZE
    close, byref = os.close, ctypes.byref
    for ident, args, child, fds, report_r, report_w in steps:
        pid = clone(number, byref(args), size)
        if pid == 0:
            try:  # whatever happens, the child never returns into the helper's code
                child()
            finally:
                os._exit(255)
        close(report_w)
        for fd in fds:
            close(fd)
        if pid < 0:
            pid = -(ctypes.get_errno() or errno.EPROTO)
            close(report_r)
            report_r = -1
        started.append((ident, pid, report_r))
    return started


def _close(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def _report(
    sock: socket.socket, sel: selectors.BaseSelector, fd: int, data: tuple[int, int, list[bytes]]
) -> None:
    """A report pipe is readable: more of the report, or its end (the child exec'd or died)."""
    ident, pid, chunks = data
    chunk = os.read(fd, 4096)
    if chunk:
        chunks.append(chunk)
        return
    sel.unregister(fd)
    os.close(fd)
    sock.send(marshal.dumps((ident, pid, b"".join(chunks))))


def _ints(level: int, kind: int, data: bytes) -> list[int]:
    if level != socket.SOL_SOCKET or kind != socket.SCM_RIGHTS:
        return []
    got = [int.from_bytes(data[i : i + 4], "little", signed=True) for i in range(0, len(data), 4)]
    return [fd for fd in got if fd >= 0]


def _dispositions() -> dict[int, object]:
    """The helper's signals that are not at their default (Python's own SIGINT handler, the
    ignored SIGPIPE and SIGXFSZ, whatever the master left ignored)."""
    found = {}
    for sig in _signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        handler = _signal.getsignal(sig)
        if handler not in (_signal.SIG_DFL, None):
            found[sig] = handler
    return found


def _plan(
    request: list[object], flags: int, fds: list[int], mine: dict[int, object]
) -> tuple[int, Callable[[], NoReturn], list[int], int, int]:
    """(the leaf, what the child runs, the descriptors, the report pipe), worked out
    before any clone: in the child every object touched is a copied page. Raises OSError
    (with the errno to answer) for a request that cannot be served."""
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        raise OSError(errno.EMSGSIZE, "request truncated")
    argv, env, paths, cwd, ids, ignored, targets, split, pid_env = request
    assert isinstance(ignored, list) and isinstance(targets, tuple)
    need = 2 + bool(split) + len(targets)
    if len(fds) != need:
        raise OSError(errno.EPROTO, "descriptors missing")
    cg_fd, out_w = fds[0], fds[1]
    err_w = fds[2] if split else None
    passed = fds[2 + bool(split) :]
    resets, ignore = _signal_plan(tuple(ignored), mine)
    program = cgchild.Program(paths, argv, env, pid_env)  # type: ignore[arg-type]
    launch = cgchild.Launch([], {}, cwd, out_w, err_w, targets, ids)  # type: ignore[arg-type]
    # made now, before the batch's clones: the children cloned before this one hold its write
    # end only until they close their descriptors, their first steps (nothing before blocks)
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    try:
        planned = _planned(launch, program, resets, ignore, passed, report_w)
        if planned is not None:
            steps, child_report = planned
            target = cgchild.exec_target(program)
            child = partial(cgchild.run_steps, steps, target, child_report)
        else:  # a descriptor among 0-2 to move first
            child = partial(_child, launch, program, resets, ignore, passed, report_w)
    except BaseException:
        os.close(report_r)
        os.close(report_w)
        raise
    return cg_fd, child, fds, report_r, report_w


def _planned(
    launch: cgchild.Launch,
    program: cgchild.Program,
    resets: list[int],
    ignore: list[int],
    passed: list[int],
    report_w: int,
) -> tuple[list[cgchild.Step], int] | None:
    """The child's steps and the descriptor it reports on (cgchild.plan_steps, or
    plan_passing for a task run's lock and the like); None: `_child` must do it."""
    if not launch.pass_fds:
        steps = cgchild.plan_steps(launch, program, resets, ignore, report_w)
        return None if steps is None else (steps, report_w)
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return cgchild.plan_passing(launch, program, resets, ignore, report_w, passed, limit)


_plans: dict[tuple[int, ...], tuple[list[int], list[int]]] = {}


def _signal_plan(ignored: tuple[int, ...], mine: dict[int, object]) -> tuple[list[int], list[int]]:
    """(signals the child sets back to default, signals it ignores) for the master's ignored
    set: the same for nearly every request, so worked out once."""
    plan = _plans.get(ignored)
    if plan is None:
        resets = [sig for sig in mine if sig not in ignored]
        resets += [sig for sig in cgspawn.RESTORED if sig not in ignored and sig not in mine]
        ignore = [sig for sig in ignored if mine.get(sig) != _signal.SIG_IGN]
        plan = _plans[ignored] = (resets, ignore)
    return plan


def _child(
    launch: cgchild.Launch,
    program: cgchild.Program,
    resets: list[int],
    ignore: list[int],
    passed: list[int],
    report_w: int,
) -> NoReturn:
    """In the child: the helper's differences from the master undone, then cgchild's steps."""
    try:
        for sig in ignore:  # _signal: no enum made (every object touched is a copied page)
            _signal.signal(sig, _signal.SIG_IGN)
        if launch.pass_fds:
            launch, report_w = _renumber(launch, passed, report_w)
    except OSError as exc:
        cgchild.report(report_w, f"setup:{exc.errno or 0}")
        os._exit(255)
    except BaseException as exc:  # never back into the helper's loop as a second helper
        cgchild.report(report_w, f"bug:{type(exc).__name__}")
        os._exit(255)
    cgchild.child_main(launch, program, resets, report_w)


def _renumber(
    launch: cgchild.Launch, passed: list[int], report_w: int
) -> tuple[cgchild.Launch, int]:
    """The passed descriptors get the numbers they had in the master: every descriptor of
    ours is moved above the targets first, so that no dup2 hits one of them."""
    targets = launch.pass_fds
    err_w = launch.stderr
    floor = max(*targets, launch.stdout, report_w, err_w or 0) + 1
    report_w, out_w, *moved = (
        fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor) for fd in (report_w, launch.stdout, *passed)
    )
    if err_w is not None:
        err_w = fcntl.fcntl(err_w, fcntl.F_DUPFD_CLOEXEC, floor)
    for fd, target in zip(moved, targets, strict=True):
        os.dup2(fd, target)
    return cgchild.Launch([], {}, launch.cwd, out_w, err_w, targets, launch.ids), report_w
