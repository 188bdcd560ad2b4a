"""The clock port, the system clock, and UTC helpers shared by the composition."""

from __future__ import annotations

from datetime import UTC, datetime
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
