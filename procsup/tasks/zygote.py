"""The launcher's helper process: it clones task runs into their cgroup for the master.

Under cgroup tracking a run is cloned straight into its leaf (cgspawn.py), a full fork of the
process that clones. Forked from the master (40-80 MiB) that costs 1-3 ms of the master's time
per run, plus a copy-on-write fault on every page the master writes afterwards; forked from this
small helper it costs the helper a fraction of that, on the other core, while the master goes on.
With CLONE_PARENT the run is born the master's child, not ours: the master reaps it, signals
its group and sees its exit code exactly as if it had cloned it itself.

It runs as `python -I -S zygote.py FD` (tasks/launcher.py starts it) and reads one request per
message on the SOCK_SEQPACKET socket FD: a marshalled (id, cgroup dir, argv, env, cwd, has
stderr pipe, ids) with the write ends of the run's output pipes and the descriptors it inherits
as SCM_RIGHTS. It makes the leaf (a cgroup mkdir is among the dearer syscalls), clones, and
answers (id, pid, None) once the child has exec'd, or (id, 0, (kind, errno, text, filename)), in
the order the children get there: it clones the next request while earlier children still exec.
Its first message, (0, 0, None), says it is ready. It exits when the master closes its end, and
dies with the master (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import marshal
import os
import select
import signal
import socket
import sys
from collections import deque
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1
MAX_REQUEST = 1 << 20  # argv + environment of one run
MAX_FDS = 64


def main(fd: int) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # -I: the package by path
    from procsup.engine import cgspawn

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:
        return 0  # the master is already gone
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        # a handler, not SIG_IGN: an ignored signal would stay ignored in every run
        signal.signal(sig, lambda *_: None)
    return Zygote(cgspawn, socket.socket(fileno=fd)).run()


class Zygote:
    """Clones each request as it comes and answers once that child has exec'd (or failed):
    many children exec at once while the next requests are served."""

    def __init__(self, cgspawn: Any, sock: socket.socket) -> None:
        self.cgspawn = cgspawn
        self.sock = sock
        self.poller = select.poll()
        self.poller.register(sock, select.POLLIN)
        #: report pipe -> (request id, pid, launch) of a child not yet exec'd
        self.execing: dict[int, tuple[int, int, Any]] = {}
        #: answers the master has not taken yet: a busy master must not stall the clones
        self.outbox: deque[bytes] = deque()

    def run(self) -> int:
        self.answer((0, 0, None))  # ready: the master sends runs our way from now on
        while True:
            for fd, events in self.poller.poll():
                if fd != self.sock.fileno():
                    self.execed(fd)
                    continue
                if events & select.POLLOUT:
                    self.flush()
                if events & ~select.POLLOUT and not self.request():
                    return 0

    def request(self) -> bool:
        """Serve one request; False when the master closed its end."""
        try:
            data, fds, _, _ = socket.recv_fds(self.sock, MAX_REQUEST, MAX_FDS)
        except OSError:
            return False
        if not data:
            return False
        rid = 0
        try:
            rid, cgroup_dir, argv, env, cwd, has_err, ids = marshal.loads(data)
            out, err = fds[0], (fds[1] if has_err else None)
            passed = tuple(fds[2 if has_err else 1 :])
            launch = self.cgspawn.Launch(argv, env, cwd, out, err, passed, ids)
            make_leaf(cgroup_dir)
            pid, report = self.cgspawn.begin_into(cgroup_dir, launch, for_parent=True)
        except Exception as exc:  # every failure is the master's to hear
            self.answer((rid, 0, self.failure(exc)))
            return True
        finally:
            for passed_fd in fds:
                os.close(passed_fd)
        self.execing[report] = (rid, pid, launch)
        self.poller.register(report, select.POLLIN)
        return True

    def execed(self, report: int) -> None:
        """The child's report pipe closed (exec) or carries its error."""
        self.poller.unregister(report)
        rid, pid, launch = self.execing.pop(report)
        try:
            self.answer((rid, self.cgspawn.end_into(pid, report, launch, for_parent=True), None))
        except Exception as exc:
            self.answer((rid, 0, self.failure(exc)))

    def failure(self, exc: Exception) -> tuple[str, int, str, str | None]:
        if isinstance(exc, self.cgspawn.Unsupported):
            return ("unsupported", 0, str(exc), None)
        if isinstance(exc, OSError):
            name = exc.filename if isinstance(exc.filename, str) else None
            return ("os", exc.errno or 0, exc.strerror or str(exc), name)
        return ("value", 0, str(exc), None)

    def answer(self, reply: tuple[Any, ...]) -> None:
        self.outbox.append(marshal.dumps(reply))
        if len(self.outbox) == 1:
            self.flush()

    def flush(self) -> None:
        """Send the answers the socket takes now; wait for POLLOUT for the rest."""
        while self.outbox:
            try:
                self.sock.send(self.outbox[0], socket.MSG_DONTWAIT)
            except BlockingIOError:
                self.poller.modify(self.sock, select.POLLIN | select.POLLOUT)
                return
            except OSError:
                sys.exit(1)  # the master is gone
            self.outbox.popleft()
        self.poller.modify(self.sock, select.POLLIN)


def make_leaf(path: str) -> None:
    """The run's leaf, made here rather than in the master (as cgtree.make_leaf words it)."""
    try:
        os.mkdir(path)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot create its cgroup {path}: {exc.strerror}") from None


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
