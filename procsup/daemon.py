"""`procsup daemon -f`: the master in the foreground, logging to stderr (systemd, Docker, CI)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def run_foreground(config_path: Path) -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s procsup[%(process)d] %(levelname)s %(message)s",
    )
    from procsup.master import run_master

    return run_master(config_path)
