"""A whole year of one switch's life, stepped by a fake clock: check-ins, a missed month, a fire, a veto."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from switch import Event, Status, Step, SwitchState, arm, check_in, iso, policy_from_dict, run_due, vote

POLICY = policy_from_dict({
    "interval": "35d",
    "timezone": "Europe/Rome",
    "reminders": ["7d", "1d"],
    "grace": "7d",
    "grace_reminder_every": "3d",
    "confirm": {"window": "2d", "verifiers": ["ana", "budi"], "quorum": 2},
    "stages": [{"name": "staff", "after": "0d"}, {"name": "family", "after": "14d"},
               {"name": "customers", "after": "21d"}],
})
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAYS_IN_YEAR = 365


class FakeClock:
    """A clock that moves only when the test tells it to."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, *, days: int = 0, hours: int = 0) -> datetime:
        self._now += timedelta(days=days, hours=hours)
        return self._now


def _checkin(state: SwitchState, now: datetime) -> Step:
    return check_in(POLICY, state, now, via="link")


def _ana_says_unreachable(state: SwitchState, now: datetime) -> Step:
    return vote(POLICY, state, now, "ana", "unreachable")


# Days after START. The owner checks in monthly, misses the check-in due on day 150, and
# comes back on day 180: after the family stage ran, before the customers stage.
INPUTS: dict[int, Callable[[SwitchState, datetime], Step]] = {
    30: _checkin, 60: _checkin, 90: _checkin, 120: _checkin,
    163: _ana_says_unreachable,
    180: _checkin, 210: _checkin, 240: _checkin, 270: _checkin, 300: _checkin, 330: _checkin, 360: _checkin,
}

EXPECTED = [
    ("2026-02-02T09:00:00Z", "reminder", None),
    ("2026-02-04T09:00:00Z", "checkin", None),
    ("2026-03-04T09:00:00Z", "reminder", None),
    ("2026-03-06T09:00:00Z", "checkin", None),
    ("2026-04-03T09:00:00Z", "reminder", None),
    ("2026-04-05T09:00:00Z", "checkin", None),
    ("2026-05-03T09:00:00Z", "reminder", None),
    ("2026-05-05T09:00:00Z", "checkin", None),
    # The missed month: deadline 2026-06-09, grace to 06-16, verifiers asked until 06-18.
    ("2026-06-02T09:00:00Z", "reminder", None),
    ("2026-06-08T09:00:00Z", "reminder", None),
    ("2026-06-09T09:00:00Z", "deadline", None),
    ("2026-06-12T09:00:00Z", "grace_reminder", None),
    ("2026-06-15T09:00:00Z", "grace_reminder", None),
    ("2026-06-16T09:00:00Z", "confirm_requested", "ana"),
    ("2026-06-16T09:00:00Z", "confirm_requested", "budi"),
    ("2026-06-17T09:00:00Z", "vote", "ana"),
    ("2026-06-18T09:00:00Z", "fired", None),
    ("2026-06-18T09:00:00Z", "stage", "staff"),
    ("2026-07-02T09:00:00Z", "stage", "family"),
    # Back from hospital: the customers stage (due 07-09) never runs.
    ("2026-07-04T09:00:00Z", "cancelled", None),
    ("2026-07-04T09:00:00Z", "checkin", None),
    ("2026-08-01T09:00:00Z", "reminder", None),
    ("2026-08-03T09:00:00Z", "checkin", None),
    ("2026-08-31T09:00:00Z", "reminder", None),
    ("2026-09-02T09:00:00Z", "checkin", None),
    ("2026-09-30T09:00:00Z", "reminder", None),
    ("2026-10-02T09:00:00Z", "checkin", None),
    ("2026-10-30T09:00:00Z", "reminder", None),
    ("2026-11-01T09:00:00Z", "checkin", None),
    ("2026-11-29T09:00:00Z", "reminder", None),
    ("2026-12-01T09:00:00Z", "checkin", None),
    ("2026-12-29T09:00:00Z", "reminder", None),
    ("2026-12-31T09:00:00Z", "checkin", None),
]


def live_a_year(wake_every_days: int) -> tuple[list[Event], SwitchState]:
    """Step the clock a day at a time; the worker wakes every few days, inputs come when they come."""
    clock = FakeClock(START)
    state = arm(POLICY, clock.now())
    events: list[Event] = []
    for day in range(1, DAYS_IN_YEAR + 1):
        now = clock.advance(days=1)
        if day in INPUTS:
            step = INPUTS[day](state, now)
        elif day % wake_every_days == 0 or day == DAYS_IN_YEAR:
            step = run_due(POLICY, state, now)
        else:
            continue
        assert all(event.at <= now for event in step.events)
        events.extend(step.events)
        state = step.state
    return events, state


def _outline(events: list[Event]) -> list[tuple[str, str, str | None]]:
    return [(iso(e.at), str(e.kind), e.stage or e.who) for e in events]


def test_a_year_of_monthly_check_ins_with_one_missed_month_gives_this_exact_timeline() -> None:
    """Reminders every month, one missed month that fires, two stages run, the third is cancelled."""
    events, _ = live_a_year(wake_every_days=1)

    assert _outline(events) == EXPECTED


def test_the_returning_owner_cancels_only_the_stage_not_yet_run() -> None:
    """The check-in on day 180 cancels the customers stage and names it in its reason."""
    events, _ = live_a_year(wake_every_days=1)

    [cancelled] = [e for e in events if e.kind == "cancelled"]
    assert cancelled.data == {"stages": ["customers"]}
    assert cancelled.reason == "owner checked in before stage(s) ran: customers"


def test_the_fire_records_why_it_happened() -> None:
    """The fire names the window's end; ana's lone vote was short of the quorum of two."""
    events, _ = live_a_year(wake_every_days=1)

    [fired] = [e for e in events if e.kind == "fired"]
    [ana] = [e for e in events if e.kind == "vote"]
    assert fired.reason == "confirmation window ended without a check-in"
    assert ana.reason == "1 of 2 unreachable answers needed to fire early"


def test_the_year_ends_armed_from_the_last_check_in() -> None:
    """After the last check-in of the year the switch waits for a deadline 35 days later."""
    _, state = live_a_year(wake_every_days=1)

    assert state.status is Status.ARMED
    assert iso(state.armed_at) == "2026-12-31T09:00:00Z"
    assert iso(state.deadline) == "2027-02-04T09:00:00Z"
    assert state.reminders_sent == 0


@pytest.mark.parametrize("wake_every_days", [1, 2, 7, 30, DAYS_IN_YEAR],
                         ids=["daily", "every-other-day", "weekly", "monthly", "only-at-inputs-and-year-end"])
def test_how_often_the_worker_wakes_does_not_change_the_timeline(wake_every_days: int) -> None:
    """Timers are stamped with the moment the policy made them due, not the moment the worker woke."""
    events, _ = live_a_year(wake_every_days)

    assert _outline(events) == EXPECTED
