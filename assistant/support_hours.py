"""When the response clock runs: support hours, and the priorities that never wait for them.

The support guide (``../shared/seeds/``, support process) staffs Monday to Friday, 9 AM to
5 PM, and keeps an on-call engineer for P0 and P1 outside those hours; its response
targets for everything else count business hours. A P3 that arrives on Friday at 16:30
is therefore not due on Saturday: the clock runs for 30 minutes, stops at 17:00 and runs
again on Monday at 9:00.

``ResponseClock`` turns a priority and an arrival time into ``due_by`` and into the words
a holding message uses. Without support hours (the default, and what the SPEC describes)
every target counts clock time, so nothing changes for a deployment that sets none.
With them, a priority outside ``around_the_clock`` counts open minutes only (the way
help-desk SLA calendars do): with 9-5 hours a P3's 24 hours is three working days, and a
deployment that means "the next working day" sets P3 to 480 minutes.

>>> from datetime import datetime, timezone
>>> hours = SupportHours.parse("Mon-Fri 09:00-17:00", "UTC")
>>> clock = ResponseClock({"P0": 0, "P1": 120, "P2": 240, "P3": 1440}, hours)
>>> friday = datetime(2026, 12, 4, 16, 30, tzinfo=timezone.utc)
>>> clock.due("P2", friday).isoformat()
'2026-12-07T12:30:00+00:00'
>>> clock.due("P1", friday).isoformat()       # on call: clock time
'2026-12-04T18:30:00+00:00'
>>> clock.when("P2", friday)
'by Monday 7 December at 12:30 (UTC)'
>>> clock.when("P2", datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc))
'within 4 hours'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_TARGET_MIN = 1440  # a priority with no target of its own: 24 hours, as P3
MAX_WEEKS = 52  # the longest target, in weeks of support hours
_HOURS = re.compile(r"^\s*(?P<days>[A-Za-z,\s-]+?)\s+(?P<opens>\d{1,2}:\d{2})\s*-\s*(?P<closes>\d{1,2}:\d{2})\s*$")


def _day(name: str, spec: str) -> int:
    """A day's number (0 is Monday) from its name or first three letters, any case."""
    word = name.strip().lower()
    for number, full in enumerate(_DAY_NAMES):
        if word in (full, full[:3]):
            return number
    raise ValueError(f"support hours {spec!r}: {name.strip()!r} is no day (Mon, Tue, ... Sun)")


def _clock_time(text: str, spec: str) -> time:
    hour, minute = (int(x) for x in text.split(":"))
    if hour == 24 and minute == 0:
        return time.max  # "24:00": the end of the day
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"support hours {spec!r}: {text!r} is no time of day (00:00 to 24:00)")
    return time(hour, minute)


