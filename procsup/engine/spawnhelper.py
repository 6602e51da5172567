"""The master's side of the spawn helper: a small process that clones children into their cgroup
leaves on the master's behalf (the helper's own side is spawnhelper_main.py).

Why: a child cloned by the master itself is a real fork of the master, and the kernel copies the
master's page tables at clone and write-protects them until the child execs. With 2,000 instances
(~55 MiB) that cost ~1 ms of clone and ~600 page faults afterwards for every spawn, most of the
start-up (issue 14). The helper is a fresh interpreter that imports next to nothing (~10 MiB), so
its clones are cheap, and it clones with CLONE_PARENT: the child's parent is the master, as
before (waitpid, SIGCHLD, the reaper, the subreaper are unchanged). The master sends what the
child needs (argv, environment, exec paths, cwd, ids, signals to leave ignored, the numbers of
the passed descriptors) with the descriptors themselves (the cgroup leaf, the output pipes, the
passed ones) over a socketpair; the helper answers with the pid and the child's exec report, the
same `stage:errno` text as the master's own clone path, so errors read the same.

One request at a time, answered before the master goes on: the reaper only runs in a loop
callback, so a child cannot be reaped before its watcher is in place. If the helper is gone
(killed, crashed) or does not answer within TIMEOUT, whatever the half-served request left in
its fresh leaf is killed, the loss is logged and a new helper is started for the retry; if that
fails too, the master clones its children itself for the rest of its life (logged).
"""

from __future__ import annotations

import array
import contextlib
import logging
import marshal
import os
import signal
import socket
import subprocess
import sys
from typing import Any

log = logging.getLogger(__name__)

TIMEOUT = 10.0  # a child that has not exec'd by then is stuck before exec (e.g. a hung cwd)
MAX_MESSAGE = 60_000  # bytes of a request (the helper's receive buffer is 64 KiB)
MAX_FDS = 60  # descriptors per request (the helper's ancillary buffer)
#: started with -I -S: no site, no PYTHON* variables, and not the master's current folder on
#: sys.path (a `socket.py` there would run as root); imports only the stdlib and procsup.engine
BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from procsup.engine.spawnhelper_main import main; main(int(sys.argv[2]), int(sys.argv[3]))"
)
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Gone(Exception):
    """The helper closed its end or answered nonsense."""


