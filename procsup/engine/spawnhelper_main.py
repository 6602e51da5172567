"""The spawn helper process (see spawnhelper.py for why it exists): it reads one request at a
time from the master, clones the child into its cgroup leaf with CLONE_PARENT (so the child is
the master's), waits for the child's exec report and answers (pid, report).

It runs in a fresh `python -I -S` with only the stdlib and procsup.engine.cgspawn imported, so
its clones copy almost nothing. It dies with the master (PR_SET_PDEATHSIG) and when the master
closes its socket. The child does exactly what a child of the master's own clone path does
(cgspawn._child), after two steps that make the helper's inheritance the master's: signals the
master ignores are ignored (the rest of the helper's non-default ones go back to default), and
the passed descriptors get the numbers they had in the master.
"""

from __future__ import annotations

import _signal
import ctypes
import errno
import fcntl
import gc
import marshal
import os
import selectors
import signal
import socket
from typing import NoReturn

from procsup.engine import cgchild, cgspawn

PR_SET_PDEATHSIG = 1
BUFSIZE = 65536
MAX_FDS = 64


def main(sock_fd: int, master: int) -> None:
    """Serve the master until it closes the socket or dies. Requests are taken as they come
    and each child's exec report is awaited beside the others (a selector over the socket and
    the report pipes), so children exec in parallel; each answer carries its request's id."""
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
        for key, _ in sel.select():
            if key.data is None:
                if not _take(sock, sel, mine):
                    return
            else:
                _report(sock, sel, key.fd, key.data)


def _take(sock: socket.socket, sel: selectors.BaseSelector, mine: dict[int, object]) -> bool:
    """One request: clone its child and watch its report pipe. False at the master's EOF."""
    msg, anc, flags, _ = sock.recvmsg(BUFSIZE, socket.CMSG_SPACE(MAX_FDS * 4))
    if not msg:
        return False
    fds = [fd for level, kind, data in anc for fd in _ints(level, kind, data)]
    ident = -1
    try:
        ident, *request = marshal.loads(msg)
        started = _serve(request, flags, fds, mine)
    except (OSError, ValueError, TypeError, EOFError) as exc:
        started = (-(getattr(exc, "errno", None) or errno.EPROTO), -1)
    finally:
        for fd in fds:
            os.close(fd)
    pid, report_r = started
    if report_r < 0:
        sock.send(marshal.dumps((ident, pid, b"")))
    else:
        sel.register(report_r, selectors.EVENT_READ, (ident, pid, []))
    return True


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


def _serve(
    request: list[object], flags: int, fds: list[int], mine: dict[int, object]
) -> tuple[int, int]:
    """Clone the child: (pid, read end of its report pipe), or (-errno, -1)."""
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        return -errno.EMSGSIZE, -1
    argv, env, paths, cwd, ids, ignored, targets, split, pid_env = request
    assert isinstance(ignored, list) and isinstance(targets, tuple)
    need = 2 + bool(split) + len(targets)
    if len(fds) != need:
        return -errno.EPROTO, -1
    cg_fd, out_w = fds[0], fds[1]
    err_w = fds[2] if split else None
    passed = fds[2 + bool(split) :]
    resets = [sig for sig in mine if sig not in ignored]
    resets += [sig for sig in cgspawn.RESTORED if sig not in ignored and sig not in mine]
    ignore = [sig for sig in ignored if mine.get(sig) != _signal.SIG_IGN]
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    try:
        plan = (argv, env, paths, cwd, ids, resets, ignore, pid_env)
        pid = cgspawn.fork_into(
            cg_fd,
            lambda: _child(plan, out_w, err_w, list(passed), list(targets), report_w),  # type: ignore[arg-type]
            cgspawn.CLONE_PARENT,
        )
    except OSError as exc:
        os.close(report_r)
        return -(exc.errno or errno.EPROTO), -1
    finally:
        os.close(report_w)
    return pid, report_r


def _child(
    plan: tuple[
        list[bytes],
        dict[bytes, bytes],
        list[bytes],
        str | None,
        tuple[int, int, list[int]] | None,
        list[int],
        list[int],
        str | None,
    ],
    out_w: int,
    err_w: int | None,
    passed: list[int],
    targets: list[int],
    report_w: int,
) -> NoReturn:
    """In the child: the helper's differences from the master undone, then cgspawn._child."""
    argv, env, paths, cwd, ids, resets, ignore, pid_env = plan
    try:
        for sig in ignore:  # _signal: no enum made (every object touched is a copied page)
            _signal.signal(sig, _signal.SIG_IGN)
        if targets:  # every descriptor above the targets first, so no dup2 hits one of ours
            floor = max(*targets, out_w, report_w, err_w or 0) + 1
            report_w, out_w, *passed = (
                fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor) for fd in (report_w, out_w, *passed)
            )
            if err_w is not None:
                err_w = fcntl.fcntl(err_w, fcntl.F_DUPFD_CLOEXEC, floor)
            for fd, target in zip(passed, targets, strict=True):
                os.dup2(fd, target)
    except OSError as exc:
        cgchild.report(report_w, f"setup:{exc.errno or 0}")
        os._exit(255)
    launch = cgchild.Launch([], {}, cwd, out_w, err_w, tuple(targets), ids, pid_env)
    cgchild.child_main(launch, argv, env, paths, resets, report_w)
