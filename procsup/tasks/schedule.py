"""When a task fires: cron expressions and "@every" intervals, in the task's time zone.

Pure: no clock reads and no asyncio; every function takes the instant to start from. Instants
are epoch seconds. croniter walks *naive* wall-clock times only; each wall time is then mapped
to instants here with zoneinfo, because croniter's own time zone handling fires a fixed-time
job twice when clocks go back. The DST rules:

- a wall time that exists once runs once;
- a wall time in a gap (clocks went forward) runs once, at the first instant after the gap, with
  note "dst-gap"; further gap times collapsing onto that instant are Skipped("dst-gap"), and so
  are all of them when the instant after the gap is itself one of the schedule's times;
- a repeated wall time (clocks went back) runs at both instants when the hour field is a
  wildcard (the hour really happens twice), otherwise only at the first; the second occurrence
  is Skipped("dst-repeat").

"@every D" counts anchor + k*D in elapsed time: no drift, no DST effect.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from procsup.config.checks import check_schedule, every_interval
from procsup.core.values import toml_literal

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from croniter import croniter

_DAY = 86400
_EPOCH = datetime(1970, 1, 1)
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class Fire:
    """One run: when it starts, and the wall time in the task's zone the schedule named."""

    at: float
    nominal: str
    note: str | None = None  # "dst-gap": nominal did not exist, `at` is the end of the gap


@dataclass(frozen=True)
class Skipped:
    """An occurrence a naive cron would have run but this schedule does not."""

    at: float
    nominal: str
    reason: str  # "dst-repeat" or "dst-gap"


Event = Fire | Skipped

#: next_after of cron schedules, by (expression, zone, after): a pure function, and tasks that
#: share a schedule fire at the same instants, so 200 tasks on `* * * * * *` walk croniter once
#: a second, not 200 times (issue 14). Cleared whole when full.
_NEXT: dict[tuple[str, ZoneInfo, float], tuple[Fire, tuple[Skipped, ...]]] = {}
_NEXT_MAX = 4096


