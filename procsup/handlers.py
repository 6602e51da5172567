"""One async function per control command. Each docstring is the command's help.

Handlers get the master, the request's `args` and the connection (for streaming replies), and
return the result or raise ProtocolError. They translate between the protocol and the engine; no
policy lives here.
"""

from __future__ import annotations

import asyncio
import fnmatch
import signal
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from procsup import protocol
from procsup.config import ConfigError, program_from_dict
from procsup.datatypes import parse_signal
from procsup.instance import Instance
from procsup.logs import Follower, LogChunk, tail_file
from procsup.output import MARK_STREAM, Output
from procsup.protocol import ProtocolError
from procsup.registry import NotFound

if TYPE_CHECKING:
    from procsup.master import Master

Handler = Callable[["Master", dict[str, Any], "Connection"], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}
T = TypeVar("T")
MIN_STATS_INTERVAL = 0.2


class Connection:
    """The client side of one request, as a handler sees it."""

    def __init__(self, writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> None:
        self.writer = writer
        self.reader = reader
        self.req_id: Any = None
        self._eof: asyncio.Task[bytes] | None = None

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_item(self, payload: Any) -> None:
        await self.send(protocol.item(self.req_id, payload))

    async def next_or_leave(self, waiter: Awaitable[T]) -> T:
        """Await `waiter`, or raise ConnectionError as soon as the client goes away."""
        if self._eof is None:
            self._eof = asyncio.ensure_future(self.reader.read(1))
        task = asyncio.ensure_future(waiter)
        await asyncio.wait({task, self._eof}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
            raise ConnectionError("client left")
        return task.result()


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return register


# --- argument helpers -------------------------------------------------------------------------


def _arg(args: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    """args[key] checked against `kind` (bool is never taken for an int)."""
    value = args.get(key)
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise ProtocolError(
            protocol.INVALID, f"args.{key} must be {' or '.join(k.__name__ for k in kinds)}"
        )
    return value


def _names(args: dict[str, Any], required: bool = True) -> list[str]:
    names = _arg(args, "names", list, [])
    if not all(isinstance(n, str) for n in names):
        raise ProtocolError(protocol.INVALID, "args.names must be a list of strings")
    if required and not names:
        raise ProtocolError(
            protocol.INVALID, "name a program, an instance (name:N), a glob, or 'all'"
        )
    return names


def _resolve(master: Master, names: list[str]) -> list[Instance]:
    try:
        return master.registry.resolve(names)
    except NotFound as exc:
        raise ProtocolError(protocol.NOT_FOUND, str(exc)) from None


def _listing(master: Master, insts: list[Instance], stats: bool) -> list[dict[str, Any]]:
    rows = [inst.snapshot() for inst in insts]
    if stats:
        sampled = master.sampler.sample(insts)
        for row in rows:
            cpu, rss = sampled.get(row["name"], (None, None))
            row["cpu"], row["rss"] = cpu, rss
    return rows


# --- commands ---------------------------------------------------------------------------------


@command("hello")
async def hello(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Versions and facts about the master."""
    return master.info()


@command("list")
async def list_(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Every instance (or those named) with state, pid, uptime, restarts, last exit; `stats`
    adds CPU% and RSS of each instance's process tree."""
    names = _names(args, required=False)
    insts = _resolve(master, names) if names else master.registry.instances()
    return {
        "instances": _listing(master, insts, _arg(args, "stats", bool, True)),
        "master": master.info(),
    }


@command("start")
async def start(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Start the named instances (all autostart programs when none are named)."""
    names = _names(args, required=False)
    if names:
        insts = _resolve(master, names)
    else:
        insts = [i for i in master.registry.instances() if i.config.autostart]
    await master.registry.start(insts)
    if _arg(args, "wait", bool, False):
        await _settle(insts)
    return {"instances": [i.snapshot() for i in insts]}


async def _settle(insts: list[Instance]) -> None:
    """Wait until each instance has left STARTING (RUNNING, or failed into BACKOFF/FATAL)."""
    await asyncio.gather(*(i.wait_running(i.config.start_seconds + 5) for i in insts))


@command("stop")
async def stop(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Stop the named instances and their whole process trees; cancels pending retries."""
    insts = _resolve(master, _names(args))
    await master.registry.stop(insts)
    return {"instances": [i.snapshot() for i in insts]}


@command("restart")
async def restart(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Restart the named instances; `rolling` restarts one at a time, waiting for RUNNING."""
    insts = _resolve(master, _names(args))
    failed = await master.registry.restart(insts, _arg(args, "rolling", bool, False))
    if _arg(args, "wait", bool, False):
        await _settle(insts)
    if failed:
        raise ProtocolError(
            protocol.FAILED, f"rolling restart halted: {failed[0]} did not reach RUNNING"
        )
    return {"instances": [i.snapshot() for i in insts]}


@command("signal")
async def signal_(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Send a signal (name or number) to the named instances' process trees."""
    try:
        sig = parse_signal(args.get("signal"))
    except ValueError as exc:
        raise ProtocolError(protocol.INVALID, f"args.signal: {exc}") from None
    insts = _resolve(master, _names(args))
    sent = [i.name for i in insts if i.kill(sig)]
    if not sent:
        raise ProtocolError(protocol.FAILED, "none of the named instances is running")
    return {"signal": signal.Signals(sig).name, "sent": sent}


@command("scale")
async def scale(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Change a program's number of instances at run time."""
    name = _arg(args, "program", str, None)
    n = _arg(args, "numprocs", int, None)
    if name is None or n is None or not 0 <= n <= 10000:
        raise ProtocolError(protocol.INVALID, "scale needs args.program and args.numprocs 0..10000")
    try:
        prog = await master.registry.scale(name, n)
    except NotFound as exc:
        raise ProtocolError(protocol.NOT_FOUND, str(exc)) from None
    master.check_fd_need()  # more instances may need more descriptors than the limit allows
    return {"program": name, "numprocs": prog.numprocs}


@command("add")
async def add(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Add and start an ad-hoc program: args.name plus program keys as in the config file."""
    name = _arg(args, "name", str, None)
    raw = _arg(args, "program", dict, None)
    if not name or raw is None:
        raise ProtocolError(protocol.INVALID, "add needs args.name and args.program")
    cfg = master.config
    try:
        prog_cfg = program_from_dict(name, raw, cfg.path.parent, cfg.master.log_dir)
        prog = await master.registry.add_adhoc(prog_cfg)
    except ConfigError as exc:
        raise ProtocolError(
            protocol.CONFIG_ERROR, str(exc).splitlines()[0], [str(i) for i in exc.issues]
        ) from None
    except ValueError as exc:
        raise ProtocolError(protocol.INVALID, str(exc)) from None
    master.check_fd_need()
    return {"instances": [i.snapshot() for i in prog]}


@command("remove")
async def remove(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Stop a program and forget it until the next reload (ad-hoc programs: for good)."""
    name = _arg(args, "program", str, None)
    if not name:
        raise ProtocolError(protocol.INVALID, "remove needs args.program")
    try:
        await master.registry.remove(name)
    except NotFound as exc:
        raise ProtocolError(protocol.NOT_FOUND, str(exc)) from None
    return {"removed": name}


@command("reload")
async def reload(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Re-read the config file and apply the difference; a bad config changes nothing."""
    try:
        return await master.reload()
    except ConfigError as exc:
        raise ProtocolError(
            protocol.CONFIG_ERROR,
            f"config rejected, nothing changed: {len(exc.issues)} error(s)",
            [str(i) for i in exc.issues],
        ) from None


@command("shutdown")
async def shutdown(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Stop every program and exit the master."""
    master.request_shutdown()
    return {"pid": master.info()["pid"]}


@command("save")
async def save(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Write the running set (ad-hoc programs, numprocs) back into the config file."""
    from procsup.save import save_config

    try:
        not_saved = save_config(master.config.path, master.registry)
    except OSError as exc:
        raise ProtocolError(protocol.FAILED, f"cannot write {master.config.path}: {exc}") from None
    return {"path": str(master.config.path), "not_saved": not_saved}


@command("logs")
async def logs(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """Recent output of the named instances (all when none), stdout and stderr interleaved in
    arrival order; `follow` streams new lines until the client leaves."""
    sources = _log_sources(master, _names(args, required=False))
    streams = _streams(_arg(args, "stream", str, None))
    since = _arg(args, "since", (int, float), None)
    count = _arg(args, "lines", int, 20)
    if not _arg(args, "follow", bool, False):
        return {"lines": _backlog(sources, count, streams, since)}
    follower = Follower()
    for out in sources:  # subscribe before reading the backlog: no line falls in between
        out.ring.follow(follower)
    try:
        for line in _backlog(sources, count, streams, since):
            await conn.send_item(line)
        await _follow(follower, streams, conn)
    finally:
        for out in sources:
            out.ring.unfollow(follower)
    return None


def _log_sources(master: Master, names: list[str]) -> list[Output]:
    """The outputs of the named instances and tasks (every one when none is named)."""
    tasks = master.scheduler.tasks
    if not names:
        return [i.output for i in master.registry.instances()] + [t.output for t in tasks.values()]
    found: dict[str, Output] = {}
    for name in names:
        matched = [t for t in tasks if name in (t, "all") or fnmatch.fnmatchcase(t, name)]
        found.update((t, tasks[t].output) for t in matched)
        try:
            found.update((i.name, i.output) for i in master.registry.resolve([name]))
        except NotFound:
            if not matched:
                raise ProtocolError(
                    protocol.NOT_FOUND,
                    f"no program, instance or task matches {name!r} "
                    "(see `procsup list` and `procsup tasks`)",
                ) from None
    return list(found.values())


def _streams(stream: str | None) -> set[str]:
    if stream is None:  # both streams, and procsup's marked lines about exits between them
        return {"stdout", "stderr", MARK_STREAM}
    if stream not in ("stdout", "stderr"):
        raise ProtocolError(protocol.INVALID, "args.stream must be 'stdout' or 'stderr'")
    return {stream}


def _line_items(name: str, chunk: LogChunk) -> list[dict[str, Any]]:
    return [
        {"name": name, "stream": chunk.stream, "time": chunk.time, "line": line}
        for line in chunk.lines()
    ]


def _backlog(
    sources: list[Output], n: int, streams: set[str], since: float | None
) -> list[dict[str, Any]]:
    cutoff = time.time() - since if since is not None else None
    items: list[dict[str, Any]] = []
    for out in sources:
        chunks = out.ring.chunks()
        if not chunks:  # nothing since this master started: fall back to the files
            for stream, path in out.paths().items():
                chunks.extend(tail_file(path, stream, n))
        for chunk in chunks:
            if chunk.stream in streams and (cutoff is None or chunk.time >= cutoff):
                items.extend(_line_items(out.ring.name, chunk))
    items.sort(key=lambda it: it["time"])  # stable: keeps each chunk's lines in order
    return items[-n:] if n > 0 else items


async def _follow(follower: Follower, streams: set[str], conn: Connection) -> None:
    while not follower.dropped or not follower.queue.empty():
        name, chunk = await conn.next_or_leave(follower.queue.get())
        if chunk.stream in streams:
            for line in _line_items(name, chunk):
                await conn.send_item(line)
    await conn.send_item({"notice": "output too fast for this client; lines dropped"})


@command("events")
async def events(master: Master, args: dict[str, Any], conn: Connection) -> Any:
    """A snapshot of every instance, then every event as it happens, until the client leaves;
    `stats_interval` adds a `stats` item (CPU%/RSS of every running instance) that often."""
    interval = _arg(args, "stats_interval", (int, float), None)
    if interval is not None and interval < MIN_STATS_INTERVAL:
        raise ProtocolError(
            protocol.INVALID, f"args.stats_interval must be at least {MIN_STATS_INTERVAL} s"
        )
    sub = master.events.subscribe()  # subscribed before the snapshot: no event slips between
    loop = asyncio.get_running_loop()
    try:
        snapshot = {
            "type": "snapshot",
            "instances": _listing(
                master, master.registry.instances(), _arg(args, "stats", bool, False)
            ),
            "tasks": master.scheduler.rows(),
            "master": master.info(),
        }
        await conn.send_item(snapshot)
        next_stats = loop.time() + (interval or 0)
        while not sub.dropped or not sub.queue.empty():
            wait = None if interval is None else max(0.0, next_stats - loop.time())
            try:
                event = await conn.next_or_leave(asyncio.wait_for(sub.queue.get(), wait))
            except TimeoutError:
                await conn.send_item(_stats_item(master))
                next_stats = loop.time() + (interval or 0)
                continue
            await conn.send_item(event.to_json())
        await conn.send_item({"type": "dropped", "message": "client too slow; resubscribe"})
    finally:
        master.events.unsubscribe(sub)
    return None


def _stats_item(master: Master) -> dict[str, Any]:
    running = [i for i in master.registry.instances() if i.pid is not None]
    sampled = master.sampler.sample(running)
    return {
        "type": "stats",
        "time": time.time(),
        "instances": {name: {"cpu": cpu, "rss": rss} for name, (cpu, rss) in sampled.items()},
    }
