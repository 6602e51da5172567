"""contrib/procsup.service: systemd accepts it, and it agrees with the config it documents."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from procsup.config.load import load_config
from procsup.core.values import parse_duration

UNIT = Path(__file__).parents[2] / "contrib" / "procsup.service"


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is not None:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("systemd-analyze not installed, and CI=true: install systemd in the CI image")
    pytest.skip("systemd-analyze not installed")


def _settings(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if re.match(r"[A-Z][A-Za-z]+=", line)
    )


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = _systemd_analyze()
    # verify checks that ExecStart's program exists: point it at a stand-in procsup
    fake = tmp_path / "procsup"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    unit = tmp_path / "procsup.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/procsup", str(fake)))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "procsup.service" not in output, output  # no warning about our unit either


def test_the_unit_and_its_documented_config_agree(tmp_path: Path) -> None:
    text = UNIT.read_text()
    settings = _settings(text)
    # the [procsup] table documented in the unit's comments is a valid config …
    block = re.search(r"^#   \[procsup\]\n((?:#   .*\n)+)", text, re.MULTILINE)
    assert block is not None
    table = "[procsup]\n" + "".join(line[4:] + "\n" for line in block.group(1).splitlines())
    config_file = tmp_path / "procsup.toml"
    config_file.write_text(table)
    master = load_config(config_file).master
    # … keeping state and logs where StateDirectory= and LogsDirectory= put them, not in /etc
    assert master.state_dir == Path("/var/lib") / settings["StateDirectory"]
    assert master.log_dir == Path("/var/log") / settings["LogsDirectory"]
    assert master.cli_autostart is False
    assert "WorkingDirectory" not in settings
    # TimeoutStopSec covers a task's and a program's default stop_timeout plus the 40s margin
    defaults = 2 * parse_duration("10s") + 40
    assert parse_duration(settings["TimeoutStopSec"]) >= defaults
    # where programs without `directory` run: the config file's folder, as the master does it
    assert "Programs and tasks without `directory` run in the config file's folder" in text
