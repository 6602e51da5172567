"""Plain-HTTP probes of IP-literal URLs, run in rounds on one loop timer, without a task, a
future or a selector registration per check.

A hundred instances probed every two seconds is fifty checks a second for as long as the master
runs. Through asyncio each check costs a task, a timeout handle, a future and a reader
registration, and wakes the loop up to three times (tick, connect, answer). Here a check is
started in the tick that asked for it (connect, then the request written at once: on loopback
the handshake is done by the time connect returns) and its answer is looked for at the next
rounds, every `ROUND` seconds while any check is in flight: one wake-up for every check
started or answered meanwhile, and a round with nothing ready costs one failed `recv` a check.

A name, HTTPS or anything that is not this simple case stays on the asyncio path (probes.py).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from collections.abc import Callable

from procsup.core.humanize import format_duration
from procsup.engine.timegrid import aligned_time

log = logging.getLogger(__name__)

ROUND = 0.05  # seconds between looks at the checks in flight
MAX_LINE = 8192  # bytes of answer read at most while looking for the status line

Verdict = Callable[[bool, str], None]


class HttpCheck:
    """One request in flight: connect, write the request, read up to the first line."""

    __slots__ = ("data", "deadline", "done", "request", "sent", "sock", "timeout", "verdict")

    def __init__(
        self, request: bytes, deadline: float, timeout: float, done: Verdict, sock: socket.socket
    ) -> None:
        self.sock = sock
        self.request = request
        self.deadline = deadline
        self.timeout = timeout
        self.done = done
        self.sent = False
        self.data = b""
        self.verdict: tuple[bool, str] | None = None

    def step(self) -> tuple[bool, str] | None:
        """Move on as far as the socket allows; the verdict once there is one (kept: the
        socket's error is told only once)."""
        if self.verdict is None:
            self.verdict = self._advance()
        return self.verdict

    def _advance(self) -> tuple[bool, str] | None:
        try:
            if not self.sent:
                error = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    return False, f"http: {os.strerror(error)}"
                self.sock.send(self.request)  # a fresh socket's buffer takes it whole
                self.sent = True
            while b"\n" not in self.data and len(self.data) < MAX_LINE:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                self.data += chunk
        except (BlockingIOError, InterruptedError):
            return None  # still connecting, or no answer yet
        except OSError as exc:
            return False, f"http: {exc.strerror or exc}"
        return status_verdict(self.data.split(b"\n", 1)[0])


def status_verdict(line: bytes) -> tuple[bool, str]:
    """A 2xx or 3xx status line is ok (redirects are not followed)."""
    fields = line.decode("latin-1").split()
    if len(fields) < 2 or not fields[1].isdigit():
        return False, "http: not an HTTP answer"
    status = int(fields[1])
    return (True, "") if 200 <= status < 400 else (False, f"HTTP {status}")


class HttpRounds:
    """The loop's plain-HTTP checks in flight: `check(...)` starts one and returns a cancel
    function; `done(ok, detail)` is called once, from a round (never from `check` itself)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._flight: dict[int, HttpCheck] = {}  # by id(): a cancel removes its own
        self._timer: asyncio.TimerHandle | None = None

    def check(
        self, family: int, address: tuple[str, int], request: bytes, timeout: float, done: Verdict
    ) -> Callable[[], None]:
        kind = socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
        sock = socket.socket(family, kind)
        check = HttpCheck(request, self._loop.time() + timeout, timeout, done, sock)
        error = sock.connect_ex(address)
        if error in (0, errno.EINPROGRESS):
            check.step()  # the request goes out now when the connection is already up
        else:  # told at the next round, as any other verdict
            check.verdict = False, f"http: {os.strerror(error)}"
        key = id(check)
        self._flight[key] = check
        self._arm()
        return lambda: self._cancel(key)

    def _cancel(self, key: int) -> None:
        check = self._flight.pop(key, None)
        if check is not None:
            check.sock.close()

    def close(self) -> None:
        for key in list(self._flight):
            self._cancel(key)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        if self._timer is None and self._flight:
            when = aligned_time(self._loop.time(), ROUND, ROUND)
            self._timer = self._loop.call_at(when, self._round)

    def _round(self) -> None:
        """Look at every check in flight once; give the verdicts of those that have one."""
        self._timer = None
        now = self._loop.time()
        finished: list[tuple[HttpCheck, tuple[bool, str]]] = []
        for key, check in list(self._flight.items()):
            verdict = check.step()
            if verdict is None and now >= check.deadline:
                verdict = False, f"http: no answer within {format_duration(check.timeout)}"
            if verdict is not None:
                del self._flight[key]
                check.sock.close()
                finished.append((check, verdict))
        self._arm()
        for check, (ok, detail) in finished:
            try:
                check.done(ok, detail)
            except Exception:  # one prober's failure never silences the others
                log.exception("http probe verdict handler failed")
