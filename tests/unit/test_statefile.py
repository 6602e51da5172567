"""What survives the master (statefile.py): the state and the kept output round-trip through
private files, an unreadable file means a fresh start rather than a master that cannot start,
and the state_dir is made private without touching a config folder inside it."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from procsup.config.load import MasterConfig, load_config
from procsup.engine.logs import LogChunk
from procsup.engine.statefile import (
    SavedState,
    load_output,
    load_state,
    save_output,
    secure_state_dir,
    write_state,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_state_round_trips_through_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    saved = SavedState(run_id="r1", clean=False, desired={"web:0": False}, numprocs={"web": 3})
    saved.adhoc = {"tmp": {"command": "sleep 1", "environment": {"PASSWORD": "x"}}}
    write_state(path, saved)
    assert mode(path) == 0o600  # ad-hoc programs' environment may hold secrets
    assert load_state(path) == saved
    assert not path.with_suffix(".tmp").exists()


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"desired": 1, "clean": true}x'])
def test_an_unreadable_state_file_is_a_fresh_start(
    tmp_path: Path, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    path.write_text(text)
    with caplog.at_level(logging.WARNING):
        assert load_state(path) == SavedState()
    assert f"ignoring unreadable state file {path}" in caplog.text


def test_unknown_keys_from_another_version_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"run_id": "old", "from_the_future": 1}')
    assert load_state(path) == SavedState(run_id="old")
    assert load_state(tmp_path / "missing.json") == SavedState()


def test_kept_output_is_read_once(tmp_path: Path) -> None:
    path = tmp_path / "output.json"
    rings = {"web:0": [LogChunk(1.5, "out", b"hello\n"), LogChunk(2.0, "err", b"oops\n")]}
    save_output(path, rings | {"idle:0": []})
    assert mode(path) == 0o600
    assert load_output(path) == rings  # an instance with nothing kept is left out
    assert not path.exists() and load_output(path) == {}


def test_unreadable_kept_output_is_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "output.json"
    path.write_text('{"web:0": [[1.0, "out"]]}')
    with caplog.at_level(logging.WARNING):
        assert load_output(path) == {}
    assert "ignoring unreadable" in caplog.text


def master(tmp_path: Path, extra: str = "") -> MasterConfig:
    cfg = tmp_path / "conf" / "procsup.toml"
    cfg.parent.mkdir(exist_ok=True)
    cfg.write_text(f'[procsup]\nstate_dir = "{tmp_path / "state"}"\n{extra}')
    return load_config(cfg).master


def test_an_old_open_state_dir_is_made_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    secure_state_dir(master(tmp_path), tmp_path / "conf")
    assert mode(state) == 0o700


def test_a_shared_socket_inside_keeps_the_search_bit_it_needs(tmp_path: Path) -> None:
    cfg = master(tmp_path, "socket_mode = 0o660\n")
    secure_state_dir(cfg, tmp_path / "conf")
    assert mode(tmp_path / "state") == 0o710  # search only: the group can reach the socket


def test_a_state_dir_holding_the_config_folder_is_left_as_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    (state / "conf").mkdir(parents=True)
    state.chmod(0o755)
    with caplog.at_level(logging.WARNING):
        secure_state_dir(master(tmp_path), state / "conf")
    assert mode(state) == 0o755
    assert "give the state_dir a folder of its own" in caplog.text
