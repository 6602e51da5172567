"""`procsup import`: supervisord, pm2, Procfile and crontab setups → procsup TOML.

One module per source kind turns a file into a Conversion (tables, comments, warnings);
output.py writes the TOML and validates it like `check`. Nothing here is imported by the
commands that talk to a master.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from procsup.cli.migrate.common import Conversion, SourceError, read_text

KINDS = ("supervisord", "pm2", "procfile", "crontab")


def detect(path: Path) -> str:
    """The kind of a source file, from its name and content; SourceError when unclear."""
    if path.suffix in (".js", ".cjs", ".mjs") or path.name == "dump.pm2":
        return "pm2"
    text = read_text(path)
    kind = detect_text(text)
    if kind is None:
        raise SourceError(
            f"{path}: cannot tell what this is; name the kind with --from "
            "supervisord|pm2|procfile|crontab"
        )
    return kind


def detect_text(text: str) -> str | None:
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("#", ";"))]
    if re.search(r"^\s*\[(program|group|supervisord|include|eventlistener)[:\]]", text, re.M):
        return "supervisord"
    if re.search(r"^\s*(apps\s*:|[\[{])", text, re.M) and _looks_like_pm2(text):
        return "pm2"
    from procsup.cli.migrate.crontab import ASSIGN, split_schedule

    schedules = [line for line in lines if split_schedule(line)]
    if schedules and all(split_schedule(line) or ASSIGN.match(line) for line in lines):
        return "crontab"
    from procsup.cli.migrate.procfile import LINE

    if lines and all(LINE.match(line) for line in lines):
        return "procfile"
    return None


def _looks_like_pm2(text: str) -> bool:
    try:
        data = json.loads(text)
    except ValueError:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            return False
    if isinstance(data, dict):
        return isinstance(data.get("apps"), list | dict)
    return isinstance(data, list) and all(isinstance(a, dict) for a in data) and bool(data)


def convert(paths: list[Path], kind: str | None, env_name: str | None) -> Conversion:
    """Every file converted and merged into one Conversion; SourceError when one is unreadable."""
    total = Conversion()
    for given in paths:
        path = Path(os.path.abspath(given))  # every path written is absolute
        if not path.is_file():
            raise SourceError(f"{path}: no such file")
        total.merge(convert_one(path, kind or detect(path), env_name))
    return total


def convert_one(path: Path, kind: str, env_name: str | None) -> Conversion:
    if kind == "supervisord":
        from procsup.cli.migrate import supervisord

        return supervisord.convert(path)
    if kind == "pm2":
        from procsup.cli.migrate import pm2

        return pm2.convert(path, env_name)
    if kind == "procfile":
        from procsup.cli.migrate import procfile

        return procfile.convert(path)
    from procsup.cli.migrate import crontab

    return crontab.convert(path)
