"""The program table in the test process: name resolution, reload as a difference, scale, ad-hoc
programs and what the next master is told. Programs here do not autostart, so no child runs
unless a test starts one; the engine's real Reaper and Broadcaster are used."""

from __future__ import annotations

import asyncio
import os
import re
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from procsup.config.load import Config, load_config
from procsup.config.save import save_config
from procsup.core.states import State
from procsup.engine.events import Broadcaster
from procsup.engine.process import Reaper
from procsup.engine.registry import NotFound, Registry
from procsup.engine.runtime import Runtime
from procsup.engine.statefile import SavedState

BASE = """
[programs.web]
command = "sleep 60"
autostart = false
numprocs = 2

[programs.queue]
command = "sleep 60"
autostart = false
numprocs = 3

[programs.cron]
command = "sleep 60"
autostart = false
"""


def config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "procsup.toml"
    path.write_text(textwrap.dedent(f'[procsup]\nstate_dir = "run"\nlog_dir = "logs"\n{text}'))
    return load_config(path)


def run(
    tmp_path: Path,
    text: str,
    body: Callable[[Registry], Awaitable[Any]],
    saved: SavedState | None = None,
) -> Any:
    """Build a registry on `text` inside a fresh loop, run `body`, then stop everything."""

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        cfg = config(tmp_path, text)
        cfg.master.state_dir.mkdir(parents=True, exist_ok=True)
        rt = Runtime(
            loop,
            Reaper(loop),
            Broadcaster(),
            "run-1",
            str(cfg.master.state_dir),
            dict(os.environ),
            str(tmp_path),
        )
        reg = Registry(rt, saved or SavedState(), cfg)
        try:
            return await body(reg)
        finally:
            await reg.stop_everything()
            for prog in reg.programs.values():
                prog.close()

    return asyncio.run(main())


def names(insts: list[Any]) -> list[str]:
    return sorted(i.name for i in insts)


def test_resolve_programs_instances_globs_and_all(tmp_path: Path) -> None:
    async def body(reg: Registry) -> None:
        assert names(reg.resolve(["web"])) == ["web:0", "web:1"]
        assert names(reg.resolve(["queue:2"])) == ["queue:2"]
        assert names(reg.resolve(["q*"])) == ["queue:0", "queue:1", "queue:2"]
        assert names(reg.resolve(["*:1"])) == ["queue:1", "web:1"]
        assert len(reg.resolve(["all"])) == 6
        # one instance named twice is one instance
        assert names(reg.resolve(["web", "web:0", "w?b"])) == ["web:0", "web:1"]

    run(tmp_path, BASE, body)


@pytest.mark.parametrize("name", ["nope", "web:7", "zz*"])
def test_resolve_refuses_what_matches_nothing_and_says_where_to_look(
    tmp_path: Path, name: str
) -> None:
    async def body(reg: Registry) -> None:
        says = rf"no program or instance matches '{re.escape(name)}' \(see `procsup list`\)"
        with pytest.raises(NotFound, match=says):
            reg.resolve([name])

    run(tmp_path, BASE, body)


def test_a_program_scaled_to_zero_still_resolves_to_nothing(tmp_path: Path) -> None:
    async def body(reg: Registry) -> None:
        await reg.scale("queue", 0)
        assert reg.resolve(["queue"]) == []
        assert reg.kept() == ["queue scaled to 0 (file says 3)"]
        with pytest.raises(NotFound, match="no program named 'ghost'"):
            await reg.scale("ghost", 1)

    run(tmp_path, BASE, body)


def test_apply_is_a_difference_and_leaves_unchanged_programs_alone(tmp_path: Path) -> None:
    new = """
    [programs.web]
    command = "sleep 60"
    autostart = false
    numprocs = 3

    [programs.queue]
    command = "sleep 61"
    autostart = false
    numprocs = 3

    [programs.fresh]
    command = "sleep 60"
    autostart = false
    """

    async def body(reg: Registry) -> dict[str, Any]:
        events = reg.rt.events.subscribe()
        web0 = reg.programs["web"].instances[0]
        summary = await reg.apply(config(tmp_path, new))
        assert reg.programs["web"].instances[0] is web0  # scaled: its instances stay
        assert names(list(reg.programs["web"])) == ["web:0", "web:1", "web:2"]
        assert reg.programs["queue"].config.command == ("sleep", "61")
        assert "cron" not in reg.programs
        seen = []
        while not events.queue.empty():
            ev = events.queue.get_nowait()
            if ev.type == "program":
                seen.append((ev.name, ev.data["event"]))
        assert ("cron", "removed") in seen and ("fresh", "added") in seen
        assert ("queue", "removed") in seen and ("queue", "added") in seen
        return summary

    summary = run(tmp_path, BASE, body)
    assert summary == {
        "added": ["fresh"],
        "removed": ["cron"],
        "changed": ["queue"],
        "scaled": ["web"],
        "kept": [],
    }


