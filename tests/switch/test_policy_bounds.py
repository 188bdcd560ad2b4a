"""Every duration a policy holds is bounded, so no moment the switch computes can overflow.

A grace of ``999999999d`` once parsed, was saved, and then every status and check-in of
that owner failed (``OverflowError``: the deadline plus grace is past the year 9999). Each
duration field now has a maximum (``MAX_DURATION``, ten years), refused with one line naming
the field; and a property test walks the longest chain a valid policy allows — a pause of
``max_pause``, then every reminder, grace reminder, confirmation, firing and stage — from
moments up to the last one the machine takes as input (``LATEST``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from switch import PolicyError, Status, arm, format_duration, parse_duration, policy_from_dict, run_due
from switch.errors import ScenarioError
from switch.machine import EARLIEST, LATEST, check_in, next_timer, pause, request_release, vote
from switch.policy import LONGEST_CHAIN, MAX_DURATION
from switch.timeline import parse_scenario

MAX = format_duration(MAX_DURATION)
LAST = datetime.max.replace(tzinfo=UTC)
BASE: dict[str, Any] = {"interval": "30d", "reminders": ["7d"], "grace": "7d", "grace_reminder_every": "1d",
                        "confirm": {"window": "3d", "verifiers": ["ana"], "quorum": 1},
                        "stages": [{"name": "family", "after": "14d"}], "max_pause": "90d",
                        "release_request": {"wait": "7d"}}


def _with(field: str, value: str) -> dict[str, Any]:
    policy = {**BASE, "confirm": dict(BASE["confirm"]), "stages": [dict(BASE["stages"][0])],
              "release_request": dict(BASE["release_request"])}
    if field == "confirm.window":
        policy["confirm"]["window"] = value
    elif field == "stages[0].after":
        policy["stages"][0]["after"] = value
    elif field == "release_request.wait":
        policy["release_request"]["wait"] = value
    elif field == "reminders[0]":
        policy.update(interval=MAX, reminders=[value])
    else:
        policy[field] = value
    return policy


FIELDS = ["interval", "grace", "grace_reminder_every", "confirm.window", "stages[0].after", "max_pause",
          "release_request.wait", "reminders[0]"]


def test_ten_years_is_the_maximum_and_fifty_years_the_longest_chain() -> None:
    assert timedelta(days=3650) == MAX_DURATION and format_duration(MAX_DURATION) == "3650d"
    assert (LATEST + LONGEST_CHAIN).year < datetime.max.year


@pytest.mark.parametrize("field", FIELDS[:-1])
def test_each_duration_field_takes_its_maximum(field: str) -> None:
    policy_from_dict(_with(field, MAX))
    policy_from_dict(_with(field, "520w10d"))  # the same ten years, spelt in weeks


def test_a_reminder_stays_below_the_longest_interval() -> None:
    assert policy_from_dict(_with("reminders[0]", "3649d23h59m59s")).reminders == (MAX_DURATION - timedelta(seconds=1),)


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", ["3650d1s", "999999999d", "1000000000d", "99999999999w", "9" * 5000 + "s"])
def test_a_duration_past_its_maximum_is_refused_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(PolicyError) as raised:
        policy_from_dict(_with(field, value))
    shown = repr(value) if len(value) <= 40 else repr(value[:40] + "…")
    assert raised.value.field == field
    assert f"{raised.value.field}: {raised.value.detail}" == f"{field}: expected at most 3650d, got {shown}"
    assert "\n" not in str(raised.value)


def test_the_reported_case_names_grace() -> None:
    with pytest.raises(PolicyError) as raised:
        policy_from_dict({"interval": "1d", "grace": "999999999d"})
    assert str(raised.value) == "policy field `grace`: expected at most 3650d, got '999999999d'"


def test_parse_duration_never_overflows_whatever_it_is_given() -> None:
    assert parse_duration("999999999d") == timedelta(days=999_999_999)  # the longest a timedelta holds
    for text in ("1000000000d", "142857143w", "9" * 100 + "s"):
        with pytest.raises(ValueError, match="expected at most 999999999d"):
            parse_duration(text)
    with pytest.raises(ValueError, match="expected at least -999999999d"):
        parse_duration("-" + "9" * 100 + "d")


@pytest.mark.parametrize(("moment", "where"), [
    ("9999-12-31T23:00:00-14:00", "start"),  # past the last moment a datetime holds in UTC
    ("9999-01-01T00:00:00Z", "start"),
    ("1969-12-31T23:59:59Z", "start"),
    ("9900-01-01T00:00:00Z", "until"),
])
def test_a_scenario_moment_outside_the_range_is_refused_naming_it(moment: str, where: str) -> None:
    scenario = {"start": "2026-01-01T00:00:00Z", "until": "2026-03-01T00:00:00Z", "policy": BASE, where: moment}
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(scenario)
    assert str(raised.value) == (f"scenario `{where}`: expected a moment from 1970-01-01T00:00:00Z to before "
                                 f"9900-01-01T00:00:00Z, got {moment!r}")


# -- the property: no valid policy makes any moment overflow ----------------------------------------------------

SECONDS = int(MAX_DURATION.total_seconds())


def _spelt(seconds: int) -> st.SearchStrategy[str]:
    """A duration in one of the ways people write it (exactly, so the bound is met to the second)."""
    days, rest = divmod(seconds, 86400)
    options = [f"{seconds}s", f"{days}d{rest}s" if rest else f"{days}d"]
    if not rest and days % 7 == 0:
        options.append(f"{days // 7}w")
    return st.sampled_from(options)


def _duration(low: int = 0, high: int = SECONDS + 86400) -> st.SearchStrategy[str]:
    """Up to a day past the maximum, with the maximum and its neighbours drawn often."""
    edges = [s for s in (low, SECONDS - 1, SECONDS, SECONDS + 1) if low <= s <= high]
    return st.one_of(st.sampled_from(edges), st.integers(low, high)).flatmap(_spelt)


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    policy: dict[str, Any] = {"timezone": draw(st.sampled_from(["UTC", "Europe/Rome", "Pacific/Kiritimati",
                                                                "Pacific/Pago_Pago"]))}
    if draw(st.booleans()):
        policy["interval"] = draw(_duration(1))
        policy["reminders"] = draw(st.lists(_duration(1), max_size=2))
    else:
        every = draw(st.sampled_from(["day", "week", "month"]))
        schedule: dict[str, Any] = {"every": every, "at": draw(st.sampled_from(["00:00", "02:30", "23:59"]))}
        if every == "week":
            schedule["on"] = draw(st.lists(st.sampled_from(["mon", "thu", "sun"]), min_size=1, unique=True))
        elif every == "month":
            schedule["on"] = draw(st.lists(st.sampled_from([1, 15, 29, 31]), min_size=1, unique=True))
        policy["schedule"] = schedule
        policy["reminders"] = draw(st.lists(_duration(1, 20 * 3600), max_size=2))  # under a daily gap
    policy["grace"] = draw(_duration())
    grace = int(parse_duration(policy["grace"], maximum=MAX_DURATION * 2).total_seconds())
    # Grace reminders: at most a few hundred of them, so that walking every timer stays quick.
    if draw(st.booleans()):
        policy["grace_reminder_every"] = draw(_duration(max(1, grace // 300)))
    if draw(st.booleans()):
        policy["confirm"] = {"window": draw(_duration()), "verifiers": ["ana", "budi"], "quorum": 1}
    policy["stages"] = [{"name": f"s{i}", "after": after}
                        for i, after in enumerate(draw(st.lists(_duration(), max_size=3)))]
    policy["max_pause"] = draw(_duration(1))
    policy["release_request"] = {"wait": draw(_duration(1))}
    return policy


MOMENTS = st.one_of(st.sampled_from([LATEST - timedelta(microseconds=1), EARLIEST]),
                    st.datetimes(min_value=EARLIEST.replace(tzinfo=None), max_value=LATEST.replace(tzinfo=None)
                                 - timedelta(microseconds=1)).map(lambda d: d.replace(tzinfo=UTC)))


def _walk(policy: Any, state: Any) -> None:
    """Every timer to the end, each moment checked to lie before the last one a datetime holds."""
    step = run_due(policy, state, LAST)
    assert all(event.at <= LAST for event in step.events)
    assert next_timer(policy, step.state) is None and step.state.status is Status.RELEASED


@settings(max_examples=300, deadline=None)
@given(data=policies(), start=MOMENTS)
@example(data={"interval": "3650d", "reminders": ["3649d"], "grace": "3650d", "grace_reminder_every": "3650d",
               "confirm": {"window": "3650d", "verifiers": ["ana"], "quorum": 1},
               "stages": [{"name": "last", "after": "3650d"}], "max_pause": "3650d",
               "release_request": {"wait": "3650d"}},
         start=LATEST - timedelta(microseconds=1))
@example(data={"schedule": {"every": "month", "on": [31], "at": "23:59"}, "timezone": "Pacific/Kiritimati",
               "grace": "3650d", "confirm": {"window": "3650d", "verifiers": ["ana"], "quorum": 1},
               "stages": [{"name": "last", "after": "3650d"}], "max_pause": "3650d"},
         start=LATEST - timedelta(microseconds=1))
@example(data={"interval": "1d", "grace": "999999999d"}, start=EARLIEST)
def test_no_valid_policy_makes_any_moment_overflow(data: dict[str, Any], start: datetime) -> None:
    try:
        policy = policy_from_dict(data)
    except PolicyError:
        return  # refused, as it must be when a field is past its maximum: nothing is computed
    # The longest chain: armed at ``start``, paused at once for as long as allowed, then left alone.
    paused = pause(policy, arm(policy, start), start, start + policy.max_pause).state
    run = run_due(policy, paused, LAST)
    assert run.state.fired_at is not None and run.state.fired_at <= start + LONGEST_CHAIN
    _walk(policy, paused)
    # Inputs at ``start`` set moments ahead of it too: a check-in, a release request, a quorum's vote.
    checked = check_in(policy, arm(policy, EARLIEST), start).state
    _walk(policy, checked)
    _walk(policy, request_release(policy, checked, start, "ana").state)
    if policy.confirm is not None:
        asked_at = checked.deadline + policy.grace
        asked = run_due(policy, checked, asked_at).state
        if asked_at < LATEST and asked.status is Status.CONFIRMING:
            _walk(policy, vote(policy, asked, asked_at, "ana", "unreachable").state)
