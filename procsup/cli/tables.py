"""Formatting for people: aligned tables and short relative times. All output formatting of the
CLI lives here, so the commands stay about what to ask and the look stays consistent."""

from __future__ import annotations

import time

from procsup.core.humanize import (
    HUNG_CAUSES,
    ago,
    exit_text,
    format_duration,
    format_size,
    state_ansi,
)

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    from collections.abc import Sequence  # collections costs `procsup list` ~1 ms to import
    from typing import Any

    from procsup.core.schema import InstanceRow, RunRow, TaskRow


def table(
    headers: Sequence[str],
    rows: list[list[str]],
    colour_col: int | None = None,
    colour: bool = False,
) -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing blanks; the state
    column coloured on a terminal. One format string for every row: `list` of 2,000 instances
    lays out 18,000 cells (issue 14)."""
    widths = [len(h) for h in headers]
    for i, column in enumerate(zip(*rows, strict=True)):
        widths[i] = max(widths[i], *map(len, column))
    if rows and len(rows[0]) != len(headers):
        raise ValueError(f"rows of {len(rows[0])} cells under {len(headers)} headers")
    plain = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [plain.format(*headers).rstrip()]
    if not colour or colour_col is None:
        lines += [plain.format(*row).rstrip() for row in rows]
        return "\n".join(lines)
    fields = [f"{{:<{w}}}" for w in widths]
    fields[colour_col] = f"\033[{{}}m{fields[colour_col]}\033[0m"
    tinted = "  ".join(fields)
    for row in rows:
        code = state_ansi(row[colour_col])
        if code is None:
            lines.append(plain.format(*row).rstrip())
        else:
            cells = [*row[:colour_col], code, *row[colour_col:]]
            lines.append(tinted.format(*cells).rstrip())
    return "\n".join(lines)


def until(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    clock = time.strftime("%H:%M:%S", time.localtime(ts))
    return f"{clock} (in {format_duration(max(0.0, ts - now))})"


def instance_note(row: InstanceRow, now: float) -> str:
    """What a person wants to know beyond the state: why it is not running (the exit sentence
    the master logged, without the name), when it retries, and whether the user's start/stop
    overrides the file."""
    note = _state_note(row, now)
    overrides = _overrides(row, program_wide=False)
    if not overrides:
        return note
    return "; ".join(n for n in (note, *overrides) if n)


def _state_note(row: InstanceRow, now: float) -> str:
    state, reason, cause = row["state"], row.get("last_exit_reason"), row.get("last_exit_cause")
    if row.get("waiting"):
        return str(row["waiting"])
    if state in ("EXITED", "FATAL") and reason:
        return f"{reason.removeprefix(row['name'] + ' ')} ({ago(row.get('last_exit_time'), now)})"
    if state == "BACKOFF" and cause:
        note = cause
    elif row.get("spawn_error") and state in ("BACKOFF", "FATAL"):
        note = f"could not start: {row['spawn_error']}"
    elif state in ("EXITED", "FATAL", "BACKOFF"):
        note = f"{exit_text(row.get('last_exit'))} {ago(row.get('last_exit_time'), now)}"
    elif cause and cause.startswith(HUNG_CAUSES):  # replaced because it hung: say so
        return f"last exit: {cause} ({ago(row.get('last_exit_time'), now)})"
    else:
        return ""
    if state == "BACKOFF":
        note += f"; attempt {row.get('attempt', 0)}, next try {until(row.get('next_try'), now)}"
    return note


PROGRAM_WIDE = ("scaled", "adhoc")  # overrides that every instance of a program carries
RESET_HINT = "(`procsup reload --reset` applies the config file as written)"


def _overrides(row: InstanceRow, program_wide: bool) -> list[str]:
    if not row.get("overrides"):
        return []  # most rows: `list` asks this of every one, twice
    return [
        str(o.get("text"))
        for o in row.get("overrides") or []
        if (o.get("kind") in PROGRAM_WIDE) == program_wide
    ]


def program_notes(instances: list[InstanceRow]) -> list[str]:
    """Lines under the `list` table for run-time changes of whole programs (`worker: scaled to
    4, file says 2`), once per program, with how to undo them; [] when there are none."""
    notes: dict[str, None] = {}
    for row in instances:
        for text in _overrides(row, program_wide=True):
            notes[f"{row['program']}: {text}"] = None
    if not notes and not any(_overrides(r, program_wide=False) for r in instances):
        return []
    return [*notes, RESET_HINT]


RELOAD_KEYS = (
    "added",
    "removed",
    "changed",
    "scaled",
    "tasks_added",
    "tasks_removed",
    "tasks_changed",
    "needs_restart",
)


def reload_lines(result: dict[str, Any]) -> list[str]:
    """What `reload` did, what it kept of the user's run-time changes, or what --reset undid."""
    lines = [
        f"{key.replace('_', ' ')}: {', '.join(result[key])}"
        for key in RELOAD_KEYS
        if result.get(key)
    ]
    if not lines:
        lines.append("nothing changed in the config file")
    if result.get("reset"):
        lines.append("undone by --reset: " + "; ".join(result["reset"]))
    if result.get("kept"):
        lines.append("kept: " + "; ".join(result["kept"]))
        lines.append(RESET_HINT)
    return lines


def log_note(row: InstanceRow) -> str:
    """Why output is not reaching a log file, and how much never did (since the master started)."""
    error, dropped = row.get("log_error"), row.get("log_dropped") or 0
    if not error and not dropped:
        return ""
    if not error:
        return f"log: {format_size(dropped)} dropped"
    return f"log {error}; {format_size(dropped)} dropped" if dropped else f"log {error}"


