"""The switch's invariants, checked over generated histories of check-ins, votes, pauses and requests.

Each history is played through ``switch.timeline.apply_input`` (the calls the service
makes) with ``switch.machine.run_due`` ticks in between, then run far past its last input.
The properties are checked against a small independent model of the policy, not against
the machine's own state.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from switch import (
    Event,
    InputError,
    Kind,
    Policy,
    Status,
    SwitchState,
    arm,
    iso,
    policy_from_dict,
    run_due,
    state_from_dict,
    state_to_dict,
)
from switch.timeline import Input, apply_input

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
AFTERWARDS = timedelta(days=365)  # far past anything the last input sets off
STEP = timedelta(hours=12)  # durations are whole half-days, so timers and inputs often coincide
VERIFIERS = ("ana", "budi", "carla")
CLOCK_KINDS = {Kind.REMINDER, Kind.DEADLINE, Kind.GRACE_REMINDER, Kind.CONFIRM_REQUESTED, Kind.FIRED,
               Kind.STAGE}
EXAMPLES = settings(max_examples=100, deadline=None)


@dataclass(frozen=True, slots=True)
class Act:
    """One generated input, or a ``tick`` of the worker (``run_due``)."""

    at: datetime
    type: str  # checkin, vote, pause, release_request, tick
    who: str | None = None
    answer: str | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class History:
    """A policy and the inputs of one switch's life, in time order."""

    policy: Policy
    acts: tuple[Act, ...]

    @property
    def end(self) -> datetime:
        """When the closing run looks: long after the last input."""
        return (self.acts[-1].at if self.acts else START) + AFTERWARDS


@dataclass(frozen=True, slots=True)
class Record:
    """One act and what it did; the closing run past the last act has ``act`` None."""

    act: Act | None
    before: SwitchState
    after: SwitchState
    events: tuple[Event, ...]
    error: InputError | None = None

    def split(self) -> tuple[list[Event], list[Event]]:
        """The events the clock made before the act, and the events of the act itself."""
        if self.act is None or self.act.type == "tick":
            return list(self.events), []
        return ([e for e in self.events if e.at < self.act.at],
                [e for e in self.events if e.at == self.act.at])


def _span(half_days: int) -> str:
    return f"{12 * half_days}h"


