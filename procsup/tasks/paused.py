"""Which tasks `procsup pause` stopped: a small JSON file in state_dir, so a pause is kept
across master restarts like the other run-time state, until `procsup resume`."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "paused-tasks.json"


def load_paused(state_dir: Path) -> set[str]:
    """The paused task names; an unreadable file is logged and means none."""
    path = state_dir / FILE_NAME
    try:
        names = json.loads(path.read_text())
    except FileNotFoundError:
        return set()
    except (OSError, ValueError) as exc:
        log.error("cannot read %s (%s): no task is paused", path, exc)
        return set()
    if not isinstance(names, list):
        log.error("%s is not a list of task names: no task is paused", path)
        return set()
    return {n for n in names if isinstance(n, str)}


def save_paused(state_dir: Path, names: set[str]) -> None:
    """Write the set atomically (a new file renamed over the old)."""
    path = state_dir / FILE_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(sorted(names)))
    os.replace(tmp, path)
