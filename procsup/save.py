"""`procsup save`: write the running set back into the config file (tomli-w).

Ad-hoc programs are added, run-time numprocs written; the previous file is kept as `.bak`.
Comments do not survive TOML rewriting, which is why the backup exists.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import tomli_w

from procsup.config_dump import program_to_dict

if TYPE_CHECKING:
    from procsup.registry import Registry


def save_config(path: Path, registry: Registry) -> list[str]:
    """Returns the programs whose run-time numprocs could not be written: they are defined in an
    included file, which `save` leaves alone."""
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    programs = doc.setdefault("programs", {})
    log_dir = registry.config.master.log_dir
    elsewhere = []
    for name, prog in registry.programs.items():
        if prog.adhoc:
            programs[name] = program_to_dict(prog.config, log_dir)
        if name in programs:
            programs[name]["numprocs"] = prog.numprocs
        elif prog.numprocs != prog.config.numprocs:
            elsewhere.append(name)
    shutil.copy2(path, path.with_name(path.name + ".bak"))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(tomli_w.dumps(doc))
    os.replace(tmp, path)
    return elsewhere
