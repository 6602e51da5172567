"""Where a command's program file is, found the way the spawn will find it, for `check`.

subprocess (like execvp) runs a name with a '/' relative to the child's working directory, and
looks a bare name up in the PATH of the child's own environment. A command that can never run is
better reported by `check` than discovered as a restart loop in production.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Resolved:
    """The program file a command would run, or why it cannot run (`problem` is None if fine)."""

    path: str | None
    problem: str | None = None


def resolve_command(argv0: str, env: Mapping[str, str], cwd: str) -> Resolved:
    """Find `argv0` as the spawn will: relative to `cwd` when it contains '/', else on the
    PATH of `env` (directories in PATH relative to `cwd` too)."""
    if "/" in argv0:
        path = os.path.normpath(os.path.join(cwd, argv0))
        where = "" if os.path.isabs(argv0) else f" (relative to {cwd})"
        return _usable(path, where)
    dirs = os.get_exec_path(dict(env))
    found = None
    for folder in dirs:
        path = os.path.normpath(os.path.join(cwd, folder, argv0))
        if os.path.isfile(path) and _executable(path):
            return Resolved(path)
        if found is None and os.path.exists(path) and not os.path.isdir(path):
            found = path  # the spawn would fail on it, unless a later folder has a good one
    if found is not None:
        return _usable(found, " (found in PATH)")
    return Resolved(None, f"{argv0} not found in PATH={os.pathsep.join(dirs)}")


def _usable(path: str, where: str) -> Resolved:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return Resolved(path, f"{path} does not exist{where}")
    except OSError as exc:
        return Resolved(path, f"{path}: {exc.strerror}{where}")
    if stat.S_ISDIR(mode):
        return Resolved(path, f"{path} is a directory, not a program{where}")
    if not _executable(path):
        return Resolved(
            path, f"{path} is not executable{where}; chmod +x it, or put its interpreter first"
        )
    return Resolved(path)


def _executable(path: str) -> bool:
    """X_OK for us; root passes X_OK when any execute bit is set, as exec requires."""
    return os.access(path, os.X_OK)
