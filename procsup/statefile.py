"""Desired state that survives the master: user start/stop decisions, scale, ad-hoc programs, and
the pids of running instances (so the next master can find leftovers after a `kill -9`)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class SavedState:
    run_id: str = ""
    clean: bool = True
    desired: dict[str, bool] = field(default_factory=dict)
    numprocs: dict[str, int] = field(default_factory=dict)
    adhoc: dict[str, dict[str, Any]] = field(default_factory=dict)
    pids: dict[str, list[int]] = field(default_factory=dict)  # name -> [pid, start_ticks]


def load_state(path: Path) -> SavedState:
    """Read the state file; a missing or corrupt one means a fresh start (logged)."""
    try:
        raw = json.loads(path.read_text())
        known = SavedState.__dataclass_fields__
        return SavedState(**{k: v for k, v in raw.items() if k in known})
    except FileNotFoundError:
        return SavedState()
    except (ValueError, TypeError) as exc:
        log.warning("ignoring unreadable state file %s: %s", path, exc)
        return SavedState()


def write_state(path: Path, state: SavedState) -> None:
    """Atomic replace, so a crash mid-write never leaves a torn file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), separators=(",", ":")))
    os.replace(tmp, path)
