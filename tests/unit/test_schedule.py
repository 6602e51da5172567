"""procsup.tasks.schedule: next-fire times, above all across DST changes. No clock reads."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from procsup.tasks.schedule import Fire, Schedule, Skipped

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
ZONES = [BERLIN, NEW_YORK, "Asia/Shanghai", "UTC"]


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> float:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp()


def local(
    zone: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, *, fold: int = 0
) -> float:
    return datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo(zone), fold=fold).timestamp()


# The four transitions of 2026 (instants of the change) and their wall-clock shapes.
BERLIN_FORWARD = utc(2026, 3, 29, 1)  # 02:00 CET -> 03:00 CEST
BERLIN_BACK = utc(2026, 10, 25, 1)  # 03:00 CEST -> 02:00 CET
NY_FORWARD = utc(2026, 3, 8, 7)  # 02:00 EST -> 03:00 EDT
NY_BACK = utc(2026, 11, 1, 6)  # 02:00 EDT -> 01:00 EST
TRANSITIONS = [
    (BERLIN, BERLIN_FORWARD),
    (BERLIN, BERLIN_BACK),
    (NEW_YORK, NY_FORWARD),
    (NEW_YORK, NY_BACK),
]


def isos(s: Schedule, fires: list[Fire]) -> list[str]:
    return [s.local_iso(f.at) for f in fires]


def test_transition_constants_are_the_real_changes() -> None:
    for zone, at in TRANSITIONS:
        z = ZoneInfo(zone)
        before = datetime.fromtimestamp(at - 1, z).utcoffset()
        assert before != datetime.fromtimestamp(at, z).utcoffset()


# -- plain cron ----------------------------------------------------------------------------


def test_five_fields_utc() -> None:
    s = Schedule("*/5 * * * *", "UTC")
    fire, skipped = s.next_after(utc(2026, 5, 4, 12, 3, 20))
    assert fire == Fire(utc(2026, 5, 4, 12, 5), "2026-05-04T12:05:00", None)
    assert skipped == []
    assert [f.at for f in s.upcoming(utc(2026, 5, 4, 12, 5), 3)] == [
        utc(2026, 5, 4, 12, 10),
        utc(2026, 5, 4, 12, 15),
        utc(2026, 5, 4, 12, 20),
    ]


def test_next_after_is_strictly_after() -> None:
    s = Schedule("0 12 * * *", "UTC")
    assert s.next_after(utc(2026, 5, 4, 12))[0].at == utc(2026, 5, 5, 12)
    assert s.next_after(utc(2026, 5, 4, 12) - 0.001)[0].at == utc(2026, 5, 4, 12)


def test_six_fields_seconds_first() -> None:
    s = Schedule("*/10 * * * * *", "UTC")
    fires = s.upcoming(utc(2026, 5, 4, 12, 0, 5), 3)
    assert [f.at for f in fires] == [
        utc(2026, 5, 4, 12, 0, 10),
        utc(2026, 5, 4, 12, 0, 20),
        utc(2026, 5, 4, 12, 0, 30),
    ]
    assert fires[0].nominal == "2026-05-04T12:00:10"
    only_second_30 = Schedule("30 0 3 * * *", "UTC")  # 03:00:30 every day
    assert only_second_30.next_after(utc(2026, 5, 4, 12))[0].at == utc(2026, 5, 5, 3, 0, 30)


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("@yearly", (2027, 1, 1, 0, 0)),
        ("@annually", (2027, 1, 1, 0, 0)),
        ("@monthly", (2026, 6, 1, 0, 0)),
        ("@weekly", (2026, 5, 10, 0, 0)),  # 2026-05-04 is a Monday; next Sunday
        ("@daily", (2026, 5, 5, 0, 0)),
        ("@midnight", (2026, 5, 5, 0, 0)),
        ("@hourly", (2026, 5, 4, 13, 0)),
        ("@DAILY", (2026, 5, 5, 0, 0)),
    ],
)
def test_aliases_in_shanghai(alias: str, expected: tuple[int, ...]) -> None:
    s = Schedule(alias, "Asia/Shanghai")
    fire, _ = s.next_after(local("Asia/Shanghai", 2026, 5, 4, 12, 30))
    assert fire.at == local("Asia/Shanghai", *expected)


def test_shanghai_offset_and_local_iso() -> None:
    s = Schedule("0 9 * * *", "Asia/Shanghai")
    fire, _ = s.next_after(utc(2026, 1, 1))
    assert fire.at == utc(2026, 1, 1, 1)  # 09:00 +08:00
    assert fire.nominal == "2026-01-01T09:00:00"
    assert s.local_iso(fire.at) == "2026-01-01T09:00:00+08:00"
    assert s.zone_name == "Asia/Shanghai"


def test_local_iso_berlin_winter() -> None:
    assert Schedule("@daily", BERLIN).local_iso(utc(2026, 11, 23, 13, 5)) == (
        "2026-11-23T14:05:00+01:00"
    )


@pytest.mark.parametrize(
    ("expr", "zone"),
    [("every minute", "UTC"), ("61 * * * *", "UTC"), ("@every", "UTC"), ("@often", "UTC")],
)
def test_bad_expression(expr: str, zone: str) -> None:
    with pytest.raises(ValueError):
        Schedule(expr, zone)


def test_bad_zone_and_impossible_date() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Schedule("* * * * *", "Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="never fires"):
        Schedule("0 0 30 2 *", "UTC")


@pytest.mark.parametrize(("tz", "name"), [("Asia/Shanghai", "Asia/Shanghai"), (":UTC", "UTC")])
def test_local_zone_from_tz(monkeypatch: pytest.MonkeyPatch, tz: str, name: str) -> None:
    monkeypatch.setenv("TZ", tz)
    assert Schedule("@daily").zone_name == name


def test_local_zone_falls_back_on_unusable_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")  # POSIX rule, not an IANA name
    s = Schedule("@daily")
    assert s.zone_name
    assert s.next_after(utc(2026, 1, 1))[0].at > utc(2026, 1, 1)


# -- @every --------------------------------------------------------------------------------


def test_every_counts_from_anchor() -> None:
    anchor = utc(2026, 5, 4, 12, 0, 7)
    s = Schedule("@every 30s", "UTC", anchor=anchor)
    assert s.next_after(anchor)[0].at == anchor + 30
    assert s.next_after(anchor + 29.5)[0].at == anchor + 30
    assert s.next_after(anchor + 30)[0].at == anchor + 60
    assert s.next_after(anchor - 45)[0].at == anchor - 30  # before the anchor: same grid
    fire, skipped = s.next_after(anchor + 1)
    assert (fire.nominal, fire.note, skipped) == ("2026-05-04T12:00:37", None, [])


@pytest.mark.parametrize(("every", "interval"), [("@every 30s", 30.0), ("@every 1.5s", 1.5)])
def test_every_does_not_drift(every: str, interval: float) -> None:
    anchor = 1_780_000_000.25
    s = Schedule(every, "UTC", anchor=anchor)
    fires = s.upcoming(anchor, 10_000)
    assert [f.at for f in fires] == [anchor + k * interval for k in range(1, 10_001)]


def test_every_ignores_dst() -> None:
    s = Schedule("@every 1h", BERLIN, anchor=0.0)
    fires = s.upcoming(BERLIN_BACK - 3 * 3600 - 1, 6)
    assert [f.at for f in fires] == [BERLIN_BACK + k * 3600 for k in range(-3, 3)]
    assert [f.nominal[11:] for f in fires] == [
        "00:00:00",
        "01:00:00",
        "02:00:00",  # CEST
        "02:00:00",  # CET: the clock hour repeats, elapsed time does not
        "03:00:00",
        "04:00:00",
    ]


# -- fixed-time jobs across DST ------------------------------------------------------------


def test_fixed_time_berlin_back_runs_once() -> None:
    s = Schedule("30 2 * * *", BERLIN)
    fires = s.upcoming(utc(2026, 10, 23), 4)
    assert isos(s, fires) == [
        "2026-10-23T02:30:00+02:00",
        "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00",  # the first 02:30 only
        "2026-10-26T02:30:00+01:00",
    ]
    assert all(f.note is None for f in fires)
    fire, skipped = s.next_after(fires[2].at)
    assert fire == fires[3]
    assert skipped == [Skipped(utc(2026, 10, 25, 1, 30), "2026-10-25T02:30:00", "dst-repeat")]


def test_fixed_time_berlin_forward_runs_after_gap() -> None:
    s = Schedule("30 2 * * *", BERLIN)
    fires = s.upcoming(utc(2026, 3, 27), 4)
    assert isos(s, fires) == [
        "2026-03-27T02:30:00+01:00",
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",  # 02:30 did not exist
        "2026-03-30T02:30:00+02:00",
    ]
    assert fires[2] == Fire(BERLIN_FORWARD, "2026-03-29T02:30:00", "dst-gap")
    assert [f.note for f in fires] == [None, None, "dst-gap", None]
    assert s.next_after(fires[1].at)[1] == []


def test_fixed_time_new_york() -> None:
    at_0230 = Schedule("30 2 * * *", NEW_YORK)
    fires = at_0230.upcoming(utc(2026, 3, 7), 2)
    assert isos(at_0230, fires) == ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00"]
    assert fires[1] == Fire(NY_FORWARD, "2026-03-08T02:30:00", "dst-gap")
    fires = at_0230.upcoming(utc(2026, 10, 31), 3)  # 02:30 is not repeated in New York
    assert isos(at_0230, fires) == [
        "2026-10-31T02:30:00-04:00",
        "2026-11-01T02:30:00-05:00",
        "2026-11-02T02:30:00-05:00",
    ]
    at_0130 = Schedule("30 1 * * *", NEW_YORK)  # ... but 01:30 is
    fires = at_0130.upcoming(utc(2026, 10, 31, 12), 2)
    assert isos(at_0130, fires) == ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
    assert at_0130.next_after(fires[0].at)[1] == [
        Skipped(utc(2026, 11, 1, 6, 30), "2026-11-01T01:30:00", "dst-repeat")
    ]


def test_every_two_hours_is_a_fixed_time_job() -> None:
    s = Schedule("0 */2 * * *", BERLIN)
    fires = s.upcoming(utc(2026, 10, 24, 21), 3)
    assert isos(s, fires) == [
        "2026-10-25T00:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T04:00:00+01:00",
    ]
    assert s.next_after(fires[1].at)[1] == [
        Skipped(BERLIN_BACK, "2026-10-25T02:00:00", "dst-repeat")
    ]
    fire, _ = s.next_after(utc(2026, 3, 28, 23, 30))
    assert fire == Fire(BERLIN_FORWARD, "2026-03-29T02:00:00", "dst-gap")


# -- hourly jobs across DST: the hour happens twice, or not at all -------------------------


def _day(zone: str, y: int, m: int, d: int) -> tuple[float, float]:
    """The instants of local midnight of that day and of the next."""
    following = date(y, m, d) + timedelta(days=1)
    return local(zone, y, m, d), local(zone, following.year, following.month, following.day)


def _fires_between(s: Schedule, start: float, end: float) -> list[float]:
    out: list[float] = []
    after = start - 1
    while True:
        fire, _ = s.next_after(after)
        if fire.at >= end:
            return out
        out.append(fire.at)
        after = fire.at


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        (BERLIN, (2026, 3, 29), 23),
        (BERLIN, (2026, 10, 25), 25),
        (NEW_YORK, (2026, 3, 8), 23),
        (NEW_YORK, (2026, 11, 1), 25),
    ],
)
@pytest.mark.parametrize("minutes", [15, 60])
def test_hourly_jobs_keep_elapsed_time(
    zone: str, day: tuple[int, int, int], hours: int, minutes: int
) -> None:
    """On a 23- or 25-hour day an every-N-minutes job fires every N elapsed minutes."""
    expr = "*/15 * * * *" if minutes == 15 else "0 * * * *"
    start, end = _day(zone, *day)
    assert end - start == hours * 3600
    fires = _fires_between(Schedule(expr, zone), start, end)
    assert fires == [start + k * minutes * 60 for k in range(hours * 60 // minutes)]


def test_quarter_hourly_berlin_back_day_exact() -> None:
    s = Schedule("*/15 * * * *", BERLIN)
    fires = s.upcoming(utc(2026, 10, 24, 23, 59), 10)
    assert [s.local_iso(f.at)[11:] for f in fires] == [
        "02:00:00+02:00",
        "02:15:00+02:00",
        "02:30:00+02:00",
        "02:45:00+02:00",
        "02:00:00+01:00",
        "02:15:00+01:00",
        "02:30:00+01:00",
        "02:45:00+01:00",
        "03:00:00+01:00",
        "03:15:00+01:00",
    ]
    assert [f.at for f in fires] == [utc(2026, 10, 25, 0) + k * 900 for k in range(10)]
    assert fires[4].nominal == fires[0].nominal == "2026-10-25T02:00:00"


def test_quarter_hourly_berlin_forward_day_collapses_gap() -> None:
    s = Schedule("*/15 * * * *", BERLIN)
    fire, skipped = s.next_after(utc(2026, 3, 29, 0, 45))  # 01:45 CET
    assert fire == Fire(BERLIN_FORWARD, "2026-03-29T03:00:00", None)  # a real 03:00 run
    assert skipped == [
        Skipped(BERLIN_FORWARD, f"2026-03-29T02:{m:02}:00", "dst-gap") for m in (0, 15, 30, 45)
    ]
    assert s.next_after(fire.at) == (Fire(BERLIN_FORWARD + 900, "2026-03-29T03:15:00"), [])


def test_gap_times_collapse_into_one_run() -> None:
    """No run at 03:00 itself: the first gap time runs there, the others are skipped."""
    s = Schedule("10,40 2 * * *", NEW_YORK)
    fire, skipped = s.next_after(utc(2026, 3, 8, 6))
    assert fire == Fire(NY_FORWARD, "2026-03-08T02:10:00", "dst-gap")
    assert skipped == [Skipped(NY_FORWARD, "2026-03-08T02:40:00", "dst-gap")]
    assert s.local_iso(s.next_after(fire.at)[0].at) == "2026-03-09T02:10:00-04:00"


# -- `after` inside the repeated hour ------------------------------------------------------


def test_after_in_second_occurrence_of_repeated_hour() -> None:
    after = local(BERLIN, 2026, 10, 25, 2, 20, fold=1)
    assert after == utc(2026, 10, 25, 1, 20)
    quarter = Schedule("*/15 * * * *", BERLIN)
    assert quarter.next_after(after)[0].at == utc(2026, 10, 25, 1, 30)
    hourly = Schedule("0 * * * *", BERLIN)
    assert hourly.next_after(after)[0].at == utc(2026, 10, 25, 2)  # 03:00 CET
    fixed = Schedule("30 2 * * *", BERLIN)
    fire, skipped = fixed.next_after(after)
    assert fixed.local_iso(fire.at) == "2026-10-26T02:30:00+01:00"
    assert skipped == [Skipped(utc(2026, 10, 25, 1, 30), "2026-10-25T02:30:00", "dst-repeat")]


def test_after_late_in_first_occurrence_goes_to_second() -> None:
    quarter = Schedule("*/15 * * * *", BERLIN)
    after = local(BERLIN, 2026, 10, 25, 2, 50)  # 02:50 CEST, fold 0
    fire, _ = quarter.next_after(after)
    assert (fire.at, fire.nominal) == (BERLIN_BACK, "2026-10-25T02:00:00")  # 02:00 CET
    ny = Schedule("*/15 * * * *", NEW_YORK)
    fire, _ = ny.next_after(local(NEW_YORK, 2026, 11, 1, 1, 59, 59))
    assert (fire.at, fire.nominal) == (NY_BACK, "2026-11-01T01:00:00")


# -- every second --------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "transition"), TRANSITIONS)
def test_every_second_across_transition(zone: str, transition: float) -> None:
    s = Schedule("* * * * * *", zone)
    fires = s.upcoming(transition - 6, 12)
    assert [f.at for f in fires] == [transition + k for k in range(-5, 7)]
    assert all(f.note is None for f in fires)
    walls = [f.nominal[11:] for f in fires]
    assert walls[4] == (datetime.fromtimestamp(transition - 1, ZoneInfo(zone)).strftime("%H:%M:%S"))
    assert walls[5] == datetime.fromtimestamp(transition, ZoneInfo(zone)).strftime("%H:%M:%S")


@pytest.mark.parametrize("back", [BERLIN_BACK, NY_BACK])
def test_every_second_through_both_occurrences_of_the_hour(back: float) -> None:
    """Also cheap: each step walks a few walls, not the whole repeated hour."""
    fires = Schedule("* * * * * *", BERLIN if back == BERLIN_BACK else NEW_YORK).upcoming(
        back - 600, 4300
    )
    assert [f.at for f in fires] == [back - 599 + k for k in range(4300)]


def test_every_second_forward_skips_the_missing_hour() -> None:
    s = Schedule("* * * * * *", BERLIN)
    fire, skipped = s.next_after(BERLIN_FORWARD - 1)
    assert fire == Fire(BERLIN_FORWARD, "2026-03-29T03:00:00")
    assert len(skipped) == 3600
    assert {(x.at, x.reason) for x in skipped} == {(BERLIN_FORWARD, "dst-gap")}
    assert skipped[0].nominal == "2026-03-29T02:00:00"


# -- against a brute-force oracle ----------------------------------------------------------


def _oracle(expr: str, zone: str, start: int, end: int, every_hour: bool) -> list[float]:
    """Minute by minute in real time: what should run, by the rules in the module docstring."""
    z = ZoneInfo(zone)
    fires: set[float] = set()
    for t in range(start, end, 60):
        moment = datetime.fromtimestamp(t, z)
        wall = moment.replace(tzinfo=None, fold=0)
        if not croniter.match(expr, wall):
            continue
        repeated = wall.replace(tzinfo=z, fold=1).timestamp() != wall.replace(tzinfo=z).timestamp()
        if not (moment.fold == 1 and repeated and not every_hour):
            fires.add(float(t))
    for t in range(start, end, 60):
        before = datetime.fromtimestamp(t - 60, z).utcoffset()
        jump = datetime.fromtimestamp(t, z).utcoffset() - before  # type: ignore[operator]
        if jump > timedelta(0):  # clocks went forward at t: did the gap hold a run?
            gap_end = datetime.fromtimestamp(t, z).replace(tzinfo=None)
            minutes = int(jump.total_seconds()) // 60
            gap = [gap_end - timedelta(minutes=k) for k in range(1, minutes + 1)]
            if any(croniter.match(expr, wall) for wall in gap):
                fires.add(float(t))
    return sorted(fires)


@pytest.mark.parametrize(
    ("expr", "every_hour"),
    [
        ("*/15 * * * *", True),
        ("0 * * * *", True),
        ("45 * * * *", True),
        ("30 2 * * *", False),
        ("30 1 * * *", False),
        ("0 */2 * * *", False),
        ("7,37 1-3 * * *", False),
        ("*/20 0-4 * * *", False),
    ],
)
@pytest.mark.parametrize(("zone", "transition"), TRANSITIONS)
def test_matches_brute_force(expr: str, every_hour: bool, zone: str, transition: float) -> None:
    start, end = int(transition) - 6 * 3600, int(transition) + 6 * 3600
    got = _fires_between(Schedule(expr, zone), start, end)
    assert got == _oracle(expr, zone, start, end, every_hour)


# -- property ------------------------------------------------------------------------------

_FIELD = {
    "second": ["0", "*/10", "*", "30"],
    "minute": ["*", "*/5", "*/15", "0", "30", "0,30", "10-20", "59"],
    "hour": ["*", "*/2", "2", "1", "0-3", "1,2,3", "3", "23"],
    "dom": ["*", "*", "1", "*/10", "15-20"],
    "month": ["*", "*", "3", "10,11", "*/3"],
    "dow": ["*", "*", "0", "1-5", "6"],
}


@st.composite
def cron_expressions(draw: st.DrawFn) -> str:
    fields = [draw(st.sampled_from(_FIELD[k])) for k in ("minute", "hour", "dom", "month", "dow")]
    if draw(st.booleans()):
        fields.insert(0, draw(st.sampled_from(_FIELD["second"])))
    return " ".join(fields)


_YEAR = (utc(2026, 1, 1), utc(2027, 1, 1))
afters = st.one_of(
    st.floats(*_YEAR, allow_nan=False),
    st.builds(
        lambda t, d: t + d,
        st.sampled_from([t for _, t in TRANSITIONS]),
        st.floats(-3 * 3600, 3 * 3600, allow_nan=False),
    ),
)


@settings(max_examples=80, deadline=None)
@given(expr=cron_expressions(), zone=st.sampled_from(ZONES), after=afters)
def test_fires_strictly_increase(expr: str, zone: str, after: float) -> None:
    s = Schedule(expr, zone)
    fire, skipped = s.next_after(after)
    assert fire.at > after
    assert all(after < x.at <= fire.at for x in skipped)
    instants = [f.at for f in s.upcoming(after, 50)]
    assert instants[0] == fire.at
    assert all(a < b for a, b in itertools.pairwise(instants))
