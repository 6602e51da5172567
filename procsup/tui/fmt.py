"""Cells, header and log lines for people: one place for every formatting decision.

Every function takes the time (`Clock`) explicitly, so a fixed clock gives identical output.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from rich.text import Text

from procsup.core.humanize import (
    STATE_ORDER,
    ago,
    exit_text,
    format_duration,
    format_size,
    state_style,
)
from procsup.core.schema import InstanceRow, RunRow, TaskRow

Row = Mapping[str, Any]
DASH = Text("-", style="dim")

RESULT_STYLES = {
    "ok": "green",
    "running": "yellow",
    "failed": "bold red",
    "timeout": "bold red",
    "lock-lost": "bold red",
    "unknown": "red",
    "stopped": "dim",
    "skipped": "dim",
}

#: instance table columns: key, label, width (None: as wide as the content)
INSTANCE_COLUMNS: list[tuple[str, str, int | None]] = [
    ("name", "name", None),
    ("state", "state", 9),
    ("health", "health", 22),
    ("pid", "pid", 8),
    ("uptime", "uptime", 11),
    ("restarts", "restarts", 8),
    ("cpu", "CPU%", 6),
    ("rss", "RSS", 7),
    ("last_exit", "last exit", 18),
    ("changes", "changed by you", 20),
]
TASK_COLUMNS: list[tuple[str, str, int | None]] = [
    ("name", "task", None),
    ("schedule", "schedule", None),
    ("timezone", "time zone", None),
    ("next", "next run", 22),
    ("last", "last run", 10),
    ("result", "last result", 18),
    ("duration", "duration", 8),
    ("running", "running", 14),
]


@dataclass(frozen=True)
class Clock:
    """Where "now" comes from, and the zone times are shown in (None: the local zone)."""

    now: Callable[[], float] = field(default=time.time)
    tz: tzinfo | None = None

    def clock_time(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.tz).strftime("%H:%M:%S")

    def short_time(self, t: float) -> str:
        """`18:01` today, `Nov 30 18:01` on another day."""
        at, now = datetime.fromtimestamp(t, self.tz), datetime.fromtimestamp(self.now(), self.tz)
        return at.strftime("%H:%M" if at.date() == now.date() else "%b %d %H:%M")


def state_text(state: str) -> Text:
    return Text(state, style=state_style(state))


def standby_text(row: InstanceRow) -> Text | None:
    """A singleton waiting for its lease on this host: who holds it (README, Many hosts)."""
    holder = row.get("standby")
    if holder is None:
        return None
    return Text(f"STANDBY (held by {holder})" if holder else "STANDBY", style="cyan")


def _right(value: str) -> Text:
    return Text(value, justify="right")


def uptime_text(row: InstanceRow, now: float) -> Text:
    next_try, started = row["next_try"], row["started"]
    if row["state"] == "BACKOFF" and next_try is not None:
        return Text("retry " + format_duration(max(0.0, next_try - now)), style="yellow")
    if started is None:
        return DASH
    return Text(format_duration(max(0.0, now - started)))


def last_exit_text(row: InstanceRow, now: float) -> Text:
    if row.get("spawn_error") and row.get("state") in ("BACKOFF", "FATAL"):
        return Text("could not start", style="red")
    code = row.get("last_exit")
    if code is None:
        return DASH
    style = "" if code in (0, -15) else "red"
    return Text(f"{exit_text(code)} {ago(row.get('last_exit_time'), now)}", style=style)


def changes_text(row: InstanceRow, clock: Clock) -> Text:
    """How the user's run-time changes make this instance differ from the config file (the
    row's `overrides`): `stopped 18:01`, `scaled to 4 (file 2)`, `added 18:01 (ad-hoc)`."""
    if row.get("waiting"):  # a start held back by depends_on says more than any override
        return Text(str(row["waiting"]), style="yellow")
    parts = []
    for ov in row.get("overrides") or []:
        at = ov.get("at")
        when = "" if at is None else " " + clock.short_time(at)
        kind = ov.get("kind")
        if kind == "scaled":
            parts.append(f"scaled to {ov.get('numprocs')} (file {ov.get('file_numprocs')})")
        elif kind == "adhoc":
            parts.append(f"added{when} (ad-hoc)")
        else:
            parts.append(f"{kind}{when}")
    return Text("; ".join(parts), style="magenta") if parts else DASH


def health_text(row: InstanceRow) -> Text:
    """`ready` in green, `not-ready: …` in yellow, with the program's STATUS= line; a dash for a
    program without health settings."""
    health, status = row.get("health"), row.get("status_text")
    if not health and not status:
        return DASH
    text = ": ".join(part for part in (health, status and f'"{status}"') if part)
    return Text(text, style="green" if row.get("ready") else "yellow")


def instance_cells(row: InstanceRow, now: float, clock: Clock) -> tuple[str | Text, ...]:
    cpu, rss, pid = row.get("cpu"), row.get("rss"), row.get("pid")
    return (
        row["name"],
        standby_text(row)
        or (Text("WAITING", style="yellow") if row.get("waiting") else state_text(row["state"])),
        health_text(row),
        DASH if pid is None else _right(str(pid)),
        uptime_text(row, now),
        _right(str(row.get("restarts", 0))),
        DASH if cpu is None else _right(f"{cpu:.1f}"),
        DASH if rss is None else _right(format_size(rss)),
        last_exit_text(row, now),
        changes_text(row, clock),
    )