class Schedule:
    """A task's schedule in one time zone; see the module docstring for the DST rules."""

    def __init__(self, expr: str, timezone: str | None = None, anchor: float = 0.0) -> None:
        self.expr = check_schedule(expr)
        self._every = every_interval(self.expr)
        self._anchor = anchor
        self._zone_name, self._zone = _zone(timezone)
        self._cron = _ALIASES.get(self.expr, self.expr)
        self._seconds = len(self._cron.split()) == 6
        self._every_hour = False
        self._gaps: dict[int, tuple[datetime, bool]] = {}
        self._parsed: croniter | None = None
        if self._every is None:
            # imported with the first cron schedule: croniter and dateutil are ~3 MiB of a
            # master's memory, for nothing where no task has one (issue 14)
            from croniter import croniter

            self._parsed = croniter(self._cron, _EPOCH, second_at_beginning=self._seconds)
            hours = self._parsed.expanded[1]
            self._every_hour = hours == ["*"] or len(hours) == 24
            self._next_wall(datetime(2000, 1, 1))  # fail now on a schedule that never fires

    @property
    def zone_name(self) -> str:
        return self._zone_name

    @property
    def anchor(self) -> float:
        """Where @every intervals count from (kept across a reload that leaves them alone)."""
        return self._anchor

    def local_iso(self, at: float) -> str:
        """Like "2026-11-23T14:05:00+01:00", in the schedule's zone."""
        return datetime.fromtimestamp(at, self._zone).isoformat()

    def next_after(self, after: float) -> tuple[Fire, list[Skipped]]:
        """The first run strictly after `after`, and the occurrences skipped on the way."""
        if self._every is not None:
            return self._next_every(after, self._every), []
        # every instant of one whole second has the same answer (fires and skips fall on
        # whole seconds, and the walk starts from the floor): one croniter walk serves every
        # task re-armed in that second, whatever the microseconds of each one's `now`
        key = (self._cron, self._zone, math.floor(after))
        found = _NEXT.get(key)
        if found is None:
            if len(_NEXT) >= _NEXT_MAX:
                _NEXT.clear()
            found = _NEXT[key] = self._next_cron(after)
        return found[0], list(found[1])

    def _next_cron(self, after: float) -> tuple[Fire, tuple[Skipped, ...]]:
        start = _naive(math.floor(after + self._offset(after)))
        fire, skipped = self._walk(after, start)
        change = self._transition_in(after, after + _DAY)
        if change is not None and fire.at >= change:
            # Clocks going back repeat the walls from `change` + the new offset on; those
            # below `start` map (a second time) to instants from `change` on.
            repeated = _naive(change + self._offset(change))
            early, more = self._walk_repeated(after, repeated, start)
            fire = early if early is not None and early.at < fire.at else fire
            skipped = sorted((s for s in skipped + more if s.at <= fire.at), key=lambda s: s.at)
        return fire, tuple(skipped)

    def upcoming(self, after: float, n: int) -> list[Fire]:
        """The next `n` runs after `after`, earliest first."""
        fires: list[Fire] = []
        for _ in range(n):
            fire, _skipped = self.next_after(after)
            fires.append(fire)
            after = fire.at
        return fires

    def _next_every(self, after: float, interval: float) -> Fire:
        k = math.floor((after - self._anchor) / interval) + 1
        while self._anchor + (k - 1) * interval > after:  # float rounding, either way
            k -= 1
        while self._anchor + k * interval <= after:
            k += 1
        at = self._anchor + k * interval
        return Fire(at, datetime.fromtimestamp(at, self._zone).replace(tzinfo=None).isoformat())

    # -- walking wall times ----------------------------------------------------------------

    def _walls(self, start: datetime) -> Iterator[datetime]:
        """The schedule's wall times from `start` on (inclusive), as naive datetimes."""
        assert self._parsed is not None  # cron schedules only
        it = copy.copy(self._parsed)  # parsing is croniter's slow part; copies share it
        it.set_current(start - timedelta(seconds=1), force=True)
        while True:
            wall: datetime = it.get_next(datetime)
            yield wall

    def _next_wall(self, after: datetime) -> datetime:
        from croniter import CroniterBadDateError  # loaded already: a cron schedule exists

        try:
            return next(self._walls(after + timedelta(seconds=1)))
        except CroniterBadDateError:
            # croniter gives up after decades without a match, e.g. for "0 0 30 2 *"
            raise ValueError(
                f"schedule {toml_literal(self.expr)} never fires; check its day of month and month"
            ) from None

    def _walk(self, after: float, start: datetime) -> tuple[Fire, list[Skipped]]:
        """The earliest run after `after` among the walls from `start` on, and the skips."""
        best: Fire | None = None
        stop: datetime | None = None
        skipped: list[Skipped] = []
        for wall in self._walls(start):
            if stop is not None and wall > stop:
                break
            for event in self._events(wall):
                if event.at <= after:
                    continue
                if isinstance(event, Skipped):
                    skipped.append(event)
                elif best is None or event.at < best.at:
                    best, stop = event, self._walk_stop(after, event.at)
        assert best is not None  # the walk ends only once a run was found
        found = best
        return found, sorted((s for s in skipped if s.at <= found.at), key=lambda s: s.at)

    def _walk_repeated(
        self, after: float, start: datetime, until: datetime
    ) -> tuple[Fire | None, list[Skipped]]:
        """The first run among repeated walls in [start, until), whose second instants rise
        with the wall time, and the occurrences skipped before it."""
        skipped: list[Skipped] = []
        for wall in self._walls(start):
            if wall >= until:
                break
            for event in self._events(wall):
                if event.at <= after:
                    continue
                if isinstance(event, Fire):
                    return event, skipped
                skipped.append(event)
        return None, skipped

    def _walk_stop(self, after: float, best: float) -> datetime:
        """The last wall time that can still map to an instant in (after, best)."""
        stop = best + self._offset(best)
        back = self._transition_in(max(after, best - _DAY), best)
        if back is not None:  # walls repeated by clocks going back map to earlier instants
            stop = max(stop, back + self._offset(back - 1))
        return _naive(math.ceil(stop))

    # -- mapping one wall time to instants -------------------------------------------------

    def _events(self, wall: datetime) -> list[Event]:
        """The runs and skipped runs one nominal wall time stands for, earliest first."""
        nominal = wall.isoformat()
        first = wall.replace(tzinfo=self._zone).timestamp()
        second = wall.replace(tzinfo=self._zone, fold=1).timestamp()
        if self._wall(first) != wall:  # clocks jumped over it
            return [self._gap_event(wall, nominal, min(first, second), max(first, second))]
        if first == second:
            return [Fire(first, nominal)]
        if self._every_hour:
            return [Fire(first, nominal), Fire(second, nominal)]
        return [Fire(first, nominal), Skipped(second, nominal, "dst-repeat")]

    def _gap_event(self, wall: datetime, nominal: str, low: float, high: float) -> Event:
        """A wall time in a gap runs at the gap's end, unless another run already does."""
        end = self._transition_in(low, high)
        assert end is not None  # the offset differs on the two sides of a gap
        first_in_gap, end_is_run = self._gap_info(end)
        if end_is_run or wall != first_in_gap:
            return Skipped(float(end), nominal, "dst-gap")
        return Fire(float(end), nominal, "dst-gap")

    def _gap_info(self, end: int) -> tuple[datetime, bool]:
        """For the gap ending at `end`: its first nominal time, and whether `end` is one."""
        if end not in self._gaps:
            gap_start = _naive(end + self._offset(end - 1))
            gap_end = _naive(end + self._offset(end))
            end_is_run = self._next_wall(gap_end - timedelta(seconds=1)) == gap_end
            self._gaps[end] = (self._next_wall(gap_start - timedelta(seconds=1)), end_is_run)
        return self._gaps[end]

    def _wall(self, at: float) -> datetime:
        return datetime.fromtimestamp(at, self._zone).replace(tzinfo=None)

    def _offset(self, at: float) -> int:
        offset = datetime.fromtimestamp(at, self._zone).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def _transition_in(self, low: float, high: float) -> int | None:
        """The first whole second in (low, high] with another UTC offset than `low`'s.

        Assumes at most one transition in the span (tzdata has them months apart).
        """
        before = self._offset(low)
        if self._offset(high) == before:
            return None
        lo, hi = math.floor(low), math.ceil(high)  # offset(lo) == before != offset(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._offset(mid) == before:
                lo = mid
            else:
                hi = mid
        return hi


