"""Liveness and readiness probes for programs that cannot speak sd_notify: exec, http, tcp and
heartbeat_file, each run on the master's loop every `period` (no thread per probe).

An exec probe is a child on the engine's one spawn path (engine/child.py): the instance's
environment, directory and user, its own cgroup leaf, its tree killed after it (SIGKILL at the
timeout). HTTP and TCP are non-blocking sockets on the loop (HTTPS through asyncio's TLS
streams); a plain HTTP check of an IP literal goes to the loop's HttpRounds (httprounds.py, no
task per check), since a hundred of them every two seconds is a cost the master pays for ever;
a host name is resolved and checked on a bare socket here. A Prober
counts consecutive failures and tells the instance when `failures` is reached and when the
check passes again; what that means (replace the run, or mark it not ready) is the instance's
business.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import os
import signal
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from procsup.config.probe import ProbeConfig
from procsup.core.humanize import format_duration
from procsup.engine.child import SPAWN_ERRORS, ChildProc
from procsup.engine.httprounds import status_verdict
from procsup.engine.instenv import INSTANCE_ENV
from procsup.engine.output import Output
from procsup.engine.process import SpawnSpec
from procsup.engine.runtime import Runtime
from procsup.engine.seams import Timer
from procsup.engine.stopping import StopPolicy
from procsup.engine.timegrid import aligned_delay, grid_for

TAIL = 200  # bytes of an exec probe's output kept for the failure detail


class Prober:
    """One probe of one instance. `on_change(ok, detail)` runs when the verdict changes: ok
    after a pass, not ok once `failures` checks in a row failed."""

    def __init__(
        self,
        cfg: ProbeConfig,
        num: int,
        rt: Runtime,
        spec: Callable[[], SpawnSpec],
        output: Output,
        on_change: Callable[[bool, str], None],
    ) -> None:
        self.cfg = cfg
        self.num = num
        self.rt = rt
        self.spec = spec  # the instance's spawn spec (env, directory, user) for exec probes
        self.on_change = on_change
        self.output = output  # the instance's: ChildProc drains it when a probe exits
        self.ok: bool | None = None  # None: no verdict yet in this run
        self.detail = ""
        self._fails = 0
        self._timer: Timer | None = None
        self._task: asyncio.Task[None] | None = None
        self._cancel_check: Callable[[], None] | None = None  # a check in HttpRounds
        self._runs = 0

    def begin(self) -> None:
        """A new run: forget the old verdict, first check after initial_delay."""
        self.end()
        self.ok, self.detail, self._fails = None, "", 0
        self._next(max(self.cfg.initial_delay, 0.05))

    def end(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._cancel_check is not None:
            self._cancel_check()
            self._cancel_check = None

    def _next(self, delay: float) -> None:
        """The next check after `delay`, on the period's grid (timegrid.py): the probes of many
        instances share their wake-ups."""
        clock = self.rt.clock
        delay = aligned_delay(clock.monotonic(), delay, grid_for(self.cfg.period))
        self._timer = clock.call_later(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.cfg.kind == "http" and self._http_in_rounds():
            return
        self._task = self.rt.loop.create_task(self._run())

    def _http_in_rounds(self) -> bool:
        """A plain-HTTP check of an IP literal goes to the loop's HttpRounds (no task)."""
        target = http_target(self.cfg.target.replace("{num}", str(self.num)))
        if target.tls or target.family is None:
            return False
        self._cancel_check = self.rt.http_rounds().check(
            target.family, (target.host, target.port), target.request, self.cfg.timeout, self._done
        )
        return True

    def _done(self, ok: bool, detail: str) -> None:
        self._cancel_check = None
        self._verdict(ok, detail)
        self._next(self.cfg.period)

    async def _run(self) -> None:
        try:
            ok, detail = await self._check()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a probe never takes the master down
            ok, detail = False, f"probe error: {exc}"
        self._task = None
        self._done(ok, detail)

    def _verdict(self, ok: bool, detail: str) -> None:
        self._fails = 0 if ok else self._fails + 1
        if ok and self.ok is not True:
            self.ok, self.detail = True, ""
            self.on_change(True, "")
        elif (
            not ok
            and self._fails >= self.cfg.failures
            and (self.ok, self.detail) != (False, detail)
        ):
            self.ok, self.detail = False, detail
            self.on_change(False, detail)

    async def _check(self) -> tuple[bool, str]:
        kind, target = self.cfg.kind, self.cfg.target.replace("{num}", str(self.num))
        if kind == "heartbeat_file":
            return heartbeat(self._path(target), self.cfg.period)
        if kind == "exec":
            return await self._exec()
        try:
            async with asyncio.timeout(self.cfg.timeout):  # no task of its own, as wait_for's
                if kind == "tcp":
                    return await tcp(target)
                return await http(target)
        except TimeoutError:
            return False, f"{kind}: no answer within {format_duration(self.cfg.timeout)}"
        except OSError as exc:
            return False, f"{kind}: {exc.strerror or exc}"

    def _path(self, target: str) -> str:
        return os.path.join(self.spec().cwd or self.rt.base_dir, target)

    async def _exec(self) -> tuple[bool, str]:
        """Run the command as the instance would run, kill its tree after; exit 0 = ok."""
        base = self.spec()
        self._runs += 1
        spawn_id = f"{base.env.get(INSTANCE_ENV, '')}:probe:{self._runs}"
        env = base.env | {INSTANCE_ENV: spawn_id}
        env.pop("WATCHDOG_USEC", None)  # the instance's watchdog, not the probe's (as systemd)
        spec = SpawnSpec(self.cfg.argv(self.num), env, base.cwd, base.user, merge_stderr=True)
        sink = _Sink()
        try:
            proc = ChildProc.spawn(self.rt, spec, self.output, spawn_id, "probe", leader=False)
        except SPAWN_ERRORS as exc:
            return False, f"exec: cannot start: {exc}"
        done: asyncio.Future[int] = self.rt.loop.create_future()
        proc.watch(lambda code: _settle(done, code))
        sink.read(self.rt.loop, proc.child.stdout_fd)
        kill = StopPolicy(f"probe of {spawn_id}", signal.SIGKILL, 0.0)
        try:
            code = await asyncio.wait_for(asyncio.shield(done), self.cfg.timeout)
        except (TimeoutError, asyncio.CancelledError) as exc:
            await proc.stop(kill, done)
            if proc.cgroup is not None:
                proc.cgroup.remove()
            sink.close(self.rt.loop)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return False, f"exec: no exit within {format_duration(self.cfg.timeout)}"
        await proc.stop_leftovers(kill)
        sink.close(self.rt.loop)
        if code == 0:
            return True, ""
        return False, f"exec: exit {code}" + (f": {sink.last_line()}" if sink.last_line() else "")


