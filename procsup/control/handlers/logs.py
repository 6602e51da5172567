"""The `logs` control command: recent output, and following it live (see base.py for the
conventions). Which outputs a request reads and its backlog are the engine's (logquery.py).

A follower never makes the master hold more than FOLLOW_BUDGET bytes of output for it, and all
followers together no more than TOTAL_BUDGET (each one's share shrinks as more follow): when a
client reads slower than programs write, the oldest queued output is skipped and the client is
told how many bytes it missed, as one marked item in the stream. Queued chunks are the ring's
own, shared by reference, so followers of one program hold the same bytes; what is each
follower's own is bounded small: the line being sent and a STREAM_WRITE_HIGH transport buffer.
Following a program (or everything) picks up instances and tasks that appear later, as
`tail -F` picks up new files.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from procsup.control import protocol
from procsup.control.handlers.args import arg, names, number
from procsup.control.handlers.base import STREAM_WRITE_HIGH, Connection
from procsup.control.protocol import ProtocolError
from procsup.engine import memtrim
from procsup.engine.logquery import backlog
from procsup.engine.logs import Follower, LogChunk
from procsup.engine.names import NotFound
from procsup.engine.output import MARK_STREAM, Output

if TYPE_CHECKING:
    from procsup.control.handlers.view import MasterView
    from procsup.engine.events import Event

FOLLOW_BUDGET = 256 * 1024  # bytes of output queued for one follower before it skips ahead
TOTAL_BUDGET = 4 * 1024 * 1024  # … and for all followers together (counted as if not shared)
DEFAULT_LINES = 20
MAX_LINES = 1_000_000
MAX_SINCE = 10 * 365 * 86400.0


class SkippingQueue(asyncio.Queue[tuple[str, LogChunk]]):
    """Output chunks for one follower, bounded by bytes: a new chunk that does not fit pushes
    the oldest ones out, and `skipped` counts their bytes until the follower reads the count."""

    live = 0  # followers streaming now, who share TOTAL_BUDGET

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget
        self.held = 0
        self.skipped = 0

    def share(self) -> int:
        """This follower's budget now: its own, or its share of the total when many follow."""
        return min(self.budget, TOTAL_BUDGET // max(1, SkippingQueue.live))

    def put_nowait(self, item: tuple[str, LogChunk]) -> None:
        size = len(item[1].data)
        budget = self.share()
        while self._queue and self.held + size > budget:  # type: ignore[attr-defined]
            _, old = self._queue.popleft()  # type: ignore[attr-defined]
            self.held -= len(old.data)
            self.skipped += len(old.data)
        self.held += size
        super().put_nowait(item)

    def get_nowait(self) -> tuple[str, LogChunk]:
        item = super().get_nowait()
        self.held -= len(item[1].data)
        return item

    def take_skipped(self) -> int:
        skipped, self.skipped = self.skipped, 0
        return skipped


class SkippingFollower(Follower):
    """A Follower whose queue never fills (so it is never dropped): it skips ahead instead."""

    def __init__(self, budget: int = FOLLOW_BUDGET) -> None:
        super().__init__()
        self.queue = SkippingQueue(budget)


async def logs(view: MasterView, args: dict[str, Any], conn: Connection) -> Any:
    """Recent output of the named instances (all when none), stdout and stderr interleaved in
    arrival order; `follow` streams new lines until the client leaves."""
    wanted = names(args, required=False)
    sources = _log_sources(view, wanted)
    streams = _streams(arg(args, "stream", str, None))
    since = number(args, "since", None, 0, MAX_SINCE)
    count = number(args, "lines", DEFAULT_LINES, -1, MAX_LINES, integer=True)
    if not arg(args, "follow", bool, False):
        return {"lines": backlog(sources, count, streams, since)}
    follower = SkippingFollower()
    followed = {id(out): out for out in sources}
    for out in sources:  # subscribe before reading the backlog: no line falls in between
        out.ring.follow(follower)
    watcher = asyncio.ensure_future(_watch_new_sources(view, wanted, followed, follower))
    conn.writer.transport.set_write_buffer_limits(high=STREAM_WRITE_HIGH)
    SkippingQueue.live += 1
    try:
        for line in backlog(sources, count, streams, since):
            await conn.send_item(line)
        await _follow(follower, streams, conn)
    finally:
        SkippingQueue.live -= 1
        watcher.cancel()
        for out in followed.values():
            out.ring.unfollow(follower)
        memtrim.soon()  # what it held goes back to the system, not only to malloc
    return None


def _log_sources(view: MasterView, wanted: list[str]) -> list[Output]:
    try:
        return view.log_sources(wanted)
    except NotFound as exc:
        raise ProtocolError(protocol.NOT_FOUND, str(exc)) from None


def _streams(stream: str | None) -> set[str]:
    if stream is None:  # both streams, and procsup's marked lines about exits between them
        return {"stdout", "stderr", MARK_STREAM}
    if stream not in ("stdout", "stderr"):
        raise ProtocolError(protocol.INVALID, "args.stream must be 'stdout' or 'stderr'")
    return {stream}


def _iter_lines(chunk: LogChunk) -> Iterator[str]:
    """LogChunk.lines() one at a time, each decoded only when it is sent: a follower blocked on
    a slow client then holds one line, not a decoded copy of the whole chunk."""
    data = chunk.data
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            yield data[start:].decode("utf-8", "replace")
            return
        yield data[start:end].decode("utf-8", "replace")
        start = end + 1


async def _follow(follower: Follower, streams: set[str], conn: Connection) -> None:
    queue = follower.queue
    while not follower.dropped or not queue.empty():
        name, chunk = await conn.next_or_leave(queue.get())
        skipped = queue.take_skipped() if isinstance(queue, SkippingQueue) else 0
        if skipped:
            await conn.send_item(
                {"skipped": skipped, "notice": f"skipped {skipped} bytes: this reader was too slow"}
            )
        if chunk.stream in streams:
            for line in _iter_lines(chunk):
                item = {"name": name, "stream": chunk.stream, "time": chunk.time, "line": line}
                await conn.send_item(item)
    await conn.send_item({"notice": "output too fast for this client; lines dropped"})


async def _watch_new_sources(
    view: MasterView, wanted: list[str], followed: dict[int, Output], follower: Follower
) -> None:
    """Follow instances and tasks that appear while the stream lasts (`scale`, `add`, a reload):
    on any event about a name not followed yet, resolve the names again."""
    started = time.time()
    sub = view.events.subscribe()
    try:
        while True:
            if sub.dropped:  # fell behind while the client was slow: resubscribe, look again
                view.events.unsubscribe(sub)
                sub = view.events.subscribe()
                _add_sources(view, wanted, followed, follower, started)
            event = await sub.queue.get()
            if _may_add_a_source(event, followed):
                _add_sources(view, wanted, followed, follower, started)
    finally:
        view.events.unsubscribe(sub)


def _may_add_a_source(event: Event, followed: dict[int, Output]) -> bool:
    if event.type == "program":
        return True
    if event.type not in ("state", "task"):
        return False
    return all(out.ring.name != event.name for out in followed.values())


def _add_sources(
    view: MasterView,
    wanted: list[str],
    followed: dict[int, Output],
    follower: Follower,
    since: float,
) -> None:
    """Follow what the names match now and was not followed, with what it wrote since the
    stream began. Synchronous, so no chunk falls between the read and the subscription."""
    try:
        sources = _log_sources(view, wanted)
    except ProtocolError:  # a named program went away: keep following what we have
        return
    for out in sources:
        if id(out) in followed:
            continue
        followed[id(out)] = out
        for chunk in out.ring.chunks():
            if chunk.time >= since:
                follower.queue.put_nowait((out.ring.name, chunk))
        out.ring.follow(follower)
