"""`procsup save`: write the running set back into the config file, edited in place.

Ad-hoc programs are added as `[programs.NAME]` tables and run-time numprocs written into their
programs' tables; every other line, comment and blank line of a hand-written file stays as it
was (tomlkit edits the parsed document; tomli-w, which writes from scratch, would drop them).
The previous file is kept as `.bak`. tomlkit is imported here only, and only when `save` runs:
neither the CLI nor the master pays for it (~4 MiB of the master's memory, issue 14).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from procsup.config.dump import program_to_dict
from procsup.config.load import ProgramConfig

if TYPE_CHECKING:
    from tomlkit.items import Table


class RunningProgram(Protocol):
    """A program as it runs now (engine.program.Program), as far as `save` reads it."""

    @property
    def config(self) -> ProgramConfig: ...

    @property
    def numprocs(self) -> int: ...

    @property
    def adhoc(self) -> bool: ...


def save_config(path: Path, programs: Mapping[str, RunningProgram], log_dir: Path) -> list[str]:
    """Write the running set (ad-hoc programs, numprocs) into the file at `path`. Returns the
    programs whose run-time numprocs could not be written: they are defined in an included
    file, which `save` leaves alone."""
    import tomlkit

    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # edited since the master loaded it: leave it to its author
        raise OSError(f"it is not valid TOML any more ({exc}); fix it, then save") from None
    if "programs" not in doc:
        doc.append("programs", tomlkit.table(is_super_table=True))
    tables = doc["programs"]
    if not isinstance(tables, dict):
        raise OSError("its `programs` is not a table any more; fix it, then save")
    elsewhere = []
    for name, prog in programs.items():
        if prog.adhoc:
            tables[name] = _new_table(program_to_dict(prog.config, log_dir))
        if name in tables:
            if tables[name].get("numprocs", 1) != prog.numprocs:
                tables[name]["numprocs"] = prog.numprocs
        elif prog.numprocs != prog.config.numprocs:
            elsewhere.append(name)
    import shutil  # here, with tomlkit: shutil brings bz2 and lzma into the master (issue 14)

    shutil.copy2(path, path.with_name(path.name + ".bak"))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    shutil.copystat(path, tmp)  # keep the file's mode
    os.replace(tmp, path)
    return elsewhere


def _new_table(values: dict[str, Any]) -> Table:
    """A `[programs.NAME]` table as a person would write it: tables of values (environment)
    inline, and a blank line after it."""
    import tomlkit

    table = tomlkit.table()
    for key, value in values.items():
        if isinstance(value, dict):
            inline = tomlkit.inline_table()
            inline.update(value)
            table.add(key, inline)
        else:
            table.add(key, value)
    table.add(tomlkit.nl())
    return table
