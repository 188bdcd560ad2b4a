"""The clock port, the system clock, and UTC helpers shared by the composition."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, in UTC, truncated to microseconds (what databases keep)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def local(moment: datetime | None, timezone: str) -> str | None:
    """A moment in the owner's time zone, as people read it: 2026-02-19 11:00 CET."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def local_date(moment: datetime, timezone: str) -> date:
    """The day ``moment`` falls on in ``timezone``: the date a person there reads (00:37 at UTC+8 is
    already the next day, though UTC still says the day before)."""
    return moment.astimezone(ZoneInfo(timezone)).date()
