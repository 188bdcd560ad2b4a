"""Calendar schedules keep the owner's wall clock across DST, month ends and the reminder lead."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from switch import Policy, arm, check_in, deadline_after, iso, policy_from_dict


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _policy(timezone: str, schedule: dict[str, Any], reminders: list[str] | None = None) -> Policy:
    return policy_from_dict({"timezone": timezone, "schedule": schedule, "reminders": reminders or []})


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%a %Y-%m-%d %H:%M %Z")


MONDAY_AT_NINE = {"every": "week", "on": ["mon"], "at": "09:00"}


@pytest.mark.parametrize(("timezone", "after", "expected", "local"), [
    ("Europe/Rome", "2026-03-23T08:00:00Z", "2026-03-30T07:00:00Z", "Mon 2026-03-30 09:00 CEST"),
    ("Europe/Rome", "2026-10-19T07:00:00Z", "2026-10-26T08:00:00Z", "Mon 2026-10-26 09:00 CET"),
    ("America/New_York", "2026-03-02T14:00:00Z", "2026-03-09T13:00:00Z", "Mon 2026-03-09 09:00 EDT"),
    ("America/New_York", "2026-10-26T13:00:00Z", "2026-11-02T14:00:00Z", "Mon 2026-11-02 09:00 EST"),
], ids=["rome-spring-forward", "rome-fall-back", "new-york-spring-forward", "new-york-fall-back"])
def test_a_weekly_nine_oclock_stays_nine_oclock_local_across_dst(
        timezone: str, after: str, expected: str, local: str) -> None:
    """Across a DST change the UTC moment shifts by an hour so the local time stays 09:00."""
    deadline = deadline_after(_policy(timezone, MONDAY_AT_NINE), _moment(after))

    assert (iso(deadline), _local(deadline, timezone)) == (expected, local)


def test_the_week_across_spring_forward_is_an_hour_short_and_across_fall_back_an_hour_long() -> None:
    """Seven local days at 09:00 are 6d23h of elapsed time in March and 7d1h in October."""
    policy = _policy("Europe/Rome", MONDAY_AT_NINE)
    spring, fall = _moment("2026-03-23T08:00:00Z"), _moment("2026-10-19T07:00:00Z")

    assert str(deadline_after(policy, spring) - spring) == "6 days, 23:00:00"
    assert str(deadline_after(policy, fall) - fall) == "7 days, 1:00:00"


@pytest.mark.parametrize(("timezone", "after", "expected", "local"), [
    ("Europe/Rome", "2026-03-28T12:00:00Z", "2026-03-29T01:30:00Z", "Sun 2026-03-29 03:30 CEST"),
    ("America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:30:00Z", "Sun 2026-03-08 03:30 EDT"),
], ids=["rome", "new-york"])
def test_a_time_in_the_spring_forward_gap_moves_forward_by_the_gap(
        timezone: str, after: str, expected: str, local: str) -> None:
    """02:30 does not exist on the night clocks spring forward; the moment is 03:30 local."""
    policy = _policy(timezone, {"every": "day", "at": "02:30"})

    deadline = deadline_after(policy, _moment(after))

    assert (iso(deadline), _local(deadline, timezone)) == (expected, local)


@pytest.mark.parametrize(("timezone", "at", "after", "first", "next_day"), [
    ("Europe/Rome", "02:30", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"),
    ("America/New_York", "01:30", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"),
], ids=["rome", "new-york"])
def test_a_time_that_happens_twice_at_fall_back_means_its_first_occurrence_only(
        timezone: str, at: str, after: str, first: str, next_day: str) -> None:
    """The repeated hour counts once, at its summer-time occurrence; the next moment is the next day."""
    policy = _policy(timezone, {"every": "day", "at": at})

    deadline = deadline_after(policy, _moment(after))

    assert iso(deadline) == first
    assert iso(deadline_after(policy, deadline)) == next_day


@pytest.mark.parametrize(("days", "after", "expected"), [
    ([31], "2026-03-31T07:00:00Z", "2026-04-30T07:00:00Z"),
    ([31], "2026-01-31T08:00:00Z", "2026-02-28T08:00:00Z"),
    ([31], "2028-01-31T08:00:00Z", "2028-02-29T08:00:00Z"),
    ([30], "2026-01-30T08:00:00Z", "2026-02-28T08:00:00Z"),
    ([30, 31], "2026-01-31T08:00:00Z", "2026-02-28T08:00:00Z"),
    ([30, 31], "2026-02-28T08:00:00Z", "2026-03-30T07:00:00Z"),
    ([15, 31], "2026-04-15T07:00:00Z", "2026-04-30T07:00:00Z"),
], ids=["31st-in-april", "31st-in-february", "31st-in-leap-february", "30th-in-february",
        "30th-and-31st-in-february-count-once", "march-after-february", "15th-and-31st-in-april"])
def test_a_month_day_past_the_months_end_means_its_last_day(days: list[int], after: str, expected: str) -> None:
    """The 31st is the 30th in a 30-day month and the 28th or 29th in February, at 09:00 Rome time."""
    policy = _policy("Europe/Rome", {"every": "month", "on": days, "at": "09:00"})

    assert iso(deadline_after(policy, _moment(after))) == expected


# Monday 2026-03-16 09:00 Rome is 08:00Z; the largest reminder is 2d, so the lead starts
# on Saturday 2026-03-14 at 08:00Z (09:00 local).
@pytest.mark.parametrize(("checkin", "expected"), [
    ("2026-03-14T07:59:59Z", "2026-03-16T08:00:00Z"),
    ("2026-03-14T08:00:00Z", "2026-03-23T08:00:00Z"),
    ("2026-03-14T09:00:00Z", "2026-03-23T08:00:00Z"),
    ("2026-03-16T07:59:59Z", "2026-03-23T08:00:00Z"),
    ("2026-03-16T08:30:00Z", "2026-03-23T08:00:00Z"),
    ("2026-03-21T07:59:59Z", "2026-03-23T08:00:00Z"),
], ids=["just-before-the-lead", "at-the-start-of-the-lead", "inside-the-lead", "just-before-the-moment",
        "just-after-the-moment", "a-week-early"])
def test_a_check_in_within_the_lead_counts_for_the_moment_it_was_reminded_of(checkin: str, expected: str) -> None:
    """The deadline is the first scheduled moment more than the largest reminder offset after the check-in."""
    policy = _policy("Europe/Rome", MONDAY_AT_NINE, reminders=["2d", "1h"])

    assert iso(deadline_after(policy, _moment(checkin))) == expected


def test_the_lead_is_elapsed_time_so_across_spring_forward_it_starts_an_hour_earlier_local() -> None:
    """Monday 2026-03-30 09:00 CEST less two days is Saturday 08:00 CET, when that moment's lead begins."""
    policy = _policy("Europe/Rome", MONDAY_AT_NINE, reminders=["2d"])

    before_lead = deadline_after(policy, _moment("2026-03-28T06:59:00Z"))
    inside_lead = deadline_after(policy, _moment("2026-03-28T07:30:00Z"))

    assert _local(_moment("2026-03-28T07:30:00Z"), "Europe/Rome") == "Sat 2026-03-28 08:30 CET"
    assert (iso(before_lead), iso(inside_lead)) == ("2026-03-30T07:00:00Z", "2026-04-06T07:00:00Z")


def test_a_check_in_answering_the_first_reminder_skips_to_the_next_moment() -> None:
    """Checking in at the very moment the first reminder is due sets the deadline to the week after."""
    policy = _policy("Europe/Rome", MONDAY_AT_NINE, reminders=["2d", "1h"])
    state = arm(policy, _moment("2026-03-10T12:00:00Z"))
    assert iso(state.deadline) == "2026-03-16T08:00:00Z"

    step = check_in(policy, state, _moment("2026-03-14T08:00:00Z"))

    assert [str(e.kind) for e in step.events] == ["checkin"]
    assert iso(step.state.deadline) == "2026-03-23T08:00:00Z"