@dataclass(frozen=True)
class SupportHours:
    """The hours people answer, on the days they work, in one time zone."""

    days: frozenset[int]  # 0 is Monday
    opens: time
    closes: time
    zone: ZoneInfo
    closed_dates: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, spec: str, zone: str = "UTC", closed_dates: Iterable[date] = ()) -> "SupportHours":
        """Hours written as ``"Mon-Fri 09:00-17:00"`` (days: names or ranges, comma-separated).

        >>> SupportHours.parse("Mon-Wed, Sat 08:30-12:00").days
        frozenset({0, 1, 2, 5})
        """
        match = _HOURS.match(spec or "")
        if not match:
            raise ValueError(f"support hours {spec!r}: write days and hours like 'Mon-Fri 09:00-17:00'")
        days: set[int] = set()
        for piece in match["days"].split(","):
            if not piece.strip():
                continue
            first, dash, last = piece.partition("-")
            if dash and not last.strip():
                raise ValueError(f"support hours {spec!r}: {piece.strip()!r} has no last day (write Mon-Fri)")
            a = _day(first, spec)
            b = _day(last, spec) if dash else a
            if b < a:
                raise ValueError(f"support hours {spec!r}: {piece.strip()!r} runs backwards (write Mon-Fri, not Fri-Mon)")
            days.update(range(a, b + 1))
        if not days:
            raise ValueError(f"support hours {spec!r}: name the days, like 'Mon-Fri 09:00-17:00'")
        opens, closes = _clock_time(match["opens"], spec), _clock_time(match["closes"], spec)
        if closes <= opens:  # a night shift would cross midnight: two windows, not one
            raise ValueError(f"support hours {spec!r}: closing time must be after opening time on the same day")
        try:
            tz = ZoneInfo(zone.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"support time zone {zone!r} is unknown: use an IANA name like 'America/Chicago'") from None
        return cls(frozenset(days), opens, closes, tz, frozenset(closed_dates))

    def open_minutes_per_week(self) -> int:
        """Minutes open in a week without closed dates."""
        closes = 24 * 60 if self.closes == time.max else self.closes.hour * 60 + self.closes.minute
        return len(self.days) * (closes - (self.opens.hour * 60 + self.opens.minute))

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The open hours of one local date, in UTC (None when closed that day)."""
        if day.weekday() not in self.days or day in self.closed_dates:
            return None
        # fold=0 and the zone's rules give the real instant even on the days clocks change.
        start = datetime.combine(day, self.opens, tzinfo=self.zone).astimezone(timezone.utc)
        if self.closes == time.max:
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone).astimezone(timezone.utc)
        else:
            end = datetime.combine(day, self.closes, tzinfo=self.zone).astimezone(timezone.utc)
        return start, end

    def add(self, start: datetime, minutes: int) -> datetime:
        """The moment ``minutes`` of open time after ``start`` (aware); 0 minutes: the next open moment."""
        now = start.astimezone(timezone.utc)
        left = timedelta(minutes=minutes)
        day = now.astimezone(self.zone).date()
        # Every date is tried once; closed dates are finite, so an open day comes within a few
        # weeks of any date, and a year of targets is a few thousand steps at most.
        while True:
            window = self._window(day)
            if window is not None and now < window[1]:
                begin = max(now, window[0])
                if begin + left <= window[1]:
                    return begin + left
                left -= window[1] - begin
                now = window[1]
            day += timedelta(days=1)

    def describe(self, moment: datetime) -> str:
        """``moment`` as a customer reads it: "Monday 7 December at 09:00 (America/Chicago)"."""
        local = moment.astimezone(self.zone)
        return f"{local:%A} {local.day} {local:%B} at {local:%H:%M} ({self.zone.key})"


def within(minutes: int) -> str:
    """A response target in words: "right away", "within 2 hours", "within 100 minutes"."""
    if minutes <= 0:
        return "right away"
    if minutes < 60 or minutes % 60:  # "within 100 minutes", not "within 1.66667 hours"
        return f"within {minutes} minutes"
    hours = minutes // 60
    return f"within {hours:g} hour{'s' if hours != 1 else ''}"


@dataclass(frozen=True)
class ResponseClock:
    """Response targets (minutes per priority) and the hours they count in."""

    targets: Mapping[str, int]
    hours: SupportHours | None = None  # None: around the clock, every priority
    around_the_clock: frozenset[str] = frozenset({"P0", "P1"})

    def __post_init__(self):
        # A year of targets is the limit either way: a P3 of 525,600 minutes counted in one
        # minute a week would run past the calendar (year 9999) and fail every request.
        if self.hours is None:
            return
        waiting = [p for p in self.targets if self.counts_hours(p)]
        weekly = self.hours.open_minutes_per_week()
        longest = max(waiting, key=self.minutes, default=None)
        if longest is not None and self.minutes(longest) > MAX_WEEKS * weekly:
            raise ValueError(f"{longest}'s target of {self.minutes(longest)} minutes would take more than a year "
                             f"of support hours ({weekly} open minutes a week): shorten it, widen the hours, "
                             f"or keep {longest} on call")

    @classmethod
    def of(cls, targets: "ResponseClock | Mapping[str, int]") -> "ResponseClock":
        """A clock as given, or plain targets counted around the clock."""
        return targets if isinstance(targets, ResponseClock) else cls(dict(targets))

    def minutes(self, priority: str) -> int:
        return self.targets.get(priority, DEFAULT_TARGET_MIN)

    def counts_hours(self, priority: str) -> bool:
        """Whether ``priority``'s clock stops outside support hours."""
        return self.hours is not None and priority not in self.around_the_clock

    def due(self, priority: str, start: datetime) -> datetime:
        """When a person must have responded to a request of ``priority`` that arrived at ``start`` (UTC)."""
        if self.counts_hours(priority):
            return self.hours.add(start, self.minutes(priority))
        return start.astimezone(timezone.utc) + timedelta(minutes=self.minutes(priority))

    def when(self, priority: str, now: datetime) -> str:
        """What a holding message promises: the target's length while the clock runs straight
        through ("within 4 hours"), the moment itself when support hours stop it on the way."""
        due = self.due(priority, now)
        if due - now == timedelta(minutes=self.minutes(priority)):
            return within(self.minutes(priority))
        return "by " + self.hours.describe(due)
