"""`procsup daemon -f`: the master in the foreground, logging to stderr (systemd, Docker, CI),
or to a rotating file when the CLI started it in the background."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from procsup.cli.masterlog import BatchedStreamHandler, cheap_records

LOG_FORMAT = "%(asctime)s procsup[%(process)d] %(levelname)s %(message)s"
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 3


def run_foreground(config_path: Path, log_file: str | None = None) -> int:
    handler: logging.Handler
    if log_file:
        # only here: a foreground master (systemd, Docker) does without it and its pickle
        from logging.handlers import RotatingFileHandler

        handler = RotatingFileHandler(log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS)
    else:
        handler = BatchedStreamHandler(sys.stderr)
    cheap_records()
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, handlers=[handler])
    from procsup.control.compose import run_master

    return run_master(config_path)
