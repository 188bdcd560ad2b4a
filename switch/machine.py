"""The switch's state machine: pure functions of (policy, state, now) to (state, events).

Timers (reminders, the deadline, grace reminders, the end of grace, the end of the
confirmation window, stages, the end of a pause, a release request's waiting period) are
never stored: ``next_timer`` derives the earliest one from the state, and ``run_due``
runs every timer due by ``now``, in order, each event stamped with the moment the policy
made it due. Inputs (check-in, vote, pause, release request) first run the timers due
strictly before their own moment, so at one instant the person wins over the clock: a
check-in at the very moment of firing prevents it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from switch.durations import format_duration
from switch.errors import InputError
from switch.policy import LONGEST_CHAIN, Policy

# The moments the machine takes as input (a check-in's ``now``, a scenario's start): with every
# policy duration bounded (``switch.policy.MAX_DURATION``), nothing computed from a moment in
# this range can pass the last day a ``datetime`` holds.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9900, 1, 1, tzinfo=UTC)
assert (LATEST + LONGEST_CHAIN).year < datetime.max.year


class Status(StrEnum):
    """Where a switch stands."""

    ARMED = "armed"  # waiting for the next check-in; reminders before the deadline
    GRACE = "grace"  # deadline missed; grace reminders on every channel
    CONFIRMING = "confirming"  # verifiers asked; fires at the window's end or on quorum
    FIRED = "fired"  # release stages running
    RELEASED = "released"  # every stage ran
    PAUSED = "paused"  # on hold until a date; nothing runs


class Kind(StrEnum):
    """What happened; the vocabulary of the timeline, the audit log and ``simulate``."""

    CHECKIN = "checkin"
    REMINDER = "reminder"
    DEADLINE = "deadline"
    GRACE_REMINDER = "grace_reminder"
    CONFIRM_REQUESTED = "confirm_requested"
    VOTE = "vote"
    FIRED = "fired"
    STAGE = "stage"
    CANCELLED = "cancelled"
    PAUSED = "paused"
    RESUMED = "resumed"
    RELEASE_REQUESTED = "release_requested"
    REFUSED = "refused"


class Answer(StrEnum):
    """A verifier's answer."""

    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the timeline, at the moment the policy or the person made it happen."""

    at: datetime
    kind: Kind
    reason: str
    stage: str | None = None
    who: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": iso(self.at), "event": str(self.kind)}
        if self.stage is not None:
            out["stage"] = self.stage
        if self.who is not None:
            out["who"] = self.who
        out["reason"] = self.reason
        out.update(self.data)
        return out


@dataclass(frozen=True, slots=True)
class SwitchState:
    """Everything the machine needs to know; timers are derived, never stored."""

    status: Status
    armed_at: datetime  # the last check-in (or the end of a pause): this cycle's start
    deadline: datetime
    cycle: int = 0  # grows at every check-in and pause; keys messages and links
    reminders_sent: int = 0
    grace_sent: int = 0
    fired_at: datetime | None = None
    stages_run: int = 0
    paused_until: datetime | None = None
    votes: tuple[tuple[str, Answer], ...] = ()
    request_by: str | None = None
    request_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Timer:
    """The next moment the machine will act by itself, and what it will do."""

    due: datetime
    kind: Kind


@dataclass(frozen=True, slots=True)
class Step:
    """The state after an input or a run of timers, and what happened on the way."""

    state: SwitchState
    events: tuple[Event, ...]


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z``, as the timeline prints moments."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() != timedelta():
        raise ValueError(f"expected an aware UTC datetime, got {moment!r}")
    return moment


def _input_moment(moment: datetime) -> datetime:
    """An input's moment: aware, UTC, and in the range the bounded policy keeps from overflowing."""
    _utc(moment)
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"expected a moment from {iso(EARLIEST)} to before {iso(LATEST)}, got {iso(moment)}")
    return moment


def deadline_after(policy: Policy, checkin: datetime) -> datetime:
    """The deadline a check-in at ``checkin`` sets.

    Interval: check-in + interval (elapsed time). Calendar: the first scheduled moment
    more than ``policy.lead`` (the largest reminder offset) after the check-in, so that a
    check-in answering a reminder counts for the moment it was reminded of.
    """
    if policy.interval is not None:
        return checkin + policy.interval
    if policy.schedule is None:
        raise ValueError("a policy needs an interval or a schedule")
    return policy.schedule.next_after(checkin + policy.lead)


