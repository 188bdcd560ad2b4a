"""Calendar schedules: scheduled moments in the owner's time zone, safe across DST.

A schedule names wall-clock moments ("every Monday at 09:00", "the 1st and 15th of each
month at 18:30") in an IANA time zone. Each moment is computed in local time and then
converted to UTC, so 09:00 stays 09:00 on both sides of a DST change. A local time that
does not exist (the spring-forward gap) moves forward by the gap; a local time that
happens twice (fall back) means its first occurrence.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class CalendarSchedule:
    """Every ``every`` (day, week, month) on ``on`` (weekday names or month days) at ``at``."""

    every: str
    at: time
    timezone: str
    on: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.every not in ("day", "week", "month"):
            raise ValueError(f"every must be day, week or month, got {self.every!r}")
        if self.every == "week" and not all(0 <= d <= 6 for d in self.on):
            raise ValueError(f"weekdays must be 0..6, got {self.on!r}")
        if self.every == "month" and not all(1 <= d <= 31 for d in self.on):
            raise ValueError(f"month days must be 1..31, got {self.on!r}")
        if self.every != "day" and not self.on:
            raise ValueError("a weekly or monthly schedule needs at least one day")

    def _days_from(self, start: date) -> Iterator[date]:
        day = start
        while True:
            if self.every == "day" or self.every == "week" and day.weekday() in self.on:
                yield day
            elif self.every == "month":
                last = calendar.monthrange(day.year, day.month)[1]
                # The 31st in a 30-day month is the month's last day.
                if day.day in {min(d, last) for d in self.on}:
                    yield day
            day += timedelta(days=1)

    def local_moment(self, day: date) -> datetime:
        """The UTC instant of this schedule's wall-clock time on ``day``."""
        zone = ZoneInfo(self.timezone)
        local = datetime.combine(day, self.at, tzinfo=zone)  # fold=0: gap moves forward
        return local.astimezone(UTC)

    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled moment strictly after ``moment`` (an aware datetime)."""
        zone = ZoneInfo(self.timezone)
        start = moment.astimezone(zone).date() - timedelta(days=1)
        for day in self._days_from(start):
            candidate = self.local_moment(day)
            if candidate > moment:
                return candidate
        raise AssertionError("unreachable: schedules always have a next moment")

    def shortest_gap(self) -> timedelta:
        """The shortest time between two consecutive scheduled moments (over a year)."""
        probe = datetime(2026, 1, 1, tzinfo=UTC)
        moments = [self.next_after(probe)]
        for _ in range(400 if self.every == "day" else 120):
            moments.append(self.next_after(moments[-1]))
        return min(b - a for a, b in zip(moments, moments[1:], strict=False))

