"""Compact human forms of durations and sizes for tables. Imports nothing: the CLI's `list`
path loads it on every call."""

from __future__ import annotations


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
