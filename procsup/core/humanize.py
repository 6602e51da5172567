"""How things look to people, in one place for the CLI tables and the TUI alike: durations,
sizes, exit statuses, and each state's colour and rank. Imports only the stdlib
(no `typing`): the CLI's `list` path loads it on every call."""

from __future__ import annotations

#: each state's look (core/states.py's words: a State is its own string, and the CLI's `list`
#: path does not import that module, whose `enum` costs it ~2 ms), in the order a summary lists
#: them (most alive first): the ANSI SGR code the CLI colours it with, and the rich style the
#: TUI uses
STATE_LOOKS: dict[str, tuple[str, str]] = {
    "RUNNING": ("32", "bold green"),
    "STARTING": ("33", "yellow"),
    "STOPPING": ("33", "yellow"),
    "BACKOFF": ("33", "bold yellow"),
    "FATAL": ("31", "bold red"),
    "EXITED": ("31", "red"),
    "STOPPED": ("2", "dim"),
}
STATE_ORDER: list[str] = list(STATE_LOOKS)


def state_rank(state: str) -> int:
    """Where a state sorts (RUNNING first); an unknown word last."""
    return STATE_ORDER.index(state) if state in STATE_LOOKS else len(STATE_ORDER)


def _look(state: str) -> tuple[str, str] | None:
    return STATE_LOOKS.get(state)


def state_ansi(state: str) -> str | None:
    """The CLI's colour of a state (None: an unknown word, shown plain)."""
    look = _look(state)
    return None if look is None else look[0]


def state_style(state: str) -> str:
    """The TUI's style of a state."""
    look = _look(state)
    return "" if look is None else look[1]


def exit_text(code: int | None) -> str:
    """How a process last ended: `exit 0`, `exit 1`, `SIGKILL` (`-` when it never has)."""
    if code is None:
        return "-"
    if code < 0:
        import signal  # only here: building its enums costs every `procsup list` 0.5 ms

        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"


def ago(ts: float | None, now: float) -> str:
    """`5m02s ago`; `-` for no time."""
    return "-" if ts is None else f"{format_duration(max(0.0, now - ts))} ago"


def format_duration(seconds: float) -> str:
    """Compact human form for tables: "250ms", "3s", "2m05s", "1h02m", "3d04h"."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if 0 < seconds < 1:
        return f"{int(seconds * 1000)}ms"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def format_size(n: int) -> str:
    """Compact human form for tables: "0B", "900B", "12.3K", "45.6M", "512M", "1.2G"."""
    if n < 1024:
        return f"{n}B"
    value = float(n)
    for unit in "KMGTP":
        value /= 1024
        if value < 1024 or unit == "P":
            break
    return f"{value:.1f}{unit}" if value < 100 else f"{value:.0f}{unit}"


#: how `last_exit_cause` begins for a run replaced because it hung (exitinfo.Ending.hung):
#: `list` shows such a cause while the replacement runs
HUNG_CAUSES = ("watchdog:", "max_silence:", "liveness:")
