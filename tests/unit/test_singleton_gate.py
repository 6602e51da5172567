"""A singleton instance's policy in-process: it spawns only through its gate (the lease, kept by
tasks/singleton.py), with the gate's wrapped command, and never restarts once the gate closes."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from procsup.config.load import load_config
from procsup.core.states import State
from procsup.engine.events import Broadcaster
from procsup.engine.instance import Instance
from procsup.engine.process import SpawnSpec
from procsup.engine.runtime import Runtime
from tests.unit.test_instance_policy import FakeClock, FakeReaper, FakeSpawner

SINGLETON = 'singleton = true\nstart_seconds = 0\nautorestart = "always"\n'


class FakeGate:
    """Opens and closes as the test says; wraps the command like the keeper would."""

    def __init__(self) -> None:
        self.open = False

    def may_run(self) -> bool:
        return self.open

    def wrap(self, spec: SpawnSpec, stop_signal: int, stop_timeout: float) -> SpawnSpec:
        env = {**spec.env, "PROCSUP_FENCING_TOKEN": "7"}
        return dataclasses.replace(spec, argv=["keeper", *spec.argv], env=env)

    def standby(self) -> str | None:
        return None if self.open else "web-2"


def singleton(tmp_path: Path) -> tuple[Instance, FakeSpawner, FakeReaper]:
    """The instance of a singleton program (validation wants a redis_url; none is dialled)."""
    config_file = tmp_path / "procsup.toml"
    config_file.write_text(
        '[procsup]\nstate_dir = "run"\nredis_url = "redis://127.0.0.1:1/0"\n'
        '[programs.web]\ncommand = "web"\n' + SINGLETON
    )
    config = load_config(config_file)
    spawner, reaper = FakeSpawner(), FakeReaper()
    rt = Runtime(
        asyncio.get_running_loop(), reaper, Broadcaster(), "test", str(tmp_path / "run"),
        {}, str(tmp_path), spawner=spawner, clock=FakeClock(),
    )  # fmt: skip
    return Instance(config.programs["web"], 0, rt), spawner, reaper


def test_without_a_gate_a_singleton_never_spawns(tmp_path: Path) -> None:
    async def scenario() -> None:
        inst, spawner, _ = singleton(tmp_path)
        await inst.start()
        assert inst.state == State.STOPPED and not spawner.specs and inst.desired
        assert inst.snapshot()["standby"] == "?"
        inst.close()

    asyncio.run(scenario())


def test_it_runs_through_the_open_gate_and_stands_by_when_it_closes(tmp_path: Path) -> None:
    async def scenario() -> None:
        inst, spawner, reaper = singleton(tmp_path)
        gate = FakeGate()
        inst.rt.gates["web"] = gate
        await inst.start()
        assert inst.state == State.STOPPED and inst.snapshot()["standby"] == "web-2"
        gate.open = True
        await inst.start()
        assert inst.state == State.RUNNING and inst.snapshot()["standby"] is None
        assert spawner.specs[0].argv[:2] == ["keeper", "web"]
        assert spawner.specs[0].env["PROCSUP_FENCING_TOKEN"] == "7"
        gate.open = False  # the lease went elsewhere: the keeper stopped the run
        reaper.exit(inst.pid or 0, -15)
        assert inst.state == State.EXITED and len(spawner.specs) == 1
        assert "singleton lease is not held here" in (inst.info.exit_reason or "")
        assert inst.desired and inst.snapshot()["standby"] == "web-2"
        inst.close()

    asyncio.run(scenario())


def test_list_and_tui_show_standby_with_its_holder() -> None:
    from procsup.cli.tables import state_text
    from procsup.core.schema import instance_row
    from procsup.tui.fmt import standby_text

    held = instance_row("web:0", "STOPPED", standby="web-2")
    free = instance_row("web:0", "STOPPED", standby="")
    plain = instance_row("web:0", "STOPPED")
    assert state_text(held) == "STANDBY (held by web-2)"
    assert state_text(free) == "STANDBY" and state_text(plain) == "STOPPED"
    text = standby_text(held)
    assert text is not None and text.plain == "STANDBY (held by web-2)"
    assert standby_text(plain) is None
