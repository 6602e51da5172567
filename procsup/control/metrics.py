"""Prometheus metrics on `metrics_listen`: a small asyncio HTTP endpoint on the master's own loop.

No thread and no second server library: one `asyncio.start_server` handler answers `GET /metrics`
with prometheus-client's `generate_latest()` of a private registry. That registry holds a custom
collector that reads the engine as it is at scrape time (instances, their CPU and RSS, leases
held) and the client library's own counters and histograms, fed from the master's event stream
(exits, task runs, skips). prometheus-client is imported only by a master with `metrics_listen`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from procsup.config.checks import split_listen
from procsup.core.states import State
from procsup.engine.proctree import ProcessTable
from procsup.tasks.singleton import PREFIX, Gate

if TYPE_CHECKING:
    from procsup.engine.events import Event, Subscription
    from procsup.engine.master import Master
    from procsup.tasks.scheduler import Scheduler

log = logging.getLogger("procsup")

LAG_PERIOD = 0.5  # how often the loop's lag is measured
REQUEST_TIMEOUT = 5.0  # a scraper that sends no complete request head within this is dropped
MAX_HEAD = 16 * 1024
RUN_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, float("inf"))
DELAY_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, float("inf"))


def exit_kind(data: dict[str, Any]) -> str:
    """A bounded label for why a run ended, from a state event's exit keys."""
    if data.get("spawn_error"):
        return "spawn_error"
    if data.get("from") == State.STOPPING:
        return "stopped"
    if data.get("signal"):
        return "signal"
    return "expected" if data.get("expected") else "unexpected"


class EngineCollector(Collector):
    """What is true now, read from the engine on each scrape."""

    def __init__(self, master: Master, scheduler: Scheduler, lag: LoopLag) -> None:
        self.master = master
        self.scheduler = scheduler
        self.lag = lag

    def collect(self) -> Iterator[Metric]:
        yield from self._instances()
        yield from self._leases()
        lag = GaugeMetricFamily(
            "procsup_loop_lag_seconds", "How late the master's event loop ran a timer, lately"
        )
        lag.add_metric([], self.lag.last)
        yield lag
        worst = GaugeMetricFamily(
            "procsup_loop_lag_max_seconds", "The worst event-loop lag since the master started"
        )
        worst.add_metric([], self.lag.worst)
        yield worst

    def _instances(self) -> Iterator[Metric]:
        labels = ["instance", "program"]
        up = GaugeMetricFamily(
            "procsup_instance_up", "1 if the instance has a process", labels=labels
        )
        state = GaugeMetricFamily(
            "procsup_instance_state",
            "1 for the instance's current state",
            labels=[*labels, "state"],
        )
        restarts = CounterMetricFamily(
            "procsup_instance_restarts", "Restarts of the instance", labels=labels
        )
        cpu = CounterMetricFamily(
            "procsup_instance_cpu_seconds", "CPU time of the instance's current tree", labels=labels
        )
        rss = GaugeMetricFamily(
            "procsup_instance_rss_bytes", "Resident memory of the instance's tree", labels=labels
        )
        ready = GaugeMetricFamily(
            "procsup_instance_ready",
            "1 if the instance is RUNNING and ready (READY=1 and readiness probe, when set)",
            labels=labels,
        )
        table = ProcessTable()
        for inst in self.master.registry.instances():
            names = [inst.name, inst.config.name]
            up.add_metric(names, 1.0 if inst.pid is not None else 0.0)
            for s in State:
                state.add_metric([*names, s.value], 1.0 if inst.state == s else 0.0)
            restarts.add_metric(names, inst.info.restarts)
            used, mem = inst.usage(table) if inst.pid is not None else (0.0, 0)
            cpu.add_metric(names, used)
            rss.add_metric(names, mem)
            ready.add_metric(names, 1.0 if inst.ready else 0.0)
        yield from (up, state, restarts, cpu, rss, ready)

    def _leases(self) -> Iterator[Metric]:
        held = GaugeMetricFamily(
            "procsup_lease_held",
            "1 while this master holds the Redis lease of the name, with its fencing token",
            labels=["name", "fencing_token"],
        )
        holder = GaugeMetricFamily(
            "procsup_singleton_holder",
            "1 for the master that runs the singleton program, as this master sees it",
            labels=["program", "holder"],
        )
        for name, task in self.scheduler.tasks.items():
            for run in task.runs.values():
                if run.hold.lease is not None:
                    held.add_metric([name, str(run.hold.lease.fence)], 1.0)
        for gate in self.master.rt.gates.values():
            if not isinstance(gate, Gate):
                continue
            if gate.lease is not None:
                held.add_metric([PREFIX + gate.program, str(gate.lease.fence)], 1.0)
            who = gate.holder_name()
            if who is not None:
                holder.add_metric([gate.program, who], 1.0)
        yield held
        yield holder