def arm(policy: Policy, now: datetime, cycle: int = 0) -> SwitchState:
    """A switch armed at ``now`` as if the owner had just checked in."""
    _utc(now)  # an input's moment, or a pause's end at most ``max_pause`` after one
    return SwitchState(Status.ARMED, armed_at=now, deadline=deadline_after(policy, now), cycle=cycle)


def fire_moment(policy: Policy, state: SwitchState) -> datetime:
    """When the switch fires by the clock alone: deadline + grace (+ confirmation window)."""
    window = policy.confirm.window if policy.confirm else timedelta()
    return state.deadline + policy.grace + window


def next_timer(policy: Policy, state: SwitchState) -> Timer | None:
    """The earliest moment at which the machine acts by itself, or None when done."""
    timer = _clock_timer(policy, state)
    if state.request_at is not None and state.status in _REQUESTABLE:
        completes = Timer(state.request_at + policy.request_wait, Kind.FIRED)
        if timer is None or completes.due < timer.due:
            timer = completes
    return timer


def _clock_timer(policy: Policy, state: SwitchState) -> Timer | None:
    if state.status is Status.ARMED:
        if state.reminders_sent < len(policy.reminders):
            return Timer(state.deadline - policy.reminders[state.reminders_sent], Kind.REMINDER)
        return Timer(state.deadline, Kind.DEADLINE)
    if state.status is Status.GRACE:
        grace_end = state.deadline + policy.grace
        every = policy.grace_reminder_every
        if every is not None:
            due = state.deadline + every * (state.grace_sent + 1)
            if due < grace_end:
                return Timer(due, Kind.GRACE_REMINDER)
        return Timer(grace_end, Kind.CONFIRM_REQUESTED if policy.confirm else Kind.FIRED)
    if state.status is Status.CONFIRMING:
        return Timer(fire_moment(policy, state), Kind.FIRED)
    if state.status is Status.FIRED:
        assert state.fired_at is not None
        return Timer(state.fired_at + policy.stages[state.stages_run].after, Kind.STAGE)
    if state.status is Status.PAUSED:
        assert state.paused_until is not None
        return Timer(state.paused_until, Kind.RESUMED)
    return None


_REQUESTABLE = (Status.ARMED, Status.GRACE, Status.CONFIRMING)


def run_due(policy: Policy, state: SwitchState, now: datetime, *, strictly_before: bool = False) -> Step:
    """Run every timer due at or before ``now`` (strictly before, if asked), in order."""
    _utc(now)  # only compared here: the timers' moments come from the state
    events: list[Event] = []
    while (timer := next_timer(policy, state)) is not None and (
        timer.due < now or (timer.due == now and not strictly_before)
    ):
        state, new = _run_timer(policy, state, timer)
        events.extend(new)
    return Step(state, tuple(events))