class SpawnHelper:
    """One helper process at a time, started on first use and again after it is lost.

    A spawn is a request (`submit`) and its answer (`collect`): one after the other for a
    lone spawn (`spawn`), or up to PIPELINE requests ahead when many instances start at once
    (spawnbatch.py), so that their children exec side by side. Answers carry their request's
    id; those read on the way to another are kept until collected."""

    def __init__(self) -> None:
        self.pid = 0
        self._sock: socket.socket | None = None
        self._pidfd = -1
        self._popen: subprocess.Popen[bytes] | None = None
        self._disabled = False
        self._next = 0
        self._generation = 0  # which helper a request went to
        self._answers: dict[int, tuple[int, bytes]] = {}

    @property
    def running(self) -> bool:
        return self._sock is not None

    def launch(self) -> None:
        """Start a helper (a child of the master, in its own session so that a Ctrl-C on the
        master's terminal does not reach it). Raises OSError."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            fd = theirs.fileno()
            argv = [sys.executable, "-I", "-S", "-c", BOOT, PACKAGE_ROOT, str(fd), str(os.getpid())]
            # Popen, not os.posix_spawn: glibc's posix_spawn leaves its internal signals (32,
            # 33) ignored in the new program, and the helper's children would inherit that
            self._popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(fd,),
                start_new_session=True,
                # every symbol bound at start-up: with lazy binding, each child's first call of
                # setsid, dup2, chdir, close_range... went through ld.so and wrote the GOT, copied
                # pages and ~15 page faults of ld.so's code in every child (issue 14)
                env={"LD_BIND_NOW": "1"},
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.pid = self._popen.pid
        self._pidfd = os.pidfd_open(self.pid)
        ours.settimeout(TIMEOUT)
        self._sock = ours
        self._generation += 1
        log.info("spawn helper started (pid %d)", self.pid)

    def spawn(self, body: tuple[Any, ...], fds: list[int], leaf: str) -> tuple[int, bytes] | None:
        """Have the helper clone one child into the leaf `leaf`: (pid, exec report), or
        (-errno, b"") when clone3 failed there; None when the helper cannot serve (the caller
        clones the child itself)."""
        ticket = self.submit(body, fds)
        return None if ticket is None else self.collect(ticket, leaf)

    def submit(self, body: tuple[Any, ...], fds: list[int]) -> tuple[int, int] | None:
        """Send one request; its ticket for `collect`, or None when the helper cannot serve.
        A helper found gone is started again once."""
        self._next += 1
        request = marshal.dumps((self._next, *body))
        if self._disabled or len(request) > MAX_MESSAGE or len(fds) > MAX_FDS:
            return None
        for _ in range(2):
            if self._sock is None:
                try:
                    self.launch()
                except OSError as exc:
                    self._give_up(f"cannot start it: {exc}")
                    return None
            try:
                assert self._sock is not None
                self._sock.sendmsg(
                    [request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
                )
                return self._generation, self._next
            except OSError as exc:  # not delivered: nothing was started
                self._lost(exc)
        self._give_up("lost twice in a row")
        return None

    def collect(self, ticket: tuple[int, int], leaf: str) -> tuple[int, bytes] | None:
        """The answer to a submitted request, or None when the helper was lost before it
        answered; what the request may have started in its leaf is killed then, so that the
        caller's retry cannot make a second child."""
        generation, ident = ticket
        try:
            while ident not in self._answers:
                if self._sock is None or generation != self._generation:
                    _clear(leaf)  # its helper was lost already (and logged)
                    return None
                got, pid, report = _parse(self._sock.recv(4096))
                self._answers[got] = (pid, report)
            return self._answers.pop(ident)
        except (OSError, Gone, ValueError, EOFError, TypeError) as exc:
            self._lost(exc)
            _clear(leaf)
            return None

    def _lost(self, exc: BaseException) -> None:
        """The helper died or hangs: end it (requests still out are lost with it)."""
        if self._sock is not None:
            why = "no answer" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            log.warning("spawn helper (pid %d) is gone (%s); starting a new one", self.pid, why)
        self.close()

    def _give_up(self, why: str) -> None:
        log.warning(
            "spawn helper %s: the master clones its children itself from now on (slower)", why
        )
        self._disabled = True
        self.close()

    def close(self) -> None:
        """End the helper and reap it (through its pidfd: its pid may be reused by now, if the
        reaper already collected it)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._answers.clear()
        if self._pidfd >= 0:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitid(os.P_PIDFD, self._pidfd, os.WEXITED)
            os.close(self._pidfd)
            self._pidfd = -1
        if self._popen is not None:
            self._popen.returncode = -signal.SIGKILL  # reaped: Popen must never wait on it
            self._popen = None


def _parse(reply: bytes) -> tuple[int, int, bytes]:
    if not reply:
        raise Gone("it closed its socket")
    answer: Any = marshal.loads(reply)
    ident, pid, report = answer
    if not all(isinstance(x, int) for x in (ident, pid)) or not isinstance(report, bytes):
        raise Gone(f"unexpected answer {answer!r}")
    return ident, pid, report


def _clear(leaf: str) -> None:
    """Kill what a lost request may have started in its fresh leaf (nothing else can be there).
    Not with cgroup.kill: the kernel kills every later clone into a cgroup that was once
    killed (seen on 6.18), which the retry is."""
    # imported here: the helper process imports this module (through cgspawn), and cgroups
    # would bring hashlib and OpenSSL into it: 16 more mappings and ~0.6 MiB more memory for
    # every clone to copy (issue 14)
    from procsup.engine.cgroups import Cgroup

    cgroup = Cgroup(leaf)
    if cgroup.populated():
        cgroup.kill_each()


_current: SpawnHelper | None = None


def current() -> SpawnHelper | None:
    """The master's helper, when it has one (cgroup tracking), else None."""
    return _current


def start() -> SpawnHelper:
    """Use a helper for clone3 spawns from now on (the master, under cgroup tracking). Raises
    OSError when it cannot be started (the master then clones children itself)."""
    global _current
    helper = SpawnHelper()
    helper.launch()
    _current = helper
    return helper


def stop() -> None:
    """End the helper (at shutdown, before the master looks for orphans among its children)."""
    global _current
    if _current is not None:
        _current.close()
        _current = None
