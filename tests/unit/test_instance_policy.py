"""An Instance's restart policy driven in-process through its seams: a fake spawner and reaper
stand in for fork/exec and SIGCHLD, and an explicit clock decides how long each run lasted and
fires the backoff timers, so delays and retry counts are asserted exactly, with no waiting.

(The same policy against real children is covered end to end in tests/integration/.)"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from procsup.config.load import load_config
from procsup.core.states import State
from procsup.engine.events import Broadcaster
from procsup.engine.instance import Instance
from procsup.engine.process import Child, SpawnSpec
from procsup.engine.runtime import Runtime

#: above the kernel's largest pid_max (2**22), so no signal the engine sends reaches anyone
FAKE_PID = 5_000_000


class FakeTimer:
    def __init__(self, clock: FakeClock, at: float, callback: Callable[[], None]) -> None:
        self.at, self.callback, self.cancelled = at, callback, False
        self.clock = clock

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """Time moves only when the test says; timers fire in `advance`."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[FakeTimer] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + 1_700_000_000

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(self, self.now + delay, callback)
        self.timers.append(timer)
        return timer

    def pending(self) -> list[float]:
        return [t.at - self.now for t in self.timers if not t.cancelled]

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if not t.cancelled and t.at <= self.now]
        self.timers = [t for t in self.timers if t not in due]
        for timer in sorted(due, key=lambda t: t.at):
            timer.callback()


class FakeSpawner:
    """Hands out children with fresh pids and real, already closed pipes (the output readers
    see end of file); `fail` makes the next spawns raise as a missing program would."""

    def __init__(self) -> None:
        self.specs: list[SpawnSpec] = []
        self.fail: OSError | None = None

    def __call__(self, spec: SpawnSpec) -> Child:
        if self.fail is not None:
            raise self.fail
        self.specs.append(spec)
        out_r, out_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        os.close(out_w)
        popen: Any = SimpleNamespace(returncode=None)
        return Child(FAKE_PID + len(self.specs), popen, out_r, None)


class FakeReaper:
    def __init__(self) -> None:
        self.watching: dict[int, Callable[[int], None]] = {}

    def watch(self, pid: int, on_exit: Callable[[int], None]) -> None:
        self.watching[pid] = on_exit

    def exit(self, pid: int, code: int) -> None:
        self.watching.pop(pid)(code)


def make_instance(
    tmp_path: Path, program: str
) -> tuple[Instance, FakeSpawner, FakeReaper, FakeClock]:
    config_file = tmp_path / "procsup.toml"
    head = '[procsup]\nstate_dir = "run"\nlog_dir = "logs"\n\n[programs.web]\ncommand = "web"\n'
    config_file.write_text(head + program)
    config = load_config(config_file)
    spawner, reaper, clock = FakeSpawner(), FakeReaper(), FakeClock()
    rt = Runtime(
        asyncio.get_running_loop(), reaper, Broadcaster(), "test", str(tmp_path / "run"),
        {}, str(tmp_path), spawner=spawner, clock=clock,
    )  # fmt: skip
    return Instance(config.programs["web"], 0, rt), spawner, reaper, clock


def test_quick_exits_back_off_doubling_up_to_the_cap(tmp_path: Path) -> None:
    async def scenario() -> None:
        program = 'start_seconds = 2\nrestart_delay = "1s"\nrestart_delay_max = "5s"\n'
        inst, spawner, reaper, clock = make_instance(tmp_path, program)
        await inst.start()
        assert inst.state == State.STARTING and inst.pid == FAKE_PID + 1
        delays = []
        for attempt in range(1, 6):
            clock.advance(0.5)  # exits before start_seconds: a failed start
            reaper.exit(inst.pid or 0, 1)
            assert inst.state == State.BACKOFF and inst.info.failures == attempt
            delays.extend(clock.pending())
            clock.advance(clock.pending()[0])  # BACKOFF -> STARTING
            assert inst.state == State.STARTING
        assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
        assert len(spawner.specs) == 6 and inst.info.restarts == 5
        clock.advance(2.0)  # past start_seconds
        assert inst.state == State.RUNNING
        inst.close()

    asyncio.run(scenario())


def test_max_restarts_gives_up_after_exactly_that_many_retries(tmp_path: Path) -> None:
    async def scenario() -> None:
        program = 'start_seconds = 1\nrestart_delay = "1s"\nmax_restarts = 3\n'
        inst, spawner, reaper, clock = make_instance(tmp_path, program)
        await inst.start()
        while inst.state != State.FATAL:
            reaper.exit(inst.pid or 0, 3)  # exits at once, every time
            clock.advance(60)
        assert len(spawner.specs) == 1 + 3  # the first start and exactly 3 retries
        assert inst.info.failures == 4 and not clock.pending()
        assert inst.info.last_exit == 3 and inst.state == State.FATAL
        inst.close()

    asyncio.run(scenario())


def test_a_run_past_start_seconds_restarts_at_once_and_spawn_errors_back_off(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        program = 'start_seconds = 1\nrestart_delay = "2s"\nautorestart = "always"\n'
        inst, spawner, reaper, clock = make_instance(tmp_path, program)
        await inst.start()
        clock.advance(10)
        assert inst.state == State.RUNNING
        spawner.fail = FileNotFoundError(2, "No such file or directory")
        reaper.exit(inst.pid or 0, 0)  # a long run: restarted at once, whose spawn fails
        assert inst.state == State.BACKOFF and clock.pending() == [2.0]
        assert inst.info.spawn_error and inst.snapshot()["spawn_error"]
        spawner.fail = None
        clock.advance(2.0)
        assert inst.state == State.STARTING and len(spawner.specs) == 2
        env = spawner.specs[-1].env
        assert env["PROCSUP_PROCESS_NAME"] == "web:0" and env["PYTHONUNBUFFERED"] == "1"
        inst.close()

    asyncio.run(scenario())
