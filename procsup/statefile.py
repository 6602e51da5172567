"""Desired state that survives the master: user start/stop decisions, scale, ad-hoc programs, and
the pids of running instances (so the next master can find leftovers after a `kill -9`)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from procsup.logs import LogChunk

log = logging.getLogger(__name__)


@dataclass
class SavedState:
    run_id: str = ""
    clean: bool = True
    desired: dict[str, bool] = field(default_factory=dict)
    desired_at: dict[str, float] = field(default_factory=dict)  # when the user started/stopped
    program_at: dict[str, float] = field(default_factory=dict)  # when a program was scaled/added
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


def save_output(path: Path, rings: dict[str, list[LogChunk]]) -> None:
    """Recent output of every instance, so `logs` after a restart keeps the arrival order."""
    data = {
        name: [[c.time, c.stream, c.data.decode("utf-8", "replace")] for c in chunks]
        for name, chunks in rings.items()
        if chunks
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")))
    os.replace(tmp, path)


def load_output(path: Path) -> dict[str, list[LogChunk]]:
    """What `save_output` kept (consumed: the file is removed); {} when there is none."""
    try:
        raw = json.loads(path.read_text())
        path.unlink()
        return {
            name: [LogChunk(float(t), str(s), str(d).encode()) for t, s, d in chunks]
            for name, chunks in raw.items()
        }
    except FileNotFoundError:
        return {}
    except (ValueError, TypeError, AttributeError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}