def next_run_text(task: TaskRow, now: float) -> Text:
    if not task.get("enabled", True):
        return Text("disabled", style="dim")
    if task.get("paused"):
        return Text("paused", style="yellow")
    when, local = task.get("next_run"), task.get("next_run_local")
    if when is None:
        return DASH
    rel = "in " + format_duration(max(0.0, when - now))
    if not local:
        return Text(rel)
    at = datetime.fromisoformat(local)
    same_day = at.date() == datetime.fromtimestamp(now, at.tzinfo).date()
    return Text(f"{rel} ({at.strftime('%H:%M:%S' if same_day else '%a %H:%M')})")


def result_text(run: RunRow | None) -> Text:
    if not run:
        return DASH
    status = str(run.get("status"))
    text = Text(status, style=RESULT_STYLES.get(status, ""))
    if status == "stopped" and run.get("reason"):  # who stopped it says more than SIGTERM
        text.append(f" {run['reason']}", style="dim")
    elif run.get("exit_code") not in (None, 0):
        text.append(f" {exit_text(run['exit_code'])}", style="red")
    elif run.get("reason"):
        text.append(f" {run['reason']}", style="dim")
    return text


def running_text(task: TaskRow) -> Text:
    running = task.get("running") or []
    if not running:
        return Text("no", style="dim")
    if len(running) > 1:
        return Text(f"{len(running)} runs", style="bold yellow")
    pid = running[0].get("pid")
    return Text("yes" if pid is None else f"yes, pid {pid}", style="bold yellow")


def schedule_text(task: TaskRow) -> str:
    """The schedule, and the tasks whose runs start this one (`after import ok`)."""
    after = "; ".join(f"after {name} {cond}" for name, cond in (task.get("after") or {}).items())
    schedule = str(task.get("schedule") or "-")
    return f"{schedule}; {after}" if after else schedule


def task_cells(task: TaskRow, now: float) -> tuple[str | Text, ...]:
    last = task["last"]
    duration = last["duration"] if last else None
    return (
        task["name"],
        schedule_text(task),
        str(task.get("timezone") or "local"),
        next_run_text(task, now),
        Text(ago(last["started"] or last["ended"], now) if last else "-"),
        result_text(last),
        DASH if duration is None else _right(format_duration(duration)),
        running_text(task),
    )


def header_text(
    master: Row, counts: dict[str, int], tasks: Mapping[str, TaskRow], now: float
) -> Text:
    text = Text()
    text.append("procsup ", style="bold")
    text.append(str(master.get("version", "?")))
    text.append(" on ", style="dim")
    text.append(str(master.get("host", "?")), style="bold")
    started = master.get("started")
    if started is not None:
        text.append(" · up ", style="dim")
        text.append(format_duration(max(0.0, now - started)))
    text.append(" │ ", style="dim")
    text.append(f"{sum(counts.values())} instances:")
    for state in STATE_ORDER:
        if counts.get(state):
            text.append(" ")
            text.append(f"{counts[state]} {state}", style=state_style(state))
    busy = sum(1 for task in tasks.values() if task.get("running"))
    text.append(" │ ", style="dim")
    text.append(f"{len(tasks)} task" + ("" if len(tasks) == 1 else "s"))
    if busy:
        text.append(f" ({busy} running)", style="yellow")
    fleet = master.get("fleet")
    if fleet:
        text.append(" │ ", style="dim")
        text.append(f"fleet {fleet['cluster']} as {fleet['node']}")
        if fleet["redis"] != "connected":
            text.append(": redis unreachable, supervising locally", style="bold red")
    return text


def offline_text(address: str, reason: str, retry: float, attempt: int) -> Text:
    """The honest screen shown while no master answers."""
    text = Text()
    text.append("The procsup master is not reachable.\n\n", style="bold")
    text.append(f"socket: {address}\nreason: {reason}\n\n")
    text.append(f"Retrying every {retry:g}s" + (f" (attempt {attempt})" if attempt else ""))
    text.append("; the dashboard reconnects by itself when the master is back.\n")
    text.append("Start one with ")
    text.append("procsup daemon", style="bold")
    text.append(" or ")
    text.append("procsup start", style="bold")
    text.append(".   q quits.")
    return text


def log_line(item: dict[str, Any], clock: Clock) -> Text:
    if "notice" in item:
        return Text(f"-- {item['notice']} --", style="italic yellow")
    if item.get("stream") == "procsup":  # procsup's own line: why the process exited
        text = Text(clock.clock_time(item.get("time") or 0.0) + " ", style="dim")
        text.append("*** ", style="bold yellow")
        text.append(str(item.get("line", "")), style="bold yellow")
        return text
    err = item.get("stream") == "stderr"
    text = Text(clock.clock_time(item.get("time") or 0.0) + " ", style="dim")
    text.append("err " if err else "out ", style="bold red" if err else "dim cyan")
    text.append(str(item.get("line", "")), style="red" if err else "")
    return text


def details_lines(row: Row, clock: Clock) -> list[tuple[str, str]]:
    """Every key of a row, times shown as clock times and durations."""
    pairs = []
    for key, value in row.items():
        if isinstance(value, float) and key in TIME_KEYS:
            shown = f"{clock.clock_time(value)} ({ago(value, clock.now())})"
        elif isinstance(value, dict | list):
            shown = _compact(value)
        else:
            shown = "-" if value is None else str(value)
        pairs.append((key, shown))
    return pairs


TIME_KEYS = frozenset(
    {"started", "ended", "scheduled", "next_try", "last_exit_time", "next_run", "time"}
)


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items() if v is not None) or "-"
    return "; ".join(_compact(v) for v in value) or "-"
