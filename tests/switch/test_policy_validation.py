"""Policy validation names the bad field and says what it expected; a valid policy round-trips."""

from __future__ import annotations

from typing import Any

import pytest

from switch import PolicyError, policy_from_dict, policy_to_dict

BASE: dict[str, Any] = {
    "interval": "30d",
    "timezone": "Europe/Rome",
    "reminders": ["7d", "1d"],
    "grace": "7d",
    "grace_reminder_every": "1d",
    "confirm": {"window": "3d", "verifiers": ["ana", "budi", "carla"], "quorum": 2},
    "stages": [{"name": "staff", "after": "0d"}, {"name": "family", "after": "14d"}],
}
WEEKLY = {"every": "week", "on": ["mon"], "at": "09:00"}


def _without(*keys: str) -> dict[str, Any]:
    return {k: v for k, v in BASE.items() if k not in keys}


INVALID = [
    pytest.param({**_without("interval"), "schedule": {"every": "week", "on": ["monkey"]}},
                 "policy field `schedule.on[0]`: expected a weekday like mon or thursday, got 'monkey'",
                 id="not-a-weekday"),
    pytest.param({**BASE, "grace": "-1d"},
                 "policy field `grace`: expected a duration of zero or more, got '-1d'",
                 id="negative-duration"),
    pytest.param({**BASE, "stages": [{"name": "staff", "after": "-2h"}]},
                 "policy field `stages[0].after`: expected a duration of zero or more, got '-2h'",
                 id="negative-stage-delay"),
    pytest.param({**BASE, "interval": "0d"},
                 "policy field `interval`: expected a duration longer than zero, got '0d'",
                 id="zero-interval"),
    pytest.param({**BASE, "interval": "a month"},
                 "policy field `interval`: expected a duration like 30d, 12h, 1w2d or 90m, got 'a month'",
                 id="unreadable-duration"),
    pytest.param({**BASE, "reminders": ["7d", "30d"]},
                 "policy field `reminders[1]`: expected less than the interval (30d), got '30d'",
                 id="reminder-equal-to-interval"),
    pytest.param({**BASE, "reminders": ["45d"]},
                 "policy field `reminders[0]`: expected less than the interval (30d), got '45d'",
                 id="reminder-longer-than-interval"),
    pytest.param({**_without("interval"), "schedule": WEEKLY, "reminders": ["7d"]},
                 "policy field `reminders[0]`: expected less than the shortest gap of the schedule (6d23h), "
                 "got '7d'",
                 id="reminder-longer-than-the-week-that-springs-forward"),
    pytest.param({**BASE, "reminders": ["0d"]},
                 "policy field `reminders[0]`: expected a duration longer than zero, got '0d'",
                 id="zero-reminder"),
    pytest.param({**BASE, "timezone": "Mars/Olympus_Mons"},
                 "policy field `timezone`: expected an IANA time zone like Europe/Rome, got 'Mars/Olympus_Mons'",
                 id="unknown-time-zone"),
    pytest.param({**BASE, "confirm": {"window": "3d", "verifiers": ["ana", "budi", "carla"], "quorum": 4}},
                 "policy field `confirm.quorum`: expected at most 3 (the number of verifiers), got 4",
                 id="quorum-larger-than-verifiers"),
    pytest.param({**BASE, "confirm": {"window": "3d", "verifiers": ["ana"], "quorum": 0}},
                 "policy field `confirm.quorum`: expected a whole number of 1 or more, got 0",
                 id="quorum-zero"),
    pytest.param({**BASE, "confirm": {"window": "3d", "verifiers": ["ana", "ana"]}},
                 "policy field `confirm.verifiers`: expected distinct names, got 'ana' twice",
                 id="duplicate-verifiers"),
    pytest.param({**BASE, "intervall": "30d"},
                 "policy field `intervall`: unknown field",
                 id="unknown-field"),
    pytest.param({**BASE, "confirm": {"window": "3d", "verifiers": ["ana"], "quorom": 1}},
                 "policy field `confirm.quorom`: unknown field",
                 id="unknown-confirm-field"),
    pytest.param({**BASE, "stages": [{"name": "staff", "delay": "1d"}]},
                 "policy field `stages[0].delay`: unknown field",
                 id="unknown-stage-field"),
    pytest.param({**BASE, "schedule": WEEKLY},
                 "policy field `interval`: expected exactly one of interval or schedule",
                 id="both-interval-and-schedule"),
    pytest.param(_without("interval"),
                 "policy field `interval`: expected exactly one of interval or schedule",
                 id="neither-interval-nor-schedule"),
    pytest.param({**BASE, "stages": [{"name": "staff", "after": "0d"}, {"name": "staff", "after": "14d"}]},
                 "policy field `stages`: expected distinct stage names, got 'staff' twice",
                 id="duplicate-stage-names"),
    pytest.param({**_without("interval"), "schedule": {"every": "month", "on": [32]}},
                 "policy field `schedule.on[0]`: expected a day of month 1..31, got 32",
                 id="month-day-32"),
    pytest.param({**_without("interval"), "schedule": {"every": "week", "on": ["mon"], "at": "09:00+02:00"}},
                 "policy field `schedule.at`: expected a time like 09:00, got '09:00+02:00'",
                 id="schedule-time-with-an-offset"),
    pytest.param({**_without("interval"), "schedule": {"every": "week", "on": ["mon"], "at": "09:00:30"}},
                 "policy field `schedule.at`: expected a time like 09:00, got '09:00:30'",
                 id="schedule-time-with-seconds"),
    pytest.param([BASE],
                 "policy field `policy`: expected an object (interval, reminders, grace, stages…), got a list",
                 id="not-an-object"),
]


