"""Health policy in-process: config validation with key paths, the sd_notify message parser,
and the watchdog / max_silence deadlines driven by an explicit clock (no waiting). The real
socket, real clients and real hangs are in tests/integration/test_health.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from procsup.config.dump import program_to_dict
from procsup.config.load import ConfigError, ProgramConfig, program_from_dict
from procsup.engine.health import Health
from procsup.engine.notify import parse, socket_path
from tests.unit.test_instance_policy import FakeClock


def problems(raw: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        program_from_dict("web", {"command": "web", **raw}, Path("/srv"), Path("/srv/logs"))
    return {i.key: i.message for i in info.value.issues}


def test_health_keys_are_validated_with_their_key_paths() -> None:
    found = problems({"watchdog": "3s", "max_silence": "0s", "watchdog_signal": "NOPE"})
    assert "needs notify = true" in found["programs.web.watchdog"]
    assert "more than 0" in found["programs.web.max_silence"]
    assert "programs.web.watchdog_signal" in found
    found = problems(
        {
            "readiness": {"http": "ftp://x/", "tcp": "h:1"},
            "liveness": {"exec": "true", "perod": "1s"},
        }
    )
    assert "exactly one of" in found["programs.web.readiness"]
    assert "http://" in found["programs.web.readiness.http"]
    assert "did you mean 'period'" in found["programs.web.liveness.perod"]
    found = problems({"liveness": {"tcp": "nohost", "failures": 0}})
    assert "host:port" in found["programs.web.liveness.tcp"]
    assert "programs.web.liveness.failures" in found
    assert "expected a table" in problems({"readiness": "yes"})["programs.web.readiness"]


def test_probe_and_watchdog_settings_round_trip_through_save() -> None:
    raw = {
        "command": "web",
        "notify": True,
        "watchdog": "30s",
        "max_silence": "5m",
        "readiness": {"http": "http://127.0.0.1:8080/health", "period": "2s"},
    }
    cfg = program_from_dict("web", raw, Path("/srv"), Path("/srv/logs"))
    assert cfg.watchdog == 30 and cfg.max_silence == 300 and cfg.readiness is not None
    assert cfg.readiness.kind == "http" and cfg.readiness.period == 2
    dumped = program_to_dict(cfg, Path("/srv/logs"))
    assert dumped["readiness"] == {"http": "http://127.0.0.1:8080/health", "period": "2s"}
    assert program_from_dict("web", dumped, Path("/srv"), Path("/srv/logs")) == cfg


def test_sd_notify_messages_parse_like_systemd() -> None:
    assert parse(b"READY=1\nSTATUS=a=b\n\nnoise\nWATCHDOG=1") == {
        "READY": "1",
        "STATUS": "a=b",
        "WATCHDOG": "1",
    }


def test_socket_paths_stay_short_and_fall_back_to_abstract() -> None:
    short = socket_path("/run/procsup", "a-very-long-program-name-indeed:12")
    assert short.startswith("/run/procsup/notify/") and len(short) < 60
    assert socket_path("/" + "x" * 120, "web:0").startswith("@procsup-")
    assert socket_path("/run/procsup", "web:0") != socket_path("/run/procsup", "web:1")
    assert socket_path("/run/procsup", "web:0", abstract=True).startswith("@procsup-")


def watched(**settings: object) -> tuple[Health, FakeClock, list[str]]:
    cfg = ProgramConfig(name="w", command=("w",), **settings)  # type: ignore[arg-type]
    clock, hung = FakeClock(), []
    health = Health(cfg, clock, hung.append)
    health.begin()
    return health, clock, hung


def test_keep_alives_hold_off_the_watchdog_and_silence_trips_it() -> None:
    health, clock, hung = watched(notify=True, watchdog=3.0)
    for _ in range(5):
        clock.advance(2.0)
        health.apply({"WATCHDOG": "1"})
    assert hung == [] and len([t for t in clock.pending() if t > 0]) == 1
    health.apply({"EXTEND_TIMEOUT_USEC": "10000000"})  # 10 s more, once
    clock.advance(9.0)
    assert hung == []
    clock.advance(1.5)
    assert hung == ["watchdog: no keep-alive for 3s"]


def test_watchdog_counts_from_the_spawn_until_the_first_keep_alive() -> None:
    health, clock, hung = watched(notify=True, watchdog=3.0)
    clock.advance(3.0)
    assert hung == ["watchdog: no keep-alive for 3s"]
    assert health.text(running=True) == "not-ready: waiting for READY=1, no keep-alive yet"


def test_max_silence_rearms_on_output() -> None:
    health, clock, hung = watched(max_silence=5.0)
    for _ in range(4):
        clock.advance(4.0)
        health.output()
    assert hung == []
    clock.advance(5.0)
    assert hung == ["max_silence: no output for 5s"]


def test_readiness_phases_from_the_program() -> None:
    health, _clock, _hung = watched(notify=True)
    assert not health.is_ready()
    assert health.apply({"READY": "1", "STATUS": "serving"})
    assert health.is_ready() and health.text(running=True) == "ready"
    health.apply({"RELOADING": "1"})
    assert not health.is_ready() and health.text(running=True) == "reloading"
    health.apply({"READY": "1"})
    assert health.is_ready() and health.status == "serving"


def test_a_notify_program_that_dies_before_ready_backs_off(tmp_path: Path) -> None:
    from procsup.core.states import State
    from tests.unit.test_instance_policy import make_instance

    async def scenario() -> None:
        inst, _spawner, reaper, clock = make_instance(tmp_path, "notify = true\n")
        await inst.start()
        assert inst.state == State.STARTING
        assert inst.spawn_spec().env["NOTIFY_SOCKET"].endswith(".sock")
        clock.advance(5.0)  # start_seconds has no say: STARTING until READY=1
        assert inst.state == State.STARTING
        reaper.exit(inst.pid or 0, 1)
        assert inst.state == State.BACKOFF  # died before READY=1: a failed start
        inst.close()

    asyncio.run(scenario())