def info_text(row: InstanceRow, now: float) -> str:
    """The INFO column: health and the program's STATUS= line, the instance's own note, then
    any log-file trouble."""
    if _quiet(row):  # most rows of a big `list`: nothing to say, known without building it
        return ""
    parts = (health_note(row), instance_note(row, now), log_note(row))
    return "; ".join(part for part in parts if part)


def _quiet(row: InstanceRow) -> bool:
    """Whether every part of info_text would be empty: no health, STATUS=, waiting, overrides
    or log trouble, and a state whose note needs no exit (not EXITED, FATAL, BACKOFF) nor a
    cause (a hung predecessor)."""
    return not (
        row.get("health")
        or row.get("status_text")
        or row.get("waiting")
        or row.get("overrides")
        or row.get("log_error")
        or row.get("log_dropped")
        or row.get("last_exit_cause")
        or row["state"] in ("EXITED", "FATAL", "BACKOFF")
    )


def health_note(row: InstanceRow) -> str:
    """`ready, watchdog 1s ago: "processing job 42"`; "" for a program without health settings."""
    health, status = row.get("health"), row.get("status_text")
    if status:
        return f'{health}: "{status}"' if health else f'"{status}"'
    return health or ""


LIST_HEADERS = ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "CPU", "MEM", "LAST EXIT", "INFO"]


def state_text(row: InstanceRow) -> str:
    """The state, or for a singleton standing by, STANDBY and who holds its lease."""
    holder = row.get("standby")
    if holder is None:
        return row["state"]
    return f"STANDBY (held by {holder})" if holder else "STANDBY"


def rows_of(result: dict[str, Any]) -> list[InstanceRow]:
    """The instance rows of a `list` result, sent as `instances` or as `columns` and `rows`
    (control/rowjson.py: the keys once, then each row's values)."""
    if "columns" not in result:
        return result["instances"]
    keys = result["columns"]
    rows: list[Any] = [dict(zip(keys, values, strict=True)) for values in result["rows"]]
    return rows


def list_rows(instances: list[InstanceRow], now: float | None = None) -> list[list[str]]:
    now = time.time() if now is None else now
    rows = []
    for r in instances:
        cpu, rss, uptime = r.get("cpu"), r.get("rss"), r.get("uptime")
        rows.append(
            [
                r["name"],
                state_text(r),
                str(r["pid"]) if r.get("pid") else "-",
                format_duration(uptime) if uptime is not None else "-",
                str(r.get("restarts", 0)),
                f"{cpu:.1f}%" if cpu is not None else "-",
                format_size(rss) if rss is not None else "-",
                exit_text(r.get("last_exit")),
                info_text(r, now),
            ]
        )
    return rows


TASK_HEADERS = ["TASK", "SCHEDULE", "ZONE", "NEXT RUN", "LAST RUN", "RESULT", "DURATION", "RUNNING"]
HISTORY_HEADERS = ["RUN", "TASK", "TRIGGER", "SCHEDULED", "STARTED", "DURATION", "RESULT"]


def task_rows(tasks: list[TaskRow], now: float | None = None) -> list[list[str]]:
    now = time.time() if now is None else now
    rows = []
    for t in tasks:
        last, running = t["last"], t["running"]
        nxt = t["next_run"]
        next_text = "-" if nxt is None else f"{_zone_clock(t['next_run_local'])}"
        if nxt is not None:
            next_text += f" (in {format_duration(max(0.0, nxt - now))})"
        if not t["enabled"]:
            next_text = "disabled"
        elif t.get("paused"):
            next_text = "paused"
        chained = ", ".join(f"after {n} {c}" for n, c in t.get("after", {}).items())
        rows.append(
            [
                t["name"],
                f"{t['schedule']}; {chained}" if chained else t["schedule"],
                t["timezone"] or "-",
                next_text,
                ago(_last_at(last), now) if last else "-",
                run_result(last) if last else "never ran",
                _duration(last["duration"] if last else None),
                ", ".join(f"pid {r['pid']}" for r in running if r["pid"]) or "-",
            ]
        )
    return rows


def _last_at(run: RunRow) -> float | None:
    return run["started"] or run["last_scheduled"] or run["scheduled"]


def history_rows(runs: list[RunRow]) -> list[list[str]]:
    return [
        [
            r["run_id"],
            r["task"],
            r["trigger"],
            _clock(r.get("scheduled")),
            _clock(r.get("started")),
            _duration(r.get("duration")),
            run_result(r),
        ]
        for r in runs
    ]


def run_result(run: RunRow) -> str:
    """`ok`, `failed (exit 2)`, `timeout`, `skipped ×12: overlap`, with the reason when known."""
    status = run.get("status", "?")
    if status == "failed" and run.get("exit_code") is not None and not run.get("reason"):
        status += f" ({exit_text(run['exit_code'])})"
    if status == "skipped" and run.get("count", 1) > 1:
        status += f" ×{run['count']}"
    reason = run.get("reason")
    return f"{status}: {reason}" if reason else status


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.3f}s" if seconds < 10 else format_duration(seconds)


def _clock(ts: float | None) -> str:
    """A run's time in the viewer's zone, to the millisecond (start delays are visible)."""
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + f".{int(ts % 1 * 1000):03d}"


def _zone_clock(iso: str | None) -> str:
    """'2026-11-23T14:05:00+01:00' → '2026-11-23 14:05:00' (the zone is its own column)."""
    if not iso:
        return "-"
    return iso[:19].replace("T", " ")