@pytest.mark.parametrize(("data", "message"), INVALID)
def test_an_invalid_policy_is_refused_with_a_message_naming_the_field(data: Any, message: str) -> None:
    """Each bad policy raises PolicyError whose whole message names the field, what was expected and what came."""
    with pytest.raises(PolicyError) as raised:
        policy_from_dict(data)

    assert str(raised.value) == message


def test_a_policy_error_carries_the_field_and_the_detail_apart() -> None:
    """Callers (the API, the CLI) can point at the field without parsing the message."""
    with pytest.raises(PolicyError) as raised:
        policy_from_dict({**BASE, "confirm": {"window": "3d", "verifiers": ["ana"], "quorum": 2}})

    assert (raised.value.field, raised.value.detail) == (
        "confirm.quorum", "expected at most 1 (the number of verifiers), got 2")


VALID = [
    pytest.param({"interval": "30d"}, id="minimal"),
    pytest.param(BASE, id="interval-with-everything"),
    pytest.param({
        "interval": "1w2d12h", "timezone": "Asia/Jakarta", "reminders": ["1d", "3d", "1d"], "grace": "0d",
        "confirm": {"window": "0d", "verifiers": [{"name": "ana", "email": "ana@example.org"}, "budi"]},
        "stages": [{"name": "customers", "after": "21d", "audience": ["customers"], "action": "notices"},
                   {"name": "staff", "after": "0d", "audience": ["dewi@example.org"], "action": "release"}],
        "max_pause": "30d", "release_request": {"wait": "3d"},
    }, id="unsorted-reminders-and-stages-emails-audiences"),
    pytest.param({"schedule": WEEKLY, "timezone": "Europe/Rome", "reminders": ["2d", "1h"]}, id="weekly"),
    pytest.param({"schedule": {"every": "month", "on": [31, 1, 15], "at": "18:30"},
                  "timezone": "America/New_York"}, id="monthly"),
    pytest.param({"schedule": {"every": "day", "at": "02:30"}, "timezone": "Europe/Rome",
                  "reminders": ["12h"]}, id="daily-in-the-spring-forward-gap"),
]


@pytest.mark.parametrize("data", VALID)
def test_policy_to_dict_reads_back_to_an_equal_policy(data: dict[str, Any]) -> None:
    """policy_from_dict(policy_to_dict(p)) == p, and writing it again gives the same mapping."""
    policy = policy_from_dict(data)

    written = policy_to_dict(policy)

    assert policy_from_dict(written) == policy
    assert policy_to_dict(policy_from_dict(written)) == written


def test_reminders_are_kept_largest_first_and_stages_in_running_order() -> None:
    """The validated policy sorts reminders (largest first, deduplicated) and stages by delay, stably."""
    policy = policy_from_dict({"interval": "30d", "reminders": ["1d", "7d", "1d"],
                               "stages": [{"name": "late", "after": "21d"}, {"name": "first", "after": "0d"},
                                          {"name": "also-first", "after": "0d"}]})

    assert policy_to_dict(policy)["reminders"] == ["7d", "1d"]
    assert [s.name for s in policy.stages] == ["first", "also-first", "late"]


@pytest.mark.parametrize("every", ["0d", "0h", "0s"])
def test_a_zero_grace_reminder_interval_means_no_grace_reminders(every: str) -> None:
    """Zero in any unit turns grace reminders off, as leaving the field out does."""
    assert policy_from_dict({**BASE, "grace_reminder_every": every}).grace_reminder_every is None


def test_weekdays_may_be_written_in_full() -> None:
    """``thursday`` and ``thu`` name the same day."""
    base = {**_without("interval"), "reminders": []}
    full = policy_from_dict({**base, "schedule": {"every": "week", "on": ["Thursday"]}})
    short = policy_from_dict({**base, "schedule": {"every": "week", "on": ["thu"]}})
    assert full == short