def _run_timer(policy: Policy, state: SwitchState, timer: Timer) -> tuple[SwitchState, list[Event]]:
    at = timer.due
    if timer.kind is Kind.FIRED and state.status in _REQUESTABLE and state.request_at is not None \
            and at == state.request_at + policy.request_wait and at < fire_moment(policy, state):
        reason = (f"release requested by {state.request_by} at {iso(state.request_at)}; "
                  f"the owner did not refuse within {format_duration(policy.request_wait)}")
        return _fire(policy, state, at, reason, {"cause": "request", "by": state.request_by,
                                                 "requested_at": iso(state.request_at),
                                                 "wait_seconds": int(policy.request_wait.total_seconds())})
    if timer.kind is Kind.REMINDER:
        offset = policy.reminders[state.reminders_sent]
        event = Event(at, Kind.REMINDER, f"deadline {iso(state.deadline)} in {format_duration(offset)}",
                      data={"deadline": iso(state.deadline), "index": state.reminders_sent})
        return replace(state, reminders_sent=state.reminders_sent + 1), [event]
    if timer.kind is Kind.DEADLINE:
        grace_end = state.deadline + policy.grace
        event = Event(at, Kind.DEADLINE, f"no check-in since {iso(state.armed_at)}; "
                      f"grace until {iso(grace_end)}", data={"deadline": iso(state.deadline)})
        return replace(state, status=Status.GRACE, reminders_sent=len(policy.reminders)), [event]
    if timer.kind is Kind.GRACE_REMINDER:
        level = state.grace_sent + 1
        grace_end = state.deadline + policy.grace
        event = Event(at, Kind.GRACE_REMINDER, f"deadline missed; grace ends {iso(grace_end)}",
                      data={"level": level, "deadline": iso(state.deadline)})
        return replace(state, grace_sent=level), [event]
    if timer.kind is Kind.CONFIRM_REQUESTED:
        assert policy.confirm is not None
        closes = fire_moment(policy, state)
        events = [Event(at, Kind.CONFIRM_REQUESTED, f"grace over; verifiers asked until {iso(closes)}",
                        who=v.name, data={"closes": iso(closes)})
                  for v in policy.confirm.verifiers]
        return replace(state, status=Status.CONFIRMING), events
    if timer.kind is Kind.FIRED:
        if state.status is Status.CONFIRMING:
            reason, cause = "confirmation window ended without a check-in", "confirmation"
        else:
            reason, cause = "grace ended without a check-in", "grace"
        return _fire(policy, state, at, reason, {"cause": cause, "deadline": iso(state.deadline)})
    if timer.kind is Kind.STAGE:
        stage = policy.stages[state.stages_run]
        event = Event(at, Kind.STAGE, f"{format_duration(stage.after)} after firing", stage=stage.name,
                      data={"index": state.stages_run, "action": stage.action,
                            "audience": list(stage.audience)})
        run = state.stages_run + 1
        status = Status.RELEASED if run == len(policy.stages) else Status.FIRED
        return replace(state, stages_run=run, status=status), [event]
    if timer.kind is Kind.RESUMED:
        resumed = arm(policy, at, cycle=state.cycle)
        return resumed, [Event(at, Kind.RESUMED, f"pause ended; next deadline {iso(resumed.deadline)}",
                               data={"deadline": iso(resumed.deadline)})]
    raise ValueError(f"unknown timer {timer!r}")


def _fire(policy: Policy, state: SwitchState, at: datetime, reason: str,
          cause: dict[str, Any]) -> tuple[SwitchState, list[Event]]:
    """Fire; ``cause`` is the reason as data (``cause``: grace, confirmation, quorum or request, and its
    figures), so that what a holder reads can say it in their language."""
    status = Status.FIRED if policy.stages else Status.RELEASED
    fired = replace(state, status=status, fired_at=at, stages_run=0, request_by=None, request_at=None)
    return fired, [Event(at, Kind.FIRED, reason, data=cause)]


def _pending_stages(policy: Policy, state: SwitchState) -> list[str]:
    if state.status is not Status.FIRED:
        return []
    return [s.name for s in policy.stages[state.stages_run:]]


def _owner_acts(policy: Policy, state: SwitchState, now: datetime, what: str) -> list[Event]:
    """What an owner's act (check-in or pause) undoes: pending stages, a release request."""
    events: list[Event] = []
    pending = _pending_stages(policy, state)
    if pending:
        events.append(Event(now, Kind.CANCELLED, f"owner {what} before stage(s) ran: {', '.join(pending)}",
                            data={"stages": pending}))
    if state.request_at is not None and state.status in _REQUESTABLE:
        events.append(Event(now, Kind.REFUSED, f"owner {what}; release request refused",
                            who=state.request_by))
    return events


def check_in(policy: Policy, state: SwitchState, now: datetime, via: str = "api",
             new_policy: Policy | None = None) -> Step:
    """The owner checks in: every stage not yet run is cancelled and the switch re-arms.

    With ``new_policy`` (the owner replaced the policy), everything up to the check-in runs
    under the policy the state was built with, and the switch re-arms under the new one.
    """
    _input_moment(now)
    before = run_due(policy, state, now, strictly_before=True)
    state = before.state
    events = list(before.events)
    if state.status is Status.PAUSED:
        events.append(Event(now, Kind.RESUMED, "owner checked in during the pause"))
    events.extend(_owner_acts(policy, state, now, "checked in"))
    armed = arm(new_policy or policy, now, cycle=state.cycle + 1)
    events.append(Event(now, Kind.CHECKIN, f"check-in via {via}; next deadline {iso(armed.deadline)}",
                        data={"via": via, "deadline": iso(armed.deadline)}))
    return Step(armed, tuple(events))


