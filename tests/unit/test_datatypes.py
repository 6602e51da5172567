"""The pure converters in procsup.core.values."""

from __future__ import annotations

import datetime
import signal
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from procsup.core.humanize import format_duration, format_size
from procsup.core.values import (
    duration_for_toml,
    parse_duration,
    parse_exit_codes,
    parse_octal_mode,
    parse_signal,
    parse_size,
    size_for_toml,
    toml_literal,
    toml_type,
)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (0, 0.0),
        (10, 10.0),
        (1.5, 1.5),
        ("0", 0.0),
        ("10", 10.0),
        ("2.5", 2.5),
        ("500ms", 0.5),
        ("10s", 10.0),
        ("1.5s", 1.5),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("2d", 172800.0),
        ("1m30s250ms", 90.25),
        (" 10S ", 10.0),
    ],
)
def test_parse_duration_accepts(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize(
    "raw", [True, False, -1, "-5s", "", "s", "10x", "5 minutes", "1h30", "ms10", None, [1]]
)
def test_parse_duration_rejects(raw: object) -> None:
    with pytest.raises(ValueError, match="duration like 500ms"):
        parse_duration(raw)


def test_parse_duration_rejects_nan_and_inf() -> None:
    for raw in (float("nan"), float("inf")):
        with pytest.raises(ValueError):
            parse_duration(raw)


@pytest.mark.parametrize(
    ("raw", "size"),
    [
        (0, 0),
        (1024, 1024),
        ("1024", 1024),
        ("10B", 10),
        ("512KB", 512 * 1024),
        ("512kb", 512 * 1024),
        ("512K", 512 * 1024),
        ("512KiB", 512 * 1024),
        ("50MB", 50 * 1024**2),
        ("50 MiB", 50 * 1024**2),
        ("1GB", 1024**3),
        ("1.5GB", 3 * 1024**3 // 2),
        ("2TB", 2 * 1024**4),
    ],
)
def test_parse_size_accepts(raw: object, size: int) -> None:
    assert parse_size(raw) == size


@pytest.mark.parametrize("raw", [True, -1, "", "MB", "5XB", "5 mega", 1.5, None, "-1MB"])
def test_parse_size_rejects(raw: object) -> None:
    with pytest.raises(ValueError, match="size like 512KB"):
        parse_size(raw)


@pytest.mark.parametrize("raw", ["TERM", "SIGTERM", "term", " sigterm ", 15, "15"])
def test_parse_signal_accepts_names_and_numbers(raw: object) -> None:
    assert parse_signal(raw) is signal.SIGTERM


def test_parse_signal_other_names() -> None:
    assert parse_signal("HUP") is signal.SIGHUP
    assert parse_signal("usr1") is signal.SIGUSR1
    assert parse_signal("KILL") is signal.SIGKILL


@pytest.mark.parametrize("raw", ["FOO", "SIG", "", 0, 999, True, None, "SIG_DFL"])
def test_parse_signal_rejects_with_examples(raw: object) -> None:
    with pytest.raises(ValueError, match="TERM, INT, HUP"):
        parse_signal(raw)


@pytest.mark.parametrize(
    ("raw", "mode"),
    [("0600", 0o600), ("0o660", 0o660), ("660", 0o660), ("0", 0), (0o600, 0o600), (0o777, 0o777)],
)
def test_parse_octal_mode_accepts(raw: object, mode: int) -> None:
    assert parse_octal_mode(raw) == mode


@pytest.mark.parametrize("raw", ["0800", "rw-", "", "0o", True, 660, -1, "17777", None])
def test_parse_octal_mode_rejects(raw: object) -> None:
    # 660 as a TOML integer is decimal (0o1224): rejected rather than silently wrong
    with pytest.raises(ValueError, match="permission bits"):
        parse_octal_mode(raw)


def test_parse_exit_codes() -> None:
    assert parse_exit_codes([0, 2, 255]) == frozenset({0, 2, 255})
    assert parse_exit_codes([]) == frozenset()
    assert parse_exit_codes(3) == frozenset({3})


@pytest.mark.parametrize("raw", [[256], [-1], [True], ["0"], "0", None, [0, 1.5]])
def test_parse_exit_codes_rejects(raw: object) -> None:
    with pytest.raises(ValueError, match=r"0\.\.255"):
        parse_exit_codes(raw)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.25, "250ms"),
        (3, "3s"),
        (3.9, "3s"),
        (59, "59s"),
        (125, "2m05s"),
        (3720, "1h02m"),
        (86399, "23h59m"),
        (3 * 86400 + 4 * 3600 + 59, "3d04h"),
        (-5, "-5s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0B"),
        (1023, "1023B"),
        (1024, "1.0K"),
        (12_600, "12.3K"),
        (int(45.6 * 1024**2), "45.6M"),
        (512 * 1024**2, "512M"),
        (int(1.2 * 1024**3), "1.2G"),
    ],
)
def test_format_size(n: int, text: str) -> None:
    assert format_size(n) == text


