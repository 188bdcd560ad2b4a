"""When a witness may act for a silent primary, from what it last heard: pure rules over the switch core.

The rule, in one paragraph: a witness acts for a switch only once the primary has been silent for the
owner's ``silence`` (plus ``rank`` times ``stagger``, so that several witnesses never start together)
**and** the switch, run by the clock alone from the state the primary last reported, would have fired
by then. From that moment (the *takeover*) the witness owns the switch: it tells the owner the primary
is silent, then gives the owner the part of grace and confirmation the primary was not heard running
(the whole of it when the primary was last heard before the deadline), and only then fires. A release
the primary was heard running continues where it stood: a stage reported run is never run again. So a
witness never fires before the moment the primary itself would have, whatever it heard last.

When the primary comes back, ``merge`` folds what the witness did into the primary's state: a check-in
at the witness is a check-in, a stage the witness ran is run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from switch.machine import LATEST, Status, SwitchState, check_in, run_due
from switch.policy import Policy


class Verdict(StrEnum):
    """What a witness does about one switch now."""

    WAIT = "wait"  # the primary is heard from, or the switch would not have fired yet
    YIELD = "yield"  # another witness claimed the takeover first
    TAKE_OVER = "take_over"  # act: the primary is silent and the owner's timeline says it would have fired


@dataclass(frozen=True, slots=True)
class Report:
    """What a witness last heard from the primary about one switch: its state at ``version``, heard at
    ``heard_at`` (the witness's own clock at receipt)."""

    version: int
    heard_at: datetime
    state: SwitchState


@dataclass(frozen=True, slots=True)
class Claim:
    """A signed "I take over" record: ``witness`` (its rank, as the primary numbered it) claimed the switch at
    ``at``, from the ``version`` it heard; ``held``: it was seen holding the switch (taken over) since this
    witness last heard the primary."""

    witness: str
    rank: int
    version: int
    at: datetime
    held: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict, and the moment it was (or will be) reached: for WAIT, the earliest moment to ask again."""

    verdict: Verdict
    at: datetime
    reason: str


def primary_fire_at(policy: Policy, state: SwitchState) -> datetime | None:
    """When the primary fires this switch, running by the clock alone from ``state`` (None: it never does)."""
    if state.fired_at is not None and state.status in (Status.FIRED, Status.RELEASED):
        return state.fired_at
    fired = run_due(policy, state, LATEST - timedelta(days=1)).state
    return fired.fired_at


def takeover_at(policy: Policy, report: Report, silence: timedelta, rank: int = 0,
                stagger: timedelta | None = None) -> datetime | None:
    """The earliest moment the witness of ``rank`` may take over (None: the switch never fires by itself)."""
    if silence < timedelta():
        raise ValueError(f"expected a silence of zero or more, got {silence}")
    if rank < 0:
        raise ValueError(f"expected a rank of zero or more, got {rank}")
    fires = primary_fire_at(policy, report.state)
    if fires is None:
        return None
    quiet = report.heard_at + silence + (stagger if stagger is not None else silence) * rank
    return max(quiet, fires)


def decide(policy: Policy, report: Report, silence: timedelta, now: datetime, *, rank: int = 0,
           stagger: timedelta | None = None, witness: str = "", claims: tuple[Claim, ...] = ()) -> Decision:
    """Whether the witness ``witness`` of ``rank`` takes over at ``now``, knowing ``claims`` (its own among
    them once it recorded one). A claim counts when it was made after this witness last heard the primary
    (one made before was overtaken by the primary's later word), or when its witness was seen holding the
    switch since then. Versions do not decide it: two witnesses may have heard different versions of one
    silence (a push that reached one and not the other), and a version is the claimant's word alone.

    Without a claim of its own, any sibling's claim wins: the witness yields (it learned the claim before
    making its own). With its own claim recorded, a sibling's claim can only have been learned after it
    (claims are checked and recorded in one step); it wins if that sibling already acted on it (``held``),
    or ranks before this witness (rank, then key): two witnesses that claimed at once both learn both
    claims before acting, and both pick the same one."""
    moment = takeover_at(policy, report, silence, rank, stagger)
    valid = [c for c in claims if c.held or c.at >= report.heard_at]
    own = [c for c in valid if c.witness == witness]
    others = [c for c in valid if c.witness != witness]
    if others and not own:
        first = min(others, key=lambda c: (not c.held, c.rank, c.witness))
        return Decision(Verdict.YIELD, now, f"witness {first.witness[:16]} claimed the takeover of version "
                                            f"{first.version} first")
    if others:
        mine = own[0]
        winners = [c for c in others if c.held or (c.rank, c.witness) < (mine.rank, mine.witness)]
        if winners:
            first = min(winners, key=lambda c: (not c.held, c.rank, c.witness))
            why = "already holds the switch" if first.held else f"ranks before this one ({first.rank})"
            return Decision(Verdict.YIELD, now, f"witness {first.witness[:16]} claimed version {first.version} "
                                                f"too and {why}")
    if moment is None:
        return Decision(Verdict.WAIT, now, "the switch never fires by the clock alone (nothing to take over)")
    if now < moment:
        return Decision(Verdict.WAIT, moment, "the primary was heard recently, or the switch would not have "
                                              "fired yet")
    return Decision(Verdict.TAKE_OVER, now, "the primary has been silent longer than allowed and the owner's "
                                            "timeline says the switch would have fired")


def unheard(policy: Policy, report: Report) -> timedelta:
    """The part of grace and confirmation the primary was not heard running (what the witness gives the
    owner again): all of it when last heard before the deadline, nothing once the switch fired."""
    whole = policy.grace + (policy.confirm.window if policy.confirm else timedelta())
    fires = primary_fire_at(policy, report.state)
    if fires is None or report.state.status in (Status.FIRED, Status.RELEASED):
        return timedelta()
    return max(timedelta(), min(whole, fires - report.heard_at))


def start_state(policy: Policy, report: Report, at: datetime) -> SwitchState:
    """The switch as the witness runs it from its takeover at ``at``: a release heard running continues;
    otherwise the switch enters grace so that it fires ``unheard`` after the takeover (no earlier)."""
    state = report.state
    if state.status in (Status.FIRED, Status.RELEASED):
        return state
    window = policy.confirm.window if policy.confirm else timedelta()
    left = unheard(policy, report)
    # fire_moment = deadline + grace + window = at + left
    deadline = at + left - policy.grace - window
    every = policy.grace_reminder_every
    sent = 0
    if every is not None and every > timedelta() and at > deadline:
        sent = (at - deadline) // every
    return replace(state, status=Status.GRACE, deadline=deadline, reminders_sent=len(policy.reminders),
                   grace_sent=int(sent), paused_until=None, votes=(), request_by=None, request_at=None,
                   fired_at=None, stages_run=0)


def fires_at(policy: Policy, report: Report, silence: timedelta, rank: int = 0,
             stagger: timedelta | None = None) -> datetime | None:
    """When the witness fires if nobody checks in (None: never by the clock)."""
    moment = takeover_at(policy, report, silence, rank, stagger)
    if moment is None:
        return None
    return primary_fire_at(policy, start_state(policy, report, moment))


@dataclass(frozen=True, slots=True)
class WitnessOutcome:
    """What a witness did while it held the switch: the owner's last check-in there, the stages it ran."""

    checked_in_at: datetime | None
    stages_run: int
    cycle: int


def merge(policy: Policy, primary: SwitchState, outcome: WitnessOutcome) -> SwitchState:
    """The primary's state once it has heard what a witness did: a check-in at the witness later than the
    primary's own last one is a check-in (at its moment); a stage the witness ran is run."""
    state = primary
    if outcome.checked_in_at is not None and outcome.checked_in_at > state.armed_at:
        state = check_in(policy, state, outcome.checked_in_at, via="witness").state
        return replace(state, cycle=max(state.cycle, outcome.cycle))
    if outcome.stages_run > state.stages_run and policy.stages:
        run = min(outcome.stages_run, len(policy.stages))
        fired_at = state.fired_at
        if fired_at is None:
            fired_at = primary_fire_at(policy, state)
        status = Status.RELEASED if run == len(policy.stages) else Status.FIRED
        state = replace(state, status=status, stages_run=run, fired_at=fired_at,
                        cycle=max(state.cycle, outcome.cycle))
    return state
