"""Say which field of a cron expression is wrong, and how ("hour 25 is out of range 0–23").

croniter only answers valid or not; people need the field, the value and the allowed range.
Pure and stdlib-only: used by the config checks after croniter has rejected an expression.
"""

from __future__ import annotations

import re

#: (name, low, high) of each field of a 5-field expression; 6 fields put "second" first
FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
SECOND = ("second", 0, 59)
_NUMBER = re.compile(r"\d+")


def explain(expr: str) -> str | None:
    """The first problem found in a 5- or 6-field cron expression, or None when none is
    recognised here (the caller then gives its general help)."""
    parts = expr.split()
    if len(parts) not in (5, 6):
        return (
            f"has {len(parts)} field(s); a cron expression has 5 (minute hour day-of-month "
            "month day-of-week) or 6 (second first)"
        )
    fields = FIELDS if len(parts) == 5 else (SECOND, *FIELDS)
    for text, (name, low, high) in zip(parts, fields, strict=True):
        problem = _field_problem(text, name, low, high)
        if problem is not None:
            return problem
    return None


def _field_problem(text: str, name: str, low: int, high: int) -> str | None:
    for item in text.split(","):
        if not item:
            return f"{name} {text} has an empty list item"
        span, _, step = item.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            return f"{name} step /{step} must be a whole number of 1 or more"
        bounds = span.split("-") if span not in ("*", "?") else []
        numbers = [int(b) for b in bounds if _NUMBER.fullmatch(b)]
        for n in numbers:
            if not low <= n <= high:
                return f"{name} {n} is out of range {low}–{high}"
    return None
