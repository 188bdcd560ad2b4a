"""Scenarios for ``baton simulate``: a policy, a start, inputs at moments, and the timeline.

The same machine that runs real switches runs the scenario; no database, no clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from switch import machine
from switch.durations import kind, shown
from switch.errors import InputError, PolicyError, ScenarioError
from switch.machine import Event, SwitchState
from switch.policy import Policy, policy_from_dict

INPUTS = ("checkin", "vote", "pause", "release_request")
# The keys a scenario must have, and what each is; ``events`` may be left out (no inputs).
REQUIRED = {
    "start": 'a "start" moment (when the switch is armed, as if checked in), like 2026-01-01T09:00:00Z',
    "until": 'an "until" moment (when the simulation stops), like 2026-03-01T00:00:00Z',
    "policy": 'a "policy" object (the switch\'s policy: interval, reminders, grace, stages…)',
}


@dataclass(frozen=True, slots=True)
class Input:
    """One scenario event: ``type`` at ``at``, with ``who``, ``answer`` or ``until``."""

    index: int
    at: datetime
    type: str
    who: str | None = None
    answer: str | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario."""

    start: datetime
    until: datetime
    policy: Policy
    inputs: tuple[Input, ...]


def parse_moment(value: Any, where: str) -> datetime:
    """An ISO 8601 moment with a time zone (``Z`` or an offset), as UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ScenarioError(where,
                                f"expected a moment like 2026-01-01T09:00:00Z, got {shown(value)}") from None
    else:
        raise ScenarioError(where, f"expected a moment like 2026-01-01T09:00:00Z, got {shown(value)}")
    if moment.tzinfo is None:
        raise ScenarioError(where, f"expected a moment with a time zone (Z or +01:00), got {shown(value)}")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-14:00 is past the last moment a datetime holds in UTC
        moment = machine.LATEST
    if not machine.EARLIEST <= moment < machine.LATEST:
        raise ScenarioError(where, f"expected a moment from {machine.iso(machine.EARLIEST)} to before "
                            f"{machine.iso(machine.LATEST)}, got {shown(value)}")
    return moment


def _input(index: int, raw: Any) -> Input:
    where = f"events[{index}]"
    if not isinstance(raw, Mapping):
        raise ScenarioError(where, f"expected an object with at and type, got {shown(raw)}")
    kind = raw.get("type")
    if kind not in INPUTS:
        raise ScenarioError(f"{where}.type", f"expected one of {', '.join(INPUTS)}, got {shown(kind)}")
    at = parse_moment(raw.get("at"), f"{where}.at")
    who = raw.get("who")
    if kind in ("vote", "release_request") and (not isinstance(who, str) or not who):
        raise ScenarioError(f"{where}.who", f"expected a name, got {shown(who)}")
    until = parse_moment(raw.get("until"), f"{where}.until") if kind == "pause" else None
    answer = raw.get("answer")
    if kind == "vote" and answer not in ("reachable", "unreachable"):
        raise ScenarioError(f"{where}.answer", f"expected reachable or unreachable, got {shown(answer)}")
    return Input(index, at, kind, who, answer, until)


def parse_scenario(data: Any) -> Scenario:
    """Validate a scenario mapping; errors name the field or the event index."""
    if not isinstance(data, Mapping):
        raise ScenarioError("", f"expected an object with start, until, policy and events, got {kind(data)}")
    for key, what in REQUIRED.items():
        if data.get(key) is None:
            raise ScenarioError("", f"expected {what}, got nothing")
    start = parse_moment(data["start"], "start")
    until = parse_moment(data["until"], "until")
    if until <= start:
        raise ScenarioError("until", f"expected a moment after start {machine.iso(start)}, got "
                            f"{machine.iso(until)}")
    if not isinstance(data["policy"], Mapping):
        raise ScenarioError("policy", f"expected an object (the switch's policy: interval, reminders, grace, "
                            f"stages…), got {kind(data['policy'])}")
    try:
        policy = policy_from_dict(data["policy"])
    except PolicyError as exc:
        raise ScenarioError(f"policy.{exc.field}", exc.detail) from None
    raw_events = data.get("events", [])
    if not isinstance(raw_events, list):
        raise ScenarioError("events", f"expected a list, got {shown(raw_events)}")
    inputs = [_input(i, raw) for i, raw in enumerate(raw_events)]
    for item in inputs:
        if not start <= item.at <= until:
            raise ScenarioError(f"events[{item.index}].at", f"expected a moment between start and until, "
                                f"got {machine.iso(item.at)}")
    return Scenario(start, until, policy, tuple(sorted(inputs, key=lambda i: i.at)))


def apply_input(policy: Policy, state: SwitchState, item: Input) -> machine.Step:
    """Apply one scenario input to the machine (the same calls the service makes)."""
    if item.type == "checkin":
        return machine.check_in(policy, state, item.at, via="scenario")
    if item.type == "vote":
        assert item.who is not None and item.answer is not None
        return machine.vote(policy, state, item.at, item.who, item.answer)
    if item.type == "pause":
        assert item.until is not None
        return machine.pause(policy, state, item.at, item.until)
    assert item.who is not None
    return machine.request_release(policy, state, item.at, item.who)


def simulate(scenario: Scenario) -> Iterator[Event]:
    """Every event from ``start`` to ``until``, in time order; armed at ``start``."""
    state = machine.arm(scenario.policy, scenario.start)
    for item in scenario.inputs:
        try:
            step = apply_input(scenario.policy, state, item)
        except InputError as exc:
            raise ScenarioError(f"events[{item.index}]", str(exc)) from None
        state = step.state
        yield from step.events
    yield from machine.run_due(scenario.policy, state, scenario.until).events