def _settle(done: asyncio.Future[int], code: int) -> None:
    if not done.done():
        done.set_result(code)


class _Sink:
    """The output of an exec probe: read as it comes, only its last bytes kept."""

    def __init__(self) -> None:
        self.tail = b""
        self.fd = -1

    def read(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self.fd = fd
        loop.add_reader(fd, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.fd)
            return
        self.tail = (self.tail + data)[-TAIL:]

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.fd >= 0:
            loop.remove_reader(self.fd)
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    def last_line(self) -> str:
        lines = self.tail.decode("utf-8", "replace").strip().splitlines()
        return lines[-1][:120] if lines else ""


def heartbeat(path: str, period: float) -> tuple[bool, str]:
    """The file was touched less than `period` ago."""
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return False, f"heartbeat_file {path} missing"
    if age < period:
        return True, ""
    return False, f"heartbeat_file {format_duration(age)} old"


async def tcp(target: str) -> tuple[bool, str]:
    host, _, port = target.rpartition(":")
    _reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, ""


class HttpTarget(NamedTuple):
    """An http(s) probe URL taken apart once: where to connect and the request to send."""

    host: str
    port: int
    tls: bool
    family: int | None  # of an IP literal; None: a name, resolved at each check
    request: bytes


@functools.lru_cache(maxsize=4096)
def http_target(url: str) -> HttpTarget:
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    try:
        family: int | None = (
            socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
        )
    except ValueError:
        family = None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc.rsplit('@', 1)[-1]}\r\n"
        "Connection: close\r\nUser-Agent: procsup-probe\r\n\r\n"
    ).encode()
    return HttpTarget(host, parts.port or (443 if tls else 80), tls, family, request)


async def http(url: str) -> tuple[bool, str]:
    """GET `url`: a 2xx or 3xx status is ok (redirects are not followed)."""
    target = http_target(url)
    line = await (_tls_status_line(target) if target.tls else _status_line(target))
    return status_verdict(line)


async def _status_line(target: HttpTarget) -> bytes:
    """The first line of the answer, over a bare non-blocking socket."""
    sock = await _connect(target)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_sendall(sock, target.request)
        data = b""
        while b"\n" not in data and len(data) < 8192:
            chunk = await loop.sock_recv(sock, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    return data.split(b"\n", 1)[0]


async def _connect(target: HttpTarget) -> socket.socket:
    """A socket connected to the target; a name is resolved as open_connection would (the
    loop's getaddrinfo) and each of its addresses tried in turn."""
    loop = asyncio.get_running_loop()
    addresses: list[tuple[int, Any]] = [(target.family or 0, (target.host, target.port))]
    if target.family is None:
        infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        addresses = [(info[0], info[4]) for info in infos]
    error: OSError = OSError(f"cannot resolve {target.host}")
    for family, address in addresses:
        kind = socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
        sock = socket.socket(family, kind)
        try:
            await loop.sock_connect(sock, address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
    raise error


async def _tls_status_line(target: HttpTarget) -> bytes:
    reader, writer = await asyncio.open_connection(
        target.host, target.port, ssl=ssl.create_default_context()
    )
    try:
        writer.write(target.request)
        return await reader.readline()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
