"""One async function per control command (the program and instance commands here; the
table of them all is table.py). Each docstring is the command's help.

Handlers get the master's view (view.MasterView), the request's `args` and the connection (for
streaming replies), and return the result or raise ProtocolError. They translate between the
protocol and the engine; no policy lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
from collections.abc import Awaitable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from procsup.config.load import ConfigError, program_from_dict
from procsup.control import protocol
from procsup.control.handlers.args import arg, names, number
from procsup.control.protocol import MAX_LINE, ProtocolError
from procsup.control.rowjson import list_reply
from procsup.core.schema import StatsItem
from procsup.core.states import State
from procsup.core.values import parse_signal
from procsup.engine import memtrim
from procsup.engine.names import NotFound

if TYPE_CHECKING:
    from procsup.control.handlers.view import MasterView
    from procsup.engine.instance import Instance

T = TypeVar("T")
MIN_STATS_INTERVAL = 0.2
WRITE_HIGH = 64 * 1024  # a connection's outbound buffer: writing pauses above this
STREAM_WRITE_HIGH = 8 * 1024  # … and a stream's (logs -f, events): many may be stuck at once
REPLY_TIMEOUT = 30.0
MAX_STATS_INTERVAL = 86400.0


class Connection:
    """The client side of one request, as a handler sees it.

    Outbound data is bounded: the transport pauses writing at WRITE_HIGH bytes, and a writer
    waits for the client to read before it writes more. A reply the client leaves unread for
    REPLY_TIMEOUT seconds ends the connection; streams wait for as long as the client is
    connected, because their producers skip or drop instead of queueing (see handlers/logs.py).
    """

    def __init__(self, writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> None:
        self.writer = writer
        self.reader = reader
        self.req_id: Any = None
        self._eof: asyncio.Task[bytes] | None = None
        self.pending = b""  # a byte the watch for the client leaving read from the next request

    async def send(self, data: bytes, timeout: float | None = REPLY_TIMEOUT) -> None:
        self.writer.write(data)
        if timeout is None or self.writer.transport.get_write_buffer_size() <= WRITE_HIGH:
            await self.writer.drain()  # returns at once unless writing is paused
            return
        try:
            await asyncio.wait_for(self.writer.drain(), timeout)
        except TimeoutError:
            self.writer.transport.abort()
            raise ConnectionError(f"client read no reply for {timeout:g}s") from None

    async def send_item(self, payload: Any) -> None:
        await self.send(protocol.item(self.req_id, payload), timeout=None)

    async def next_or_leave(self, waiter: Awaitable[T]) -> T:
        """Await `waiter`, or raise ConnectionError as soon as the client goes away."""
        if self._eof is None:
            self._eof = asyncio.ensure_future(self.reader.read(1))
        task = asyncio.ensure_future(waiter)
        await asyncio.wait({task, self._eof}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            data = self._eof.result() if self._eof.exception() is None else b""
            self._eof = None
            if not data or len(self.pending) >= MAX_LINE:
                task.cancel()
                raise ConnectionError("client left")
            # Not gone: it sent its next request already. Keep that byte for the read loop.
            self.pending += data
            return await task
        return task.result()

    def end_request(self) -> None:
        """Stop watching for the client leaving (next_or_leave) once a request is done, so the
        read loop is the only reader again: a watch still waiting is cancelled (it has read
        nothing), one that read the first byte of a next request hands it to `pending`, and
        one that failed (the client reset the connection) has its error collected, never
        logged as "exception was never retrieved"."""
        eof, self._eof = self._eof, None
        if eof is None:
            return
        if not eof.done():
            eof.cancel()
        elif not eof.cancelled() and eof.exception() is None:
            self.pending += eof.result()


def resolve(view: MasterView, names: list[str]) -> list[Instance]:
    try:
        return view.resolve(names)
    except NotFound as exc:
        raise ProtocolError(protocol.NOT_FOUND, str(exc)) from None


# --- commands ---------------------------------------------------------------------------------


async def hello(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Versions and facts about the master."""
    return view.info()