def test_a_run_time_scale_is_kept_by_reload_and_dropped_by_reset(tmp_path: Path) -> None:
    async def body(reg: Registry) -> None:
        await reg.scale("queue", 1)
        summary = await reg.apply(config(tmp_path, BASE))
        assert summary["kept"] == ["queue scaled to 1 (file says 3)"]
        assert reg.programs["queue"].numprocs == 1
        saved = SavedState()
        reg.export_state(saved)
        assert saved.numprocs == {"queue": 1} and "queue" in saved.program_at
        summary = await reg.apply(config(tmp_path, BASE), reset=True)
        assert summary["reset"] == ["queue scaled to 1 (file says 3)"]
        assert "kept" not in summary
        assert reg.programs["queue"].numprocs == 3 and reg.kept() == []

    run(tmp_path, BASE, body)


def test_scaling_back_to_the_file_leaves_nothing_to_show(tmp_path: Path) -> None:
    async def body(reg: Registry) -> None:
        await reg.scale("queue", 2)
        assert reg.kept() != []
        await reg.scale("queue", 3)
        assert [i.state for i in reg.programs["queue"]] == [State.STOPPED] * 2 + [State.STARTING]
        await reg.stop(reg.resolve(["queue:2"]))
        assert reg.kept() == []

    run(tmp_path, BASE, body)


def test_user_start_and_stop_are_overrides_kept_until_reset(tmp_path: Path) -> None:
    async def body(reg: Registry) -> None:
        insts = reg.resolve(["cron"])
        await reg.start(insts)
        assert insts[0].state in (State.STARTING, State.RUNNING)
        kept = reg.kept()
        assert len(kept) == 1 and kept[0].startswith("cron started by you")
        assert kept[0].endswith("(file: autostart = false)")
        row = reg.row(insts[0])
        assert row["name"] == "cron:0" and row["overrides"][0]["kind"] == "started"
        summary = await reg.apply(config(tmp_path, BASE), reset=True)
        assert summary["reset"] == kept
        assert insts[0].state == State.STOPPED and not insts[0].desired

    run(tmp_path, BASE, body)


def test_adhoc_programs_are_added_once_exported_and_restored(tmp_path: Path) -> None:
    extra = config(tmp_path, BASE + '\n[programs.tmp]\ncommand = "sleep 60"\nautostart = false\n')

    async def add(reg: Registry) -> SavedState:
        cfg = extra.programs["tmp"]
        await reg.add_adhoc(cfg)
        with pytest.raises(ValueError, match="'tmp' already exists"):
            await reg.add_adhoc(cfg)
        assert reg.kept()[0].startswith("tmp added by you") and "not in the file" in reg.kept()[0]
        saved = SavedState()
        reg.export_state(saved)
        return saved

    saved = run(tmp_path, BASE, add)
    assert set(saved.adhoc) == {"tmp"} and saved.numprocs == {"tmp": 1}
    saved.adhoc["broken"] = {"command": 42}  # a bad saved program is skipped, not fatal

    async def restored(reg: Registry) -> None:
        assert reg.programs["tmp"].adhoc and "broken" not in reg.programs
        # a reload whose file now holds the same program adopts it: no longer ad hoc
        await reg.apply(extra)
        assert not reg.programs["tmp"].adhoc
        await reg.remove("tmp")
        with pytest.raises(NotFound):
            await reg.remove("tmp")

    run(tmp_path, BASE, restored, saved)


def test_save_writes_run_time_changes_into_the_file_and_keeps_a_backup(tmp_path: Path) -> None:
    extra = config(
        tmp_path,
        BASE + '\n[programs.tmp]\ncommand = "sleep 60"\nautostart = false\n'
        'environment = { MODE = "fast" }\n',
    )

    async def body(reg: Registry) -> list[str]:
        await reg.scale("queue", 1)
        await reg.add_adhoc(extra.programs["tmp"])
        reg.config.path.write_text(reg.config.path.read_text() + "# the author's comment\n")
        return save_config(reg.config.path, reg.programs, reg.config.master.log_dir)

    assert run(tmp_path, BASE, body) == []
    path = tmp_path / "procsup.toml"
    text = path.read_text()
    assert "# the author's comment" in text  # the rest of the file is left as written
    assert 'environment = {MODE = "fast"}' in text.replace("{ ", "{").replace(" }", "}")
    saved = load_config(path)
    assert saved.programs["queue"].numprocs == 1 and saved.programs["tmp"].numprocs == 1
    assert (tmp_path / "procsup.toml.bak").read_text().count("[programs.") == 3


def test_save_refuses_a_file_that_is_no_longer_valid_toml(tmp_path: Path) -> None:
    async def body(reg: Registry) -> None:
        reg.config.path.write_text("[programs\n")
        with pytest.raises(OSError, match=r"it is not valid TOML any more .*; fix it, then save"):
            save_config(reg.config.path, reg.programs, reg.config.master.log_dir)
        reg.config.path.write_text('programs = "no table"\n')
        with pytest.raises(OSError, match="its `programs` is not a table any more"):
            save_config(reg.config.path, reg.programs, reg.config.master.log_dir)

    run(tmp_path, BASE, body)
    assert not (tmp_path / "procsup.toml.bak").exists()
