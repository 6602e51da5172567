"""What an instance does when its run ends: the restart policy, apart from the state machine.

These are the program's rules (`autorestart`, `exit_codes`, `start_seconds`, `stop_signal`,
`watchdog_signal`) read against one ending; `Instance` carries out the answer. Kept pure so the
policy reads in one place and the instance module keeps to spawning and states.
"""

from __future__ import annotations

import logging
from typing import Any

from procsup.config.load import ProgramConfig
from procsup.core.schema import ExitFacts
from procsup.core.states import State
from procsup.engine import exitinfo
from procsup.engine.backoff import QUICK_EXIT_FLOOR, RunInfo
from procsup.engine.exitinfo import Ending
from procsup.engine.output import Output
from procsup.engine.stopping import StopPolicy

log = logging.getLogger("procsup.engine.instance")  # where the exit sentences always were

#: why a stop ends the run, unless a restart or a hang said otherwise (shared, never changed)
STOP_REQUESTED = ("stop requested", exitinfo.STOPPED)


def restart_wanted(cfg: ProgramConfig, code: int) -> tuple[bool, bool]:
    """(expected, wanted): whether `code` is one of `exit_codes`, and whether `autorestart`
    asks for a new run after it."""
    expected = code in cfg.exit_codes
    wanted = cfg.autorestart == "always" or (cfg.autorestart == "on-failure" and not expected)
    return expected, wanted


def left_exited_why(cfg: ProgramConfig, desired: bool, wanted: bool) -> str:
    """Why an ended run is not replaced: the policy, nobody wants it running, or the singleton
    lease is held by another host."""
    if not desired:
        return "not meant to run"
    if wanted:
        return "the singleton lease is not held here"
    return f"autorestart = {cfg.autorestart}"


def got_going(cfg: ProgramConfig, state: State, ran: float) -> bool:
    """A run that counts as started: past start_seconds (and QUICK_EXIT_FLOOR), and, where
    READY=1 or a readiness probe ends STARTING, RUNNING. Its exit restarts at once and clears
    the backoff; a shorter run is a failed start."""
    if (cfg.notify or cfg.readiness) and state != State.RUNNING:
        return False
    return ran >= max(cfg.start_seconds, QUICK_EXIT_FLOOR)


def stop_ending(cfg: ProgramConfig, code: int, ran: float, hung: str | None, why: str) -> Ending:
    """How a run we stopped ended: for a stop, `(stop requested)` after the exit; for a hang,
    the hang first (`watchdog: no keep-alive for 3s: killed by SIGABRT after 9s`)."""
    if hung is not None:
        signal = cfg.watchdog_signal
        note = exitinfo.stop_note(code, signal, cfg.stop_timeout, "").removeprefix("; ")
        return Ending.hung(hung, code, ran, note)
    return Ending.of(code, ran, exitinfo.stop_note(code, cfg.stop_signal, cfg.stop_timeout, why))


def stop_policy(cfg: ProgramConfig, name: str, hung: bool) -> StopPolicy:
    """How to stop `name`: watchdog_signal for a hung run, stop_signal otherwise."""
    signal = cfg.watchdog_signal if hung else cfg.stop_signal
    return StopPolicy(name, signal, cfg.stop_timeout)


def report(
    name: str, info: RunInfo, output: Output, ending: Ending, what: str, **step: Any
) -> ExitFacts:
    """Say why the run ended and what comes next: in the master log, as a marked line in the
    output stream, in `list` (through `info`); returns the fields for the state event."""
    facts = ending.fields(name, what, **step)
    info.exit_cause, info.exit_reason = ending.cause, facts["reason"]
    quiet = ending.expected is not False and ending.code is not None
    log.log(logging.INFO if quiet else logging.WARNING, "%s", facts["reason"])
    output.mark(facts["reason"])
    return facts
