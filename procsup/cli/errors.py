"""The CLI's exit codes and errors, shared by the commands, the fleet views and main().

Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error, 3 no master.
"""

from __future__ import annotations

from procsup.control.client import NoMaster

OK, FAILED, USAGE, NO_MASTER = 0, 1, 2, 3


class SocketGone(NoMaster):
    """A master holds the pid lock, but its socket does not answer (the file was deleted)."""


class CliError(Exception):
    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.code = code
