"""Small pure converters for configuration values: durations, sizes, signals, modes, exit codes.

Each parser raises `ValueError` with a short message that says what is allowed; config/load.py
adds the file and key path. Formatters produce the compact forms used in tables.
"""

from __future__ import annotations

import math
import re
import signal

#: each unit in milliseconds: "1.5s" is 15 × 1000 / 10 ms, summed as exact integers
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.IGNORECASE)
_DURATION_HELP = "expected a duration like 500ms, 10s, 5m, 1h30m, 2d or a number of seconds"

_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?", re.IGNORECASE)
_SIZE_HELP = "expected a size like 512KB, 50MB, 1GB or a number of bytes"

_COMMON_SIGNALS = "TERM, INT, HUP, QUIT, KILL, USR1, USR2"


def _number(v: object) -> float | None:
    """Return v as a float if it is a real number (not a bool), else None."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def parse_duration(v: object) -> float:
    """Seconds from a number (seconds) or a string like "500ms", "1h30m", "1.5s", "2d"."""
    number = _number(v)
    if number is not None:
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"must be 0 or more; {_DURATION_HELP}")
        return number
    if not isinstance(v, str):
        raise ValueError(_DURATION_HELP)
    text = v.strip()
    if text.startswith("-"):
        raise ValueError(f"must not be negative; {_DURATION_HELP}")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    total, scale, pos = 0, 1, 0  # total / scale milliseconds, exactly
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        digits, part_scale = _exact(match.group(1))
        total = total * part_scale + digits * _DURATION_MS[match.group(2).lower()] * scale
        scale *= part_scale
        pos = match.end()
    if pos == 0 or pos != len(text):
        raise ValueError(_DURATION_HELP)
    return total / (scale * 1000)  # int / int is correctly rounded, as float(Decimal) was


def _exact(number: str) -> tuple[int, int]:
    """ "12.345" as (12345, 1000): a decimal number as an exact fraction, in plain integers.
    Not `decimal`, whose C module is ~0.4 MiB of every master's memory (issue 14)."""
    whole, _, fraction = number.partition(".")
    return int(whole + fraction), 10 ** len(fraction)


def parse_size(v: object) -> int:
    """Bytes from an int or a string like "512KB", "50MB", "1GiB", "10B" (K = 1024)."""
    if isinstance(v, bool):
        raise ValueError(_SIZE_HELP)
    if isinstance(v, int):
        if v < 0:
            raise ValueError(f"must be 0 or more; {_SIZE_HELP}")
        return v
    if not isinstance(v, str):
        raise ValueError(_SIZE_HELP)
    match = _SIZE_RE.fullmatch(v.strip())
    if match is None:
        raise ValueError(_SIZE_HELP)
    unit = _SIZE_UNITS[(match.group(2) or "").lower()]
    digits, scale = _exact(match.group(1))
    return digits * unit // scale  # what int() of the exact product gives (it is >= 0)


def parse_signal(v: object) -> signal.Signals:
    """A signal from a name ("TERM", "SIGTERM", "term") or a number (15)."""
    help_text = f"unknown signal; use a name like {_COMMON_SIGNALS}"
    if isinstance(v, str) and v.strip().isdigit():
        v = int(v.strip())
    if isinstance(v, bool):
        raise ValueError(help_text)
    if isinstance(v, int):
        try:
            return signal.Signals(v)
        except ValueError:
            raise ValueError(help_text) from None
    if not isinstance(v, str):
        raise ValueError(help_text)
    name = v.strip().upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return signal.Signals[name]
    except KeyError:
        raise ValueError(help_text) from None


def parse_octal_mode(v: object) -> int:
    """Permission bits from "0600", "0o660", "660" (octal) or an int (0o660 in TOML)."""
    help_text = 'expected permission bits like "0600" or "0660" (0000–0777)'
    if isinstance(v, bool):
        raise ValueError(help_text)
    if isinstance(v, int):
        mode = v
    elif isinstance(v, str) and re.fullmatch(r"(?:0o)?[0-7]{1,4}", v.strip().lower()):
        mode = int(v.strip().lower().removeprefix("0o"), 8)
    else:
        raise ValueError(help_text)
    if not 0 <= mode <= 0o777:
        raise ValueError(help_text + '; write a string "0660" or a TOML octal 0o660')
    return mode


def parse_exit_codes(v: object) -> frozenset[int]:
    """A set of exit codes from a list of ints 0..255 (a single int is accepted too)."""
    help_text = "expected a list of exit codes 0..255, like [0, 2]"
    items = [v] if isinstance(v, int) and not isinstance(v, bool) else v
    if not isinstance(items, list):
        raise ValueError(help_text)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 255:
            raise ValueError(help_text)
    return frozenset(items)


def duration_for_toml(seconds: float) -> str | float:
    """A duration as parse_duration reads it back exactly: "1h30m" for whole seconds, else the
    number itself (for writing config files)."""
    if seconds != int(seconds):
        return seconds
    whole, parts = int(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts) or "0s"


def size_for_toml(n: int) -> str | int:
    """A size as parse_size reads it back exactly: "50MB" when it divides evenly, else bytes."""
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n and n % size == 0:
            return f"{n // size}{unit}"
    return n


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_literal(v: object) -> str:
    """A value written as in a TOML file (`true`, `"8"`, `[0, 2]`, `{ A = "b" }`), so messages
    show people what they wrote, not Python's repr (`True`, `'8'`)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        import json  # TOML basic strings accept JSON's escapes

        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_literal(i) for i in v) + "]"
    if isinstance(v, dict):
        items = [f"{_toml_key(str(k))} = {toml_literal(i)}" for k, i in v.items()]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    if hasattr(v, "isoformat"):  # TOML dates and times
        return str(v.isoformat())
    return str(v)


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_literal(key)


def toml_type(v: object) -> str:
    """The TOML name of a value's type, with its article: "a string", "an integer"…"""
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a float"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list | tuple):
        return "an array"
    if isinstance(v, dict):
        return "a table"
    return "a date or time" if hasattr(v, "isoformat") else type(v).__name__
