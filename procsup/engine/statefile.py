"""Desired state that survives the master: user start/stop decisions, scale, ad-hoc programs, and
the pids of running instances (so the next master can find leftovers after a `kill -9`)."""

from __future__ import annotations

import grp
import json
import logging
import os
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

from procsup.config.load import MasterConfig
from procsup.engine.logs import LogChunk

log = logging.getLogger(__name__)

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


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
    cgroup: str = ""  # the cgroup subtree in use, so a later master finds its leftovers


def load_state(path: Path) -> SavedState:
    """Read the state file; a missing or corrupt one means a fresh start (logged)."""
    try:
        raw = json.loads(path.read_text())
        known = SavedState.__dataclass_fields__
        return SavedState(**{k: v for k, v in raw.items() if k in known})
    except FileNotFoundError:
        return SavedState()
    except (ValueError, TypeError, AttributeError) as exc:  # AttributeError: not an object
        log.warning("ignoring unreadable state file %s: %s", path, exc)
        return SavedState()


def write_state(path: Path, state: SavedState) -> None:
    """Atomic replace, so a crash mid-write never leaves a torn file."""
    # the fields as they are (plain JSON values), not asdict's deep copy of 2,000 entries
    # on every write (issue 14: a `stop all` writes the file every STATE_WRITE_DELAY)
    fields = {f.name: getattr(state, f.name) for f in dataclass_fields(state)}
    _write_private(path, json.dumps(fields, separators=(",", ":")))


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, readable by the master's user only (0600): the state
    holds ad-hoc programs' environment (passwords), the kept output whatever programs printed."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE)
    with os.fdopen(fd, "w") as f:
        os.fchmod(fd, PRIVATE_FILE)  # an older .tmp may have had another mode
        f.write(text)
    os.replace(tmp, path)


def secure_state_dir(master: MasterConfig, config_dir: Path) -> None:
    """Create the state_dir private, and make an existing one private (older procsup versions
    made it 0755). The config file's folder (or a parent of it) is left alone: programs may run
    there as other users."""
    state_dir = master.state_dir
    mode, group = _state_dir_access(master)
    state_dir.mkdir(mode=mode, parents=True, exist_ok=True)
    if config_dir.is_relative_to(state_dir):
        log.warning(
            "state_dir %s holds the config file's folder, so it is not made private (%o); "
            "give the state_dir a folder of its own",
            state_dir,
            mode,
        )
        return
    st = state_dir.stat()
    if group is not None and st.st_gid != group:
        os.chown(state_dir, -1, group)
    if st.st_mode & 0o7777 != mode:
        os.chmod(state_dir, mode)
        log.info("state_dir %s was mode %o, now %o (private)", state_dir, st.st_mode & 0o7777, mode)


def _state_dir_access(master: MasterConfig) -> tuple[int, int | None]:
    """0700, plus the search bit (never read) for whoever `socket_mode` lets use a socket that
    lives inside the state_dir, so sharing the socket keeps working; with `socket_group`, the
    folder's group becomes that group (so its search bit is theirs)."""
    if not master.socket.is_relative_to(master.state_dir):
        return PRIVATE_DIR, None
    group_x = 0o010 if master.socket_mode & 0o060 else 0
    other_x = 0o001 if master.socket_mode & 0o006 else 0
    group = None
    if group_x and master.socket_group:
        try:
            group = grp.getgrnam(master.socket_group).gr_gid
        except KeyError:
            group = None  # the server reports the unknown group
    return PRIVATE_DIR | group_x | other_x, group


def save_output(path: Path, rings: dict[str, list[LogChunk]]) -> None:
    """Recent output of every instance, so `logs` after a restart keeps the arrival order."""
    data = {
        name: [[c.time, c.stream, c.data.decode("utf-8", "replace")] for c in chunks]
        for name, chunks in rings.items()
        if chunks
    }
    _write_private(path, json.dumps(data, separators=(",", ":")))


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
