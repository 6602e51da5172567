"""Procfiles (foreman, honcho) → procsup programs.

Each `name: command` line is a program run in the Procfile's folder through `sh -c` (as
foreman and honcho do), with `PORT` set the way foreman sets it: `port_base` (5000) plus 100
for each process type in file order. A `.env` beside the Procfile becomes `env_file`.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from procsup.cli.migrate.common import Conversion, Entry, SourceError, read_text

KIND = "procfile"
LINE = re.compile(r"^([A-Za-z0-9_-]+)\s*:\s*(.+)$")
SHELL_CHARS = re.compile(r"[$|&;<>*?`(){}~]")
PORT_BASE = 5000
PORT_STEP = 100


def convert(path: Path, port_base: int = PORT_BASE) -> Conversion:
    text = read_text(path)
    conv = Conversion(sources=[(str(path), KIND)])
    folder = path.resolve().parent
    env_file = folder / ".env"
    index = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = LINE.match(line)
        if match is None:
            conv.warn(path, number, f"not `name: command`: {line[:60]!r}; skipped")
            continue
        name, command = match.groups()
        table = {
            "command": shell_command(command),
            "directory": str(folder),
            "environment": {"PORT": str(port_base + index * PORT_STEP)},
        }
        comments = [f"{path.name}:{number}; PORT as foreman gives it (port_base {port_base})"]
        if env_file.is_file():
            table["env_file"] = str(env_file)
            comments.append(".env beside the Procfile, as foreman and honcho read it")
        conv.add(Entry("programs", name, table, comments), path, number)
        index += 1
    if not conv.entries:
        raise SourceError(f"{path}: no `name: command` lines: not a Procfile")
    return conv


def shell_command(command: str, shell: str = "sh") -> str | list[str]:
    """A command procsup can run as written: plain words stay a string; anything a shell must
    read ($VARS, pipes, &&, redirections, globs) runs under `sh -c`, with `exec` so the program
    itself gets the stop signal."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = []
    if words and not SHELL_CHARS.search(command):
        return command
    compound = not words or re.search(r"[|;&\n]", command)
    return [shell, "-c", command if compound else f"exec {command}"]