# Strategies are built once and reused: building one per draw costs more than the test.
@functools.cache
def _ints(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


@functools.cache
def _pick(options: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from(options)


@functools.cache
def _shuffled(options: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.permutations(options)


@functools.cache
def _gaps(cycle_steps: int) -> st.SearchStrategy[timedelta]:
    """Some long gaps (up to a whole cycle of the policy), more short ones, on and off the grid."""
    long_gap = st.integers(0, cycle_steps).map(lambda n: n * STEP)
    short_gap = st.integers(0, 4).map(lambda n: n * STEP) | st.integers(0, 36).map(lambda n: timedelta(hours=n))
    return long_gap | short_gap | short_gap


_REMINDERS = st.lists(st.integers(1, 29), max_size=3)
_DELAYS = st.lists(st.integers(0, 20), max_size=3)
_NAMES = st.lists(st.sampled_from(VERIFIERS), min_size=1, max_size=3, unique=True)
_EVERY = st.none() | st.integers(1, 4)
_PAUSE = timedelta(hours=1)
_NUDGE = st.sampled_from([timedelta(), timedelta(hours=1), STEP])


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """Interval policies in half-days: reminders, grace (with or without reminders), a confirmation
    window with one to three verifiers and a quorum, zero to three stages, bounded pauses."""
    interval = draw(_ints(1, 30))
    data: dict[str, object] = {
        "interval": _span(interval),
        "timezone": "Europe/Rome",
        "reminders": [_span(n) for n in draw(_REMINDERS) if n < interval],
        "grace": _span(draw(_ints(0, 10))),
        "max_pause": _span(draw(_ints(1, 20))),
        "release_request": {"wait": _span(draw(_ints(1, 10)))},
    }
    every = draw(_EVERY)
    if every is not None:
        data["grace_reminder_every"] = _span(every)
    if draw(st.booleans()):
        names = draw(_NAMES)
        data["confirm"] = {"window": _span(draw(_ints(0, 12))), "verifiers": names,
                           "quorum": draw(_ints(1, len(names)))}
    data["stages"] = [{"name": f"stage{i}", "after": _span(n)} for i, n in enumerate(draw(_DELAYS))]
    return policy_from_dict(data)


@st.composite
def histories(draw: st.DrawFn, *, owner_acts: bool = True) -> History:
    """Up to fourteen inputs (check-ins, pauses, votes, release requests, worker ticks) in time order."""
    policy = draw(policies())
    assert policy.interval is not None
    types: tuple[str, ...] = ("tick", "tick", "release_request")
    if owner_acts:
        types += ("checkin", "checkin", "pause")
    if policy.confirm is not None:
        types += ("vote",) * 5
    window = policy.confirm.window if policy.confirm else timedelta()
    cycle = _clock_fire(policy, START) + (policy.stages[-1].after if policy.stages else STEP) - START
    gaps = _gaps(cycle // STEP)
    acts: list[Act] = []
    at = owner = START
    for _ in range(draw(_ints(0, 14))):
        kind = draw(_pick(types))
        if kind == "vote" and at > _clock_fire(policy, owner):
            kind = "checkin" if owner_acts else "tick"  # start a cycle in which votes can count
        if kind == "vote" and draw(st.booleans()):
            # Aim at the confirmation window (or just before it) that the last owner act opens,
            # and let a few verifiers answer close together, so that quorums and vetoes meet.
            opens = _confirmation_opens(policy, owner)
            at = max(at, opens + draw(_ints(-1, window // STEP)) * STEP)
        else:
            at += draw(gaps)
        if kind == "vote":
            assert policy.confirm is not None
            names = tuple(v.name for v in policy.confirm.verifiers)
            voters = draw(_shuffled(names))[:draw(_ints(1, len(names)))]
            if draw(st.booleans()):
                voters.append(draw(_pick(names)))  # someone answers again
            for who in voters:
                answer = draw(_pick(("reachable", "unreachable", "unreachable")))
                acts.append(Act(at, kind, who=who, answer=answer))
                at += draw(_NUDGE)
        elif kind == "pause":
            length = draw(_ints(1, policy.max_pause // _PAUSE)) * _PAUSE
            acts.append(Act(at, kind, until=at + length))
            owner = at + length
        elif kind == "release_request":
            acts.append(Act(at, kind, who="heir"))
        else:
            acts.append(Act(at, kind))
            owner = at if kind == "checkin" else owner
    return History(policy, tuple(acts))


def play(history: History) -> list[Record]:
    """Run a history through the machine, the way the service would."""
    policy = history.policy
    state = arm(policy, START)
    records = []
    for index, act in enumerate(history.acts):
        if act.type == "tick":
            step = run_due(policy, state, act.at)
        else:
            item = Input(index, act.at, act.type, act.who, act.answer, act.until)
            try:
                step = apply_input(policy, state, item)
            except InputError as exc:
                assert act.type == "release_request", f"{act.type} refused: {exc}"
                records.append(Record(act, state, state, (), exc))
                continue
        records.append(Record(act, state, step.state, step.events))
        state = step.state
    closing = run_due(policy, state, history.end)
    records.append(Record(None, state, closing.state, closing.events))
    return records


def _clock_fire(policy: Policy, owner: datetime) -> datetime:
    assert policy.interval is not None
    window = policy.confirm.window if policy.confirm else timedelta()
    return owner + policy.interval + policy.grace + window


def _confirmation_opens(policy: Policy, owner: datetime) -> datetime:
    assert policy.interval is not None
    return owner + policy.interval + policy.grace


def _quorum(policy: Policy, votes: dict[str, str]) -> bool:
    assert policy.confirm is not None
    answers = list(votes.values())
    return "reachable" not in answers and answers.count("unreachable") >= policy.confirm.quorum


@EXAMPLES
@given(histories())
def test_it_never_fires_before_the_last_owner_act_plus_interval_grace_and_window(history: History) -> None:
    """A fire comes no earlier than the clock allows, unless by quorum after grace or by an unrefused request."""
    policy = history.policy
    owner = START  # the last check-in, or the end of the last pause
    completes: datetime | None = None  # when the waiting release request completes
    votes: dict[str, str] = {}
    asked = fired = False  # verifiers asked (a vote now counts); the switch fired

    def observe(event: Event, quorum: bool) -> None:
        nonlocal completes, asked, fired
        if event.kind is Kind.CONFIRM_REQUESTED:
            assert event.at == _confirmation_opens(policy, owner)
            asked = True
        if event.kind is not Kind.FIRED:
            return
        if event.reason.startswith("release requested by"):
            assert completes is not None and event.at == completes
        elif quorum:
            assert event.at >= _confirmation_opens(policy, owner)
        else:
            assert event.at >= _clock_fire(policy, owner)
        fired, completes = True, None

    for record in play(history):
        clock, own = record.split()
        for event in clock:
            observe(event, quorum=False)
        act = record.act
        if act is not None and record.error is None:
            if act.type in ("checkin", "pause"):
                refused = [e.who for e in own if e.kind is Kind.REFUSED]
                assert refused == (["heir"] if completes is not None else []), "a waiting request was not refused"
                owner = act.at if act.type == "checkin" else act.until or act.at
                completes, votes, asked, fired = None, {}, False, False
            elif act.type == "release_request":
                completes = act.at + policy.request_wait
            elif act.type == "vote" and asked and not fired:
                assert act.who is not None and act.answer is not None
                votes[act.who] = act.answer
        quorum = act is not None and act.type == "vote" and not fired and _quorum(policy, votes)
        for event in own:
            observe(event, quorum)
        assert fired or not quorum, "a quorum of unreachable answers did not fire"


@EXAMPLES
@given(histories(owner_acts=False))
def test_without_a_check_in_it_fires_exactly_at_deadline_plus_grace_and_window(history: History) -> None:
    """With the owner silent, it fires once: at the clock's moment, or earlier by quorum or request."""
    policy = history.policy
    opens = _confirmation_opens(policy, START)
    expected, cause = _clock_fire(policy, START), "clock"
    completes: datetime | None = None
    votes: dict[str, str] = {}
    asked = False  # a tick at the very moment grace ends asks the verifiers before a vote then
    for act in history.acts:
        if act.at > expected or act.type == "tick" and act.at == expected:
            break
        if act.type == "tick" and act.at >= opens:
            asked = True
        if act.type == "release_request" and completes is None:
            completes = act.at + policy.request_wait
            if completes < expected:
                expected, cause = completes, "request"
        elif act.type == "vote" and (act.at > opens or asked):
            assert act.who is not None and act.answer is not None
            votes[act.who] = act.answer
            if _quorum(policy, votes):
                expected, cause = act.at, "quorum"
                break

    fires = [e for r in play(history) for e in r.events if e.kind is Kind.FIRED]

    assert [e.at for e in fires] == [expected]
    reason = fires[0].reason
    if cause == "request":
        assert reason.startswith("release requested by heir at ")
    elif cause == "quorum":
        assert policy.confirm is not None
        assert reason.endswith(f"verifiers answered unreachable (quorum {policy.confirm.quorum})")
    elif policy.confirm is not None:
        assert reason == "confirmation window ended without a check-in"
    else:
        assert reason == "grace ended without a check-in"


@EXAMPLES
@given(histories())
def test_reminders_and_grace_reminders_come_at_exactly_their_moments(history: History) -> None:
    """Reminders at deadline less each offset, all before the deadline; grace reminders strictly inside grace."""
    policy = history.policy
    assert policy.interval is not None
    owner = START
    sent: list[int] = []
    levels: list[int] = []
    for record in play(history):
        act = record.act
        owner_act = act is not None and act.type in ("checkin", "pause") and record.error is None
        clock, _ = record.split() if owner_act else (list(record.events), [])
        deadline = owner + policy.interval
        grace_ends = deadline + policy.grace
        for event in clock:
            if event.kind is Kind.REMINDER:
                index = event.data["index"]
                assert (index, event.at) == (len(sent), deadline - policy.reminders[index])
                assert event.data["deadline"] == iso(deadline)
                sent.append(index)
            elif event.kind is Kind.DEADLINE:
                assert event.at == deadline
                assert sent == list(range(len(policy.reminders)))
            elif event.kind is Kind.GRACE_REMINDER:
                every = policy.grace_reminder_every
                assert every is not None
                level = event.data["level"]
                assert (level, event.at) == (len(levels) + 1, deadline + every * level)
                assert deadline < event.at < grace_ends
                levels.append(level)
            elif event.kind is Kind.CONFIRM_REQUESTED or (event.kind is Kind.FIRED and policy.confirm is None
                                                          and event.at == grace_ends):
                every = policy.grace_reminder_every
                assert len(levels) == (0 if every is None else max(0, -(-policy.grace // every) - 1))
        if owner_act:
            assert act is not None
            owner = act.at if act.type == "checkin" else act.until or act.at
            sent, levels = [], []


@EXAMPLES
@given(histories())
def test_every_history_ends_released_once_the_owner_stops(history: History) -> None:
    """However a history goes, a switch left alone long enough fires and runs every stage."""
    records = play(history)

    assert records[-1].after.status is Status.RELEASED
    tail = [e for e in records[-1].events if e.kind in (Kind.FIRED, Kind.STAGE)]
    if records[-1].before.status in (Status.ARMED, Status.GRACE, Status.CONFIRMING, Status.PAUSED):
        assert [e.kind for e in tail] == [Kind.FIRED] + [Kind.STAGE] * len(history.policy.stages)


@EXAMPLES
@given(histories())
def test_an_owner_act_cancels_exactly_the_stages_not_yet_run_and_re_arms(history: History) -> None:
    """A check-in (or pause) lists every stage not yet run in one `cancelled` event, and re-arms."""
    policy = history.policy
    assert policy.interval is not None
    names = [s.name for s in policy.stages]
    fired, ran = False, 0
    for record in play(history):
        act = record.act
        owner_act = act is not None and act.type in ("checkin", "pause")
        clock, own = record.split() if owner_act else (list(record.events), [])
        for event in clock:
            if event.kind is Kind.FIRED:
                fired, ran = True, 0
            elif event.kind is Kind.STAGE:
                assert fired, "a stage ran after the owner cancelled it"
                ran += 1
        if act is None or not owner_act:
            continue
        pending = names[ran:] if fired else []
        cancelled = [e for e in own if e.kind is Kind.CANCELLED]
        what = "checked in" if act.type == "checkin" else "paused"
        if pending:
            assert [(e.at, e.data["stages"], e.reason) for e in cancelled] == [
                (act.at, pending, f"owner {what} before stage(s) ran: {', '.join(pending)}")]
        else:
            assert cancelled == []
        after = record.after
        assert after.armed_at == act.at
        assert after.deadline == act.at + policy.interval
        assert (after.fired_at, after.stages_run, after.votes, after.request_at) == (None, 0, (), None)
        assert after.status is (Status.ARMED if act.type == "checkin" else Status.PAUSED)
        fired, ran = False, 0


@EXAMPLES
@given(histories())
def test_stages_run_in_order_at_exactly_fired_at_plus_their_delay(history: History) -> None:
    """After each fire, stages run in policy order, each exactly its `after` past the fire."""
    stages = history.policy.stages
    fired_at: datetime | None = None
    ran = 0
    for record in play(history):
        for event in record.events:
            if event.kind is Kind.FIRED:
                fired_at, ran = event.at, 0
            elif event.kind is Kind.STAGE:
                assert fired_at is not None
                assert (event.stage, event.at) == (stages[ran].name, fired_at + stages[ran].after)
                assert event.data["index"] == ran
                ran += 1
            elif event.kind in (Kind.CANCELLED, Kind.CHECKIN, Kind.PAUSED):
                fired_at = None
    assert fired_at is not None and ran == len(stages)


@EXAMPLES
@given(histories())
def test_nothing_happens_while_paused(history: History) -> None:
    """No reminder, deadline, confirmation, fire or stage falls inside a pause; votes are ignored."""
    paused_until = START  # nothing is paused before this moment
    for record in play(history):
        act = record.act
        if act is not None and act.type == "release_request" and act.at < paused_until:
            assert str(record.error) == (f"the owner paused the switch until {iso(paused_until)}; "
                                         "ask again after that")
        for event in record.events:
            inside = event.at < paused_until
            assert not (inside and event.kind in CLOCK_KINDS), f"{event.kind} at {event.at} while paused"
            if inside and event.kind is Kind.VOTE:
                assert event.reason == "ignored: no confirmation is open (switch paused)"
        if act is not None and act.type == "pause" and act.until is not None:
            paused_until = act.until
        elif act is not None and act.type == "checkin":
            paused_until = START


@EXAMPLES
@given(histories())
def test_every_event_is_in_time_order_at_its_true_moment_with_a_reason(history: History) -> None:
    """Event moments never go back, never run ahead of the act or tick, and each has a reason."""
    last = START
    for record in play(history):
        now = record.act.at if record.act is not None else history.end
        for event in record.events:
            assert last <= event.at <= now
            assert isinstance(event.reason, str) and event.reason.strip()
            last = event.at


@EXAMPLES
@given(histories())
def test_the_state_round_trips_through_its_stored_form_at_every_step(history: History) -> None:
    """Every state the machine reaches survives state_to_dict, JSON and state_from_dict unchanged."""
    for record in play(history):
        stored = json.loads(json.dumps(state_to_dict(record.after)))
        assert state_from_dict(stored) == record.after
