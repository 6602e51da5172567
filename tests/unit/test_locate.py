"""Finding the socket without the full config loader, and its cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from procsup.core import locate


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_defaults_are_relative_to_the_config_folder(tmp_path: Path) -> None:
    cfg = tmp_path / "procsup.toml"
    cfg.write_text("[programs.x]\ncommand = 'true'\n")
    assert locate.master_paths(str(cfg)) == (
        str(tmp_path / "run" / "procsup.sock"),
        str(tmp_path / "run"),
    )


def test_a_changed_config_is_read_again(tmp_path: Path) -> None:
    cfg = tmp_path / "procsup.toml"
    cfg.write_text('[procsup]\nsocket = "a.sock"\n')
    assert locate.master_paths(str(cfg))[0] == str(tmp_path / "a.sock")
    cfg.write_text('[procsup]\nsocket = "other/b.sock"\nstate_dir = "/var/tmp/st"\n')
    assert locate.master_paths(str(cfg)) == (str(tmp_path / "other" / "b.sock"), "/var/tmp/st")


def test_the_cache_answers_while_the_file_is_unchanged(tmp_path: Path) -> None:
    cfg = tmp_path / "procsup.toml"
    cfg.write_text('[procsup]\nsocket = "a.sock"\n')
    locate.master_paths(str(cfg))
    cache_file = tmp_path / "cache" / "procsup" / "locations.json"
    cache = json.loads(cache_file.read_text())
    cache[str(cfg)][1] = "/from/the/cache.sock"
    cache_file.write_text(json.dumps(cache))
    assert locate.master_paths(str(cfg))[0] == "/from/the/cache.sock"


def test_bad_toml_is_a_one_line_error(tmp_path: Path) -> None:
    cfg = tmp_path / "procsup.toml"
    cfg.write_text("[procsup\n")
    with pytest.raises(locate.LocateError, match="cannot read the config"):
        locate.master_paths(str(cfg))


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    socket, _ = locate.master_paths(str(tmp_path / "nope.toml"))
    assert socket == str(tmp_path / "run" / "procsup.sock")