class LoopLag:
    """How late a timer fires on the master's loop: the time a callback blocked everything."""

    def __init__(self) -> None:
        self.last = 0.0
        self.worst = 0.0

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_PERIOD
            await asyncio.sleep(LAG_PERIOD)
            self.last = max(0.0, loop.time() - due)
            self.worst = max(self.worst, self.last)


class EventMetrics:
    """Counters and histograms fed from the master's events (prometheus-client's own types)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.exits = Counter(
            "procsup_instance_exits",
            "Ends of instance runs, by kind (expected, unexpected, signal, stopped, spawn_error)",
            ["instance", "program", "reason"],
            registry=registry,
        )
        self.runs = Counter(
            "procsup_task_runs", "Task runs by result", ["task", "result"], registry=registry
        )
        self.lock_skips = Counter(
            "procsup_task_lock_skips",
            "Runs skipped for their lock (held elsewhere, unavailable, error)",
            ["task", "reason"],
            registry=registry,
        )
        self.duration = Histogram(
            "procsup_task_run_duration_seconds",
            "Wall time of finished task runs",
            ["task"],
            buckets=RUN_BUCKETS,
            registry=registry,
        )
        self.delay = Histogram(
            "procsup_task_start_delay_seconds",
            "How long after its scheduled time a run started (jitter, lock, a busy loop)",
            ["task"],
            buckets=DELAY_BUCKETS,
            registry=registry,
        )

    def on_event(self, event: Event) -> None:
        data = dict(event.data)
        if event.type == "state" and "reason" in data:
            self.exits.labels(event.name, data.get("program", ""), exit_kind(data)).inc()
        elif event.type == "run":
            self._on_run(event.name, data.get("event"), data.get("run") or {})

    def _on_run(self, task: str, what: object, run: dict[str, Any]) -> None:
        if what == "skip":
            self.runs.labels(task, "skipped").inc()
            reason = str(run.get("reason") or "")
            if reason.startswith("lock-"):
                self.lock_skips.labels(task, reason.split(":", 1)[0]).inc()
        elif what == "end":
            self.runs.labels(task, str(run.get("status"))).inc()
            if run.get("duration") is not None:
                self.duration.labels(task).observe(float(run["duration"]))
        elif what == "start" and run.get("scheduled") and run.get("started"):
            self.delay.labels(task).observe(max(0.0, run["started"] - run["scheduled"]))


class MetricsServer:
    """Serves /metrics on `listen` from the running loop; started and closed with the master."""

    def __init__(self, listen: str, master: Master, scheduler: Scheduler) -> None:
        self.listen = listen
        self.master = master
        self.lag = LoopLag()
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(EngineCollector(master, scheduler, self.lag))
        self.events = EventMetrics(self.registry)
        self._server: asyncio.Server | None = None
        self._jobs: list[asyncio.Task[None]] = []
        self._sub: Subscription | None = None

    async def start(self) -> None:
        host, port = split_listen(self.listen)
        self._sub = self.master.events.subscribe()
        loop = asyncio.get_running_loop()
        self._jobs = [loop.create_task(self._follow(self._sub)), loop.create_task(self.lag.watch())]
        try:
            self._server = await asyncio.start_server(self._serve, host, port)
        except OSError as exc:  # the master goes on supervising without metrics
            log.error("metrics_listen = %r: cannot listen: %s", self.listen, exc.strerror or exc)
            return
        log.info("serving Prometheus metrics on http://%s/metrics", self.listen)

    async def _follow(self, sub: Subscription) -> None:
        while True:
            event = await sub.queue.get()
            if sub.dropped:  # too slow once: take a fresh subscription, counters go on
                self.master.events.unsubscribe(sub)
                sub = self._sub = self.master.events.subscribe()
            self.events.on_event(event)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            status, ctype, body = self._answer(head[:MAX_HEAD])
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _answer(self, head: bytes) -> tuple[str, str, bytes]:
        method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
        path = rest.split(" ", 1)[0].split("?", 1)[0]
        text = "text/plain; charset=utf-8"
        if path != "/metrics":
            return "404 Not Found", text, b"only /metrics is served here\n"
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", text, b"use GET\n"
        started = time.monotonic()
        body = generate_latest(self.registry)
        log.debug("metrics scraped in %.1f ms", (time.monotonic() - started) * 1000)
        return "200 OK", CONTENT_TYPE_LATEST, b"" if method == "HEAD" else body

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for job in self._jobs:
            job.cancel()
        for job in self._jobs:
            with contextlib.suppress(asyncio.CancelledError):
                await job
        if self._sub is not None:
            self.master.events.unsubscribe(self._sub)