def _naive(seconds: float) -> datetime:
    """Epoch-like seconds of a wall clock (instant + offset) as a naive datetime."""
    return _EPOCH + timedelta(seconds=seconds)


def _zone(name: str | None) -> tuple[str, ZoneInfo]:
    # imported with the first schedule, as croniter: zoneinfo brings sysconfig along, ~0.3 MiB
    # of a master without tasks (issue 14)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if name is not None:
        try:
            return name, ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {toml_literal(name)}; use an IANA name like Europe/Berlin"
            ) from None
    return _local_zone()


def _local_zone() -> tuple[str, ZoneInfo]:
    """The host's zone: $TZ, else /etc/localtime (its link target's name), else UTC."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    candidates = [os.environ.get("TZ", "").removeprefix(":")]
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "/zoneinfo/" in target:
            candidates.append(target.split("/zoneinfo/", 1)[1])
    timezone_file = Path("/etc/timezone")  # Debian keeps the name here too
    if timezone_file.is_file():
        candidates.append(timezone_file.read_text(errors="replace").strip())
    for candidate in filter(None, candidates):
        candidate = candidate.rsplit("/zoneinfo/", 1)[-1]  # TZ=/usr/share/zoneinfo/Asia/Tokyo
        try:
            return candidate, ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            continue
    try:
        with localtime.open("rb") as f:
            return "localtime", ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError):
        return "UTC", ZoneInfo("UTC")
