"""The keeper of a run under a Redis lease: a dead man's switch between the master and the run.

The master renews the lease; after each renewal it tells the keeper until when the run may live
(a little before the lease could expire). The keeper stops the run's whole tree before that
instant, whatever happened to the master: killed with `kill -9`, hung, or cut off from Redis.
If the master goes away, the keeper stops the run at once. So a run never outlives its lease.

It runs as `python -I -S keeper.py CTRL_FD STOP_SIGNAL GRACE KILL_BY -- ARGV…` and imports only
the stdlib, so it starts in a few milliseconds. It is the session leader, the run is its child in
the same process group, and it is a child subreaper, so daemons the run leaves behind are its
children too and die with the run. KILL_BY is a CLOCK_MONOTONIC instant (one clock for the whole
host); 0 means no deadline.

Lines on the control socket. Master → keeper: `D <kill_by>`, a new deadline. Keeper → master:
`E <message>` the run could not start, `L` the deadline passed and the run is being stopped,
`X <code>` the run and every process it left behind are gone (code < 0: killed by that signal).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
IGNORED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
#: signals the run gets back at their defaults (Python ignores SIGPIPE and SIGXFSZ at startup)
RESET = (*IGNORED, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD)
LEFTOVER_GRACE = 2.0  # how long processes the run left behind get before SIGKILL


class Keeper:
    def __init__(self, ctrl: int, stop_signal: int, grace: float, kill_by: float | None) -> None:
        self.ctrl: int | None = ctrl
        os.set_inheritable(ctrl, False)  # the link is the keeper's, not the run's
        self._partial = b""
        self.stop_signal = stop_signal
        self.grace = grace
        self.kill_by = kill_by
        self.pid = 0
        self.code: int | None = None
        self.kill_at: float | None = None  # set once the run is being stopped
        self.killed = False
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wake = wake_r
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so SIGCHLD wakes the poll
        for sig in {*IGNORED, stop_signal} - {signal.SIGKILL, signal.SIGSTOP}:
            signal.signal(sig, signal.SIG_IGN)  # the group's stop signal is for the run

    def send(self, line: str) -> None:
        if self.ctrl is not None:
            with contextlib.suppress(OSError):
                os.write(self.ctrl, line.encode() + b"\n")

    def start(self, argv: list[str]) -> bool:
        try:
            reset = {*RESET, self.stop_signal} - {signal.SIGKILL, signal.SIGSTOP}
            self.pid = os.posix_spawnp(argv[0], argv, os.environ, setsigdef=reset)
        except OSError as exc:
            self.send(f"E {exc.strerror or exc}: {argv[0]}")
            return False
        return True

    def run(self) -> int:
        """Wait for the run, enforcing the deadline; then clean up what it left behind."""
        poller = select.poll()
        poller.register(self.wake, select.POLLIN)
        if self.ctrl is not None:
            poller.register(self.ctrl, select.POLLIN)
        while self.code is None:
            self._act_on_deadlines()
            for fd, _ in poller.poll(self._timeout_ms()):
                if fd == self.wake:
                    _drain(self.wake)
                elif fd == self.ctrl and not self._read_ctrl():
                    poller.unregister(fd)
                    self.ctrl = None
                    self._begin_stop()  # the master is gone: nobody renews the lease
            self._reap()
        self._stop_leftovers()
        self.send(f"X {self.code}")
        return self.code if self.code >= 0 else 128 - self.code

    def _read_ctrl(self) -> bool:
        assert self.ctrl is not None
        try:
            data = os.read(self.ctrl, 4096)
        except OSError:
            return False
        *lines, self._partial = (self._partial + data).split(b"\n")
        for raw in lines:
            line = raw.decode(errors="replace")
            if line.startswith("D "):
                with contextlib.suppress(ValueError):
                    deadline = float(line[2:])
                    self.kill_by = deadline or None
        return bool(data)

    def _act_on_deadlines(self) -> None:
        now = time.monotonic()
        if self.kill_at is None and self.kill_by is not None and now >= self.kill_by - self.grace:
            self.send("L")
            self._begin_stop()
        if self.kill_at is not None and not self.killed and now >= self.kill_at:
            self.killed = True
            self._signal_tree(signal.SIGKILL)

    def _begin_stop(self) -> None:
        if self.kill_at is not None:
            return
        now = time.monotonic()
        self.kill_at = now + self.grace
        if self.kill_by is not None:
            self.kill_at = min(self.kill_at, max(now, self.kill_by))
        self._signal_tree(self.stop_signal)
        self._signal_tree(signal.SIGCONT)

    def _timeout_ms(self) -> int:
        now = time.monotonic()
        if self.kill_at is not None:
            next_at = None if self.killed else self.kill_at
        elif self.kill_by is not None:
            next_at = self.kill_by - self.grace
        else:
            next_at = None
        if next_at is None:
            return -1
        return max(0, int((next_at - now) * 1000) + 1)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid:
                self.code = os.waitstatus_to_exitcode(status)

    def _signal_tree(self, sig: int) -> None:
        """Every descendant gets the signal once. The group is signalled as a whole (the keeper
        ignores the stop signal), except SIGKILL: the keeper must live on to reap the tree
        and report, so that one goes to each descendant by pid."""
        group = os.getpgid(0)
        if sig != signal.SIGKILL:
            with contextlib.suppress(OSError):
                os.killpg(group, sig)
        for pid in _descendants(os.getpid()):
            with contextlib.suppress(OSError):
                if sig == signal.SIGKILL or os.getpgid(pid) != group:
                    os.kill(pid, sig)

    def _stop_leftovers(self) -> None:
        """The lock lives as long as the run's last process: wait for every one to be gone."""
        if not _descendants(os.getpid()):
            return
        self._signal_tree(self.stop_signal)
        self._signal_tree(signal.SIGCONT)
        deadline = time.monotonic() + LEFTOVER_GRACE
        if self.kill_at is not None:  # a stop under way keeps its deadline
            deadline = min(deadline, self.kill_at)
        if self.kill_by is not None:  # and nothing outlives the lease
            deadline = min(deadline, self.kill_by)
        while _descendants(os.getpid()):
            if time.monotonic() >= deadline:
                self._signal_tree(signal.SIGKILL)
                deadline = float("inf")
            select.select([self.wake], [], [], 0.05)
            _drain(self.wake)
            self._reap()
        self._reap()


def _descendants(root: int) -> list[int]:
    """Every live process below `root`, from /proc/PID/task/TID/children."""
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except (OSError, ValueError):
                continue
            for kid in kids:
                if not _is_zombie(kid):
                    found.append(kid)
                todo.append(kid)
    return found


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return True
    return data[data.rfind(b")") + 2 : data.rfind(b")") + 3] == b"Z"


def _drain(fd: int) -> None:
    with contextlib.suppress(BlockingIOError, OSError):
        while os.read(fd, 4096):
            pass


def _become_subreaper() -> None:
    import ctypes

    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def main(argv: list[str]) -> int:
    ctrl, stop_signal, grace, kill_by = int(argv[1]), int(argv[2]), float(argv[3]), float(argv[4])
    command = argv[6:]
    _become_subreaper()
    keeper = Keeper(ctrl, stop_signal, grace, kill_by or None)
    if not keeper.start(command):
        return 127
    return keeper.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
