"""`procsup startup`: the unit it writes passes systemd-analyze verify, fits the config's stop
timeouts, and contrib/procsup.service is exactly what it writes for the documented default."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from procsup.cli.startup import documented_default
from tests.harness import PY
from tests.integration.test_contrib import UNIT, _settings, _systemd_analyze


def _startup(
    config: Path, *args: str, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = None
    if home is not None:
        import os

        env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    return subprocess.run(
        [PY, "-m", "procsup", "-c", str(config), "startup", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_contrib_unit_is_what_startup_writes_for_the_documented_default():
    assert UNIT.read_text() == documented_default()


def test_startup_print_passes_systemd_analyze_verify(tmp_path: Path):
    analyze = _systemd_analyze()
    config = tmp_path / "procsup.toml"
    config.write_text(
        '[programs.worker]\ncommand = "sleep 10"\nstop_timeout = "1h"\n'
        '[tasks.t]\ncommand = "true"\nschedule = "@daily"\nstop_timeout = "10s"\n'
    )
    result = _startup(config, "--print")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    settings = _settings(text)
    assert settings["Type"] == "simple" and settings["KillMode"] == "mixed"
    assert settings["Restart"] == "on-failure"
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    # 1h + 10s + 40s, rounded up to the minute
    assert settings["TimeoutStopSec"] == "1h 1min"
    assert re.search(rf"^ExecStart=.* -c {config} daemon -f$", text, re.MULTILINE)
    unit = tmp_path / "procsup.service"
    unit.write_text(text)
    verify = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "procsup.service" not in verify.stdout + verify.stderr


def test_startup_user_writes_the_unit_and_says_how_to_enable_it(tmp_path: Path):
    config = tmp_path / "procsup.toml"
    config.write_text('[programs.w]\ncommand = "sleep 10"\n')
    result = _startup(config, "--user", home=tmp_path)
    assert result.returncode == 0, result.stderr
    unit = tmp_path / ".config" / "systemd" / "user" / "procsup.service"
    assert "WantedBy=default.target" in unit.read_text()
    assert "systemctl --user daemon-reload" in result.stdout
    assert "systemctl --user enable --now procsup" in result.stdout