async def list_(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Every instance (or those named) with state, pid, uptime, restarts, last exit; `stats`
    adds CPU% and RSS of each instance's process tree; `columns` sends the keys once and each
    row's values (control/rowjson.py)."""
    wanted = names(args, required=False)
    insts = resolve(view, wanted) if wanted else view.instances()
    columns = arg(args, "columns", bool, False)
    with _no_collections():
        rows = view.rows(insts, arg(args, "stats", bool, True))
        return list_reply(rows, view.info(), columns)


@contextlib.contextmanager
def _no_collections() -> Iterator[None]:
    """No garbage collection while `list` builds its rows (nothing awaits meanwhile). The rows
    hold no reference cycles, but their thousands of dicts set off young collections, and every
    few dozen calls a full one that walks every object of the master: ~160 ms at 2,000
    instances, measured, on the call that happened to trigger it. They are freed by reference
    counting once the reply is written."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


async def start(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Start the named instances (all autostart programs when none are named)."""
    wanted = names(args, required=False)
    autostart = [i for i in view.instances() if i.config.autostart]
    insts = resolve(view, wanted) if wanted else autostart
    singletons = sorted({i.config.name for i in insts if i.config.singleton})
    if singletons:  # a singleton stopped everywhere may run again, on whichever master
        await view.park_singletons(singletons, False)
    await view.start(insts)
    if arg(args, "wait", bool, False):
        await _settle(insts)
    return {"instances": view.rows(insts)}


async def _settle(insts: list[Instance]) -> None:
    """Wait until each instance has left STARTING (RUNNING, or failed into BACKOFF/FATAL).
    One held back by `depends_on` is waited for too once the others release it (it is
    STARTING then); one whose dependency stays unmet is reported as waiting."""
    waited: set[Instance] = set()  # each one once: a crash loop's next try is not waited for
    pending = insts
    while pending:
        waited.update(i for i in pending if i.state == State.STARTING)
        await asyncio.gather(*(i.wait_running(i.start_timeout() + 5) for i in pending))
        pending = [i for i in insts if i.state == State.STARTING and i not in waited]


async def restart(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Restart the named instances; `rolling` restarts one at a time, waiting for RUNNING."""
    insts = resolve(view, names(args))
    failed = await view.restart(insts, arg(args, "rolling", bool, False))
    if arg(args, "wait", bool, False):
        await _settle(insts)
    if failed:
        raise ProtocolError(
            protocol.FAILED, f"rolling restart halted: {failed[0]} did not reach RUNNING"
        )
    return {"instances": view.rows(insts)}


async def signal_(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Send a signal (name or number) to the named instances' process trees."""
    try:
        sig = parse_signal(args.get("signal"))
    except ValueError as exc:
        raise ProtocolError(protocol.INVALID, f"args.signal: {exc}") from None
    insts = resolve(view, names(args))
    sent = [i.name for i in insts if i.kill(sig)]
    if not sent:
        raise ProtocolError(protocol.FAILED, "none of the named instances is running")
    return {"signal": signal.Signals(sig).name, "sent": sent}


async def scale(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Change a program's number of instances at run time."""
    name = arg(args, "program", str, None)
    n = number(args, "numprocs", None, 0, 10000, integer=True)
    if name is None or n is None:
        raise ProtocolError(protocol.INVALID, "scale needs args.program and args.numprocs 0..10000")
    try:
        prog = await view.scale(name, n)
    except NotFound as exc:
        raise ProtocolError(protocol.NOT_FOUND, str(exc)) from None
    return {"program": name, "numprocs": prog.numprocs}


async def add(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Add and start an ad-hoc program: args.name plus program keys as in the config file."""
    name = arg(args, "name", str, None)
    raw = arg(args, "program", dict, None)
    if not name or raw is None:
        raise ProtocolError(protocol.INVALID, "add needs args.name and args.program")
    cfg = view.config
    try:
        prog_cfg = program_from_dict(name, raw, cfg.path.parent, cfg.master.log_dir)
        prog = await view.add(prog_cfg)
    except ConfigError as exc:
        raise ProtocolError(
            protocol.CONFIG_ERROR, str(exc).splitlines()[0], [str(i) for i in exc.issues]
        ) from None
    except ValueError as exc:
        raise ProtocolError(protocol.INVALID, str(exc)) from None
    if arg(args, "wait", bool, False):
        await _settle(list(prog))
    return {"instances": view.rows(list(prog))}


async def remove(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Stop a program and forget it until the next reload (ad-hoc programs: for good)."""
    name = arg(args, "program", str, None)
    if not name:
        raise ProtocolError(protocol.INVALID, "remove needs args.program")
    try:
        await view.remove(name)
    except NotFound as exc:
        raise ProtocolError(protocol.NOT_FOUND, str(exc)) from None
    return {"removed": name}


async def shutdown(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Stop every program and exit the master."""
    view.request_shutdown()
    return {"pid": view.info()["pid"]}


async def save(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Write the running set (ad-hoc programs, numprocs) back into the config file."""
    path = view.config.path
    try:
        not_saved = view.save()
    except OSError as exc:
        raise ProtocolError(protocol.FAILED, f"cannot write {path}: {exc}") from None
    return {"path": str(path), "not_saved": not_saved}


async def events(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """A snapshot of every instance, then every event as it happens, until the client leaves;
    `stats_interval` adds a `stats` item (CPU%/RSS of every running instance) that often."""
    interval = number(args, "stats_interval", None, MIN_STATS_INTERVAL, MAX_STATS_INTERVAL)
    sub = view.events.subscribe()  # subscribed before the snapshot: no event slips between
    loop = asyncio.get_running_loop()
    conn.writer.transport.set_write_buffer_limits(high=STREAM_WRITE_HIGH)
    try:
        snapshot = {
            "type": "snapshot",
            "instances": view.rows(view.instances(), arg(args, "stats", bool, False)),
            "tasks": view.task_rows(),
            "master": view.info(),
        }
        await conn.send_item(snapshot)
        next_stats = loop.time() + (interval or 0)
        while not sub.dropped or not sub.queue.empty():
            wait = None if interval is None else max(0.0, next_stats - loop.time())
            try:
                event = await conn.next_or_leave(asyncio.wait_for(sub.queue.get(), wait))
            except TimeoutError:
                await conn.send_item(_stats_item(view))
                next_stats = loop.time() + (interval or 0)
                continue
            await conn.send_item(event.to_json())
        await conn.send_item({"type": "dropped", "message": "client too slow; resubscribe"})
    finally:
        view.events.unsubscribe(sub)
        memtrim.soon()
    return None


async def stats(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """CPU% and RSS of the named instances that have a process (every one when `names` is
    left out); a name of no instance is skipped. Only the named are sampled: a dashboard asks
    for the rows on its screen, which costs the master far less than sampling every instance."""
    insts = view.instances()
    if "names" in args:
        wanted = set(names(args, required=False))
        insts = [i for i in insts if i.name in wanted]
    sample = _stats_item(view, insts)
    return {"time": sample["time"], "instances": sample["instances"]}


def _stats_item(view: MasterView, insts: list[Instance] | None = None) -> StatsItem:
    running = [i for i in (view.instances() if insts is None else insts) if i.pid is not None]
    sampled = view.stats(running)
    return {
        "type": "stats",
        "time": time.time(),
        "instances": {name: {"cpu": cpu, "rss": rss} for name, (cpu, rss) in sampled.items()},
    }
