"""Why a process ended and what happens next: one sentence for people, plain fields for scripts.

`worker:5 exited: killed by SIGKILL after 2h03m (not expected); restarting now` is written once
here and shown everywhere a person looks (master log, `events`, `list`, the TUI, `logs -f`, task
history), so the wording never drifts between them. Pure functions over plain values; imports
nothing heavy, since the CLI's `list` path may load it.
"""

from __future__ import annotations

import errno
import os
import signal
from dataclasses import dataclass

from procsup.core.humanize import format_duration

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    from typing import Any

    from procsup.core.schema import ExitFacts

#: what happens after an exit, as the `next` field of a state event
RESTART, RETRY, FATAL, EXITED, STOPPED = "restart", "retry", "fatal", "exited", "stopped"


def signal_name(code: int | None) -> str | None:
    """`SIGKILL` for an exit code of -9; None when the process was not killed by a signal."""
    if code is None or code >= 0:
        return None
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def how_it_ended(code: int) -> str:
    """`killed by SIGKILL`, `exited with code 1`."""
    name = signal_name(code)
    return f"killed by {name}" if name else f"exited with code {code}"


def exit_cause(code: int, uptime: float | None, note: str | None = None) -> str:
    """`exited: killed by SIGKILL after 2h03m (not expected)`, `exited with code 0 after 3s`;
    `note` is the parenthesis: "expected", "not expected", "stop requested"."""
    how = how_it_ended(code)
    text = f"exited: {how}" if code < 0 else how
    if uptime is not None:
        text += " after " + (format_duration(uptime) if uptime >= 0.001 else "less than 1ms")
    return f"{text} ({note})" if note else text


def spawn_cause(error: str) -> str:
    return f"could not start: {error}"


def stop_note(code: int, stop_signal: int, stop_timeout: float, why: str) -> str:
    """Why it was stopped (`stop requested`), and whether that had to fall back to SIGKILL."""
    if code == -signal.SIGKILL and stop_signal != signal.SIGKILL:
        return f"{why}; SIGKILL after stop_timeout {format_duration(stop_timeout)}"
    return why


@dataclass(frozen=True)
class Ending:
    """How one run ended, or why it could not start."""

    cause: str  # exit_cause(…) or spawn_cause(…)
    code: int | None = None  # exit status; negative: killed by that signal; None: not started
    uptime: float | None = None
    expected: bool | None = None  # None: a stop or a spawn error, where it does not apply
    spawn_error: str | None = None

    @classmethod
    def of(cls, code: int, uptime: float, note: bool | str) -> Ending:
        """An exit; `note` is whether it was expected, or a note such as "stop requested"."""
        if isinstance(note, bool):
            text = exit_cause(code, uptime, "expected" if note else "not expected")
            return cls(text, code, uptime, note)
        return cls(exit_cause(code, uptime, note), code, uptime)

    @classmethod
    def hung(cls, hang: str, code: int, uptime: float, note: str) -> Ending:
        """A run replaced because it hung: `watchdog: no keep-alive for 3s: killed by SIGABRT
        after 9s` (the hang first: it is the reason, the signal only how it ended)."""
        text = f"{hang}: {how_it_ended(code)} after {format_duration(uptime)}"
        return cls(f"{text} ({note})" if note else text, code, uptime, expected=False)

    def fields(self, name: str, what: str, **step: Any) -> ExitFacts:
        """The keys of the state event (`reason` is the whole sentence; see docs/protocol.md)."""
        code = self.code
        return {
            "code": code,
            "exit_code": code if code is not None and code >= 0 else None,
            "signal": signal_name(code),
            "expected": self.expected,
            "uptime": None if self.uptime is None else round(self.uptime, 3),
            "next": what,
            "delay": step.get("delay"),
            "spawn_error": self.spawn_error,
            "cause": self.cause,
            "reason": sentence(name, self.cause, next_step(what, **step)),
        }


def next_step(what: str, **facts: Any) -> str:
    """The "what happens next" half of the sentence, from `what` (RESTART, RETRY…) and facts."""
    if what == RESTART:
        return "restarting now"
    if what == RETRY:
        text = f"retry in {format_duration(facts['delay'])} (attempt {facts['attempt']})"
        return "failed start, " + text if facts.get("quick") else text
    if what == FATAL:
        return (
            f"giving up after {facts['attempt']} failed starts in a row "
            f"(max_restarts = {facts['max_restarts']}): FATAL"
        )
    if what == EXITED:
        return f"not restarted ({facts['why']})"
    return "stays stopped"


def sentence(name: str, cause: str, step: str) -> str:
    return f"{name} {cause}; {step}"


def run_sentence(
    task: str,
    run_id: str,
    status: str,
    exit_code: int | None,
    duration: float | None,
    reason: str | None,
) -> str:
    """How a task run ended: `task import: run 7 failed: exited with code 1 after 2s`,
    `task import: run 8 timeout: ran longer than 30s; killed by SIGTERM after 30s`."""
    how = None if exit_code is None else exit_cause(exit_code, duration)
    parts = [p for p in (reason, how) if p]
    if reason and how and how in reason:
        parts = [reason]
    detail = "; ".join(parts) or "no exit status"
    return f"task {task}: run {run_id} {status}: {detail}"


def spawn_error_text(exc: BaseException, argv0: str, cwd: str | None) -> str:
    """The OS error of a failed spawn, naming what it was about and where a relative command
    was looked for: `No such file or directory: ./bin/worker.sh (relative to /srv/app)`."""
    if not isinstance(exc, OSError):
        return str(exc) or type(exc).__name__
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return f"{exc.strerror or exc}"
    what = exc.strerror or str(exc)
    if cwd is not None and exc.filename == cwd:
        return f"{what}: working directory {cwd}"
    if "/" not in argv0:
        where = " (not found in PATH)" if exc.errno == errno.ENOENT else ""
        return f"{what}: {argv0}{where}"
    if exc.errno == errno.EACCES and os.path.isdir(os.path.join(cwd or "", argv0)):
        what += " (a directory, not a program)"  # execve's EACCES alone does not say why
    if not os.path.isabs(argv0) and cwd is not None:
        return f"{what}: {argv0} (relative to {cwd})"
    return f"{what}: {argv0}"