@pytest.mark.parametrize("seconds", [0.0, 0.5, 1.0, 59.0, 90.0, 5400.0, 86400 + 61.0, 0.001])
def test_duration_for_toml_round_trips(seconds: float) -> None:
    assert parse_duration(duration_for_toml(seconds)) == seconds


def test_duration_for_toml_reads_well() -> None:
    assert duration_for_toml(5400.0) == "1h30m"
    assert duration_for_toml(0.0) == "0s"
    assert duration_for_toml(1.5) == 1.5


@pytest.mark.parametrize("n", [0, 1, 1000, 1024, 50 * 1024**2, 3 * 1024**3, 1024**2 + 1])
def test_size_for_toml_round_trips(n: int) -> None:
    assert parse_size(size_for_toml(n)) == n
    assert size_for_toml(50 * 1024**2) == "50MB"


@pytest.mark.parametrize(
    ("value", "written", "kind"),
    [
        (True, "true", "a boolean"),
        (8, "8", "an integer"),
        (1.5, "1.5", "a float"),
        (float("nan"), "nan", "a float"),
        (float("-inf"), "-inf", "a float"),
        ('say "hi"', '"say \\"hi\\""', "a string"),
        ([0, "x"], '[0, "x"]', "an array"),
        ({"A": "b", "two words": 1}, '{ A = "b", "two words" = 1 }', "a table"),
        ({}, "{}", "a table"),
        (datetime.date(2026, 5, 4), "2026-05-04", "a date or time"),
    ],
)
def test_messages_show_values_as_written_in_toml(value: object, written: str, kind: str) -> None:
    assert toml_literal(value) == written
    assert toml_type(value) == kind


_NUMBER = st.from_regex(r"\A[0-9]{1,12}(\.[0-9]{1,9})?\Z")
_UNIT = st.sampled_from(["ms", "s", "m", "h", "d", "MS", "S", "H"])
_DECIMAL_UNITS = {"ms": Decimal("0.001"), "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE_UNIT = st.sampled_from(["", "k", "KB", "m", "MiB", "g", "GB", "t", "b"])


@given(st.lists(st.tuples(_NUMBER, _UNIT), min_size=1, max_size=4))
def test_parse_duration_sums_exactly_as_decimal_did(parts: list[tuple[str, str]]) -> None:
    """Durations are summed in plain integers now: the same float as the exact decimal sum."""
    text = "".join(number + unit for number, unit in parts)
    exact = sum(Decimal(number) * _DECIMAL_UNITS[unit.lower()] for number, unit in parts)
    assert parse_duration(text) == float(exact)


@given(_NUMBER, _SIZE_UNIT)
def test_parse_size_truncates_exactly_as_decimal_did(number: str, unit: str) -> None:
    factor = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}.get(unit[:1].lower(), 1)
    assert parse_size(number + unit) == int(Decimal(number) * factor)