def vote(policy: Policy, state: SwitchState, now: datetime, who: str, answer: str) -> Step:
    """A verifier answers. A quorum of "unreachable" (and no "reachable") fires the switch."""
    _input_moment(now)  # firing at ``now`` puts the stages after it
    if policy.confirm is None:
        raise InputError(f"the policy has no confirmation window, so there is nothing to answer (from {who!r})")
    if who not in {v.name for v in policy.confirm.verifiers}:
        raise InputError(f"expected one of the policy's verifiers, got {who!r}")
    try:
        said = Answer(answer)
    except ValueError:
        raise InputError(f"expected the answer reachable or unreachable, got {answer!r}") from None
    before = run_due(policy, state, now, strictly_before=True)
    state = before.state
    events = list(before.events)
    if state.status is not Status.CONFIRMING:
        events.append(Event(now, Kind.VOTE, f"ignored: no confirmation is open (switch {state.status})",
                            who=who, data={"answer": str(said)}))
        return Step(state, tuple(events))
    votes = tuple((w, a) for w, a in state.votes if w != who) + ((who, said),)
    state = replace(state, votes=votes)
    against = sum(1 for _, a in votes if a is Answer.UNREACHABLE)
    seen = [w for w, a in votes if a is Answer.REACHABLE]
    quorum = policy.confirm.quorum
    if seen:
        note = f"{', '.join(seen)} answered reachable: no early firing"
    elif against >= quorum:
        note = f"quorum reached: {against} unreachable answers of the {quorum} needed"
    else:
        note = f"{against} of {quorum} unreachable answers needed to fire early"
    events.append(Event(now, Kind.VOTE, note, who=who, data={"answer": str(said)}))
    if against >= quorum and not seen:
        state, fired = _fire(policy, state, now, f"{against} of {len(policy.confirm.verifiers)} "
                             f"verifiers answered unreachable (quorum {quorum})",
                             {"cause": "quorum", "unreachable": against,
                              "verifiers": len(policy.confirm.verifiers), "quorum": quorum})
        events.extend(fired)
    return Step(state, tuple(events))


def pause(policy: Policy, state: SwitchState, now: datetime, until: datetime) -> Step:
    """The owner pauses until ``until`` (at most ``max_pause`` away); it counts as a check-in."""
    _input_moment(now)
    _utc(until)
    if until <= now:
        raise InputError(f"expected a pause end after {iso(now)}, got {iso(until)}")
    if until - now > policy.max_pause:
        raise InputError(f"expected a pause of at most {format_duration(policy.max_pause)}, "
                         f"got {format_duration(until - now)} (until {iso(until)})")
    before = run_due(policy, state, now, strictly_before=True)
    state = before.state
    events = list(before.events)
    events.extend(_owner_acts(policy, state, now, "paused"))
    events.append(Event(now, Kind.PAUSED, f"paused by the owner until {iso(until)}",
                        data={"until": iso(until)}))
    paused = replace(arm(policy, now, cycle=state.cycle + 1), status=Status.PAUSED, paused_until=until)
    return Step(paused, tuple(events))


def request_release(policy: Policy, state: SwitchState, now: datetime, who: str) -> Step:
    """A holder asks for release; it completes after ``request_wait`` unless the owner checks in."""
    _input_moment(now)
    before = run_due(policy, state, now, strictly_before=True)
    state = before.state
    if state.status is Status.PAUSED:
        raise InputError(f"the owner paused the switch until {iso(state.paused_until or now)}; "
                         "ask again after that")
    if state.status not in _REQUESTABLE:
        raise InputError(f"the switch has already fired (status {state.status})")
    if state.request_at is not None:
        raise InputError(f"a release request by {state.request_by} is already waiting; it completes at "
                         f"{iso(state.request_at + policy.request_wait)}")
    completes = now + policy.request_wait
    event = Event(now, Kind.RELEASE_REQUESTED,
                  f"completes at {iso(completes)} unless the owner checks in", who=who,
                  data={"completes": iso(completes)})
    return Step(replace(state, request_by=who, request_at=now), (*before.events, event))
