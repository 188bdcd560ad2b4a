"""The witness's takeover rule (``switch.witness``): given the last report, the silence and the clock, act
or not; never before the primary's own fire time; never a stage twice; a witness's check-in wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from switch import Status, arm, check_in, policy_from_dict, run_due
from switch.witness import (
    Claim,
    Report,
    Verdict,
    WitnessOutcome,
    decide,
    fires_at,
    merge,
    primary_fire_at,
    start_state,
    takeover_at,
)

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
EXAMPLES = settings(max_examples=200, deadline=None)
HOUR = timedelta(hours=1)


def policy(interval: int = 48, grace: int = 24, window: int | None = None, every: int | None = None) -> object:
    data: dict[str, object] = {"interval": f"{interval}h", "reminders": ["12h"], "grace": f"{grace}h",
                               "timezone": "UTC",
                               "stages": [{"name": "staff", "after": "0h", "audience": ["owner"]},
                                          {"name": "family", "after": "5h", "audience": ["owner"]},
                                          {"name": "customers", "after": "9h", "audience": ["owner"]}]}
    if window is not None:
        data["confirm"] = {"window": f"{window}h", "quorum": 1, "verifiers": [{"name": "ana", "email": "a@x.org"}]}
    if every is not None:
        data["grace_reminder_every"] = f"{every}h"
    return policy_from_dict(data)


histories = st.builds(
    lambda interval, grace, window, every, heard, silence, rank, now: (
        policy(interval, grace, window, every), heard, silence, rank, now),
    st.integers(13, 200), st.integers(0, 100), st.one_of(st.none(), st.integers(1, 50)),
    st.one_of(st.none(), st.integers(1, 30)), st.integers(0, 600), st.integers(0, 200), st.integers(0, 3),
    st.integers(0, 2000))


@EXAMPLES
@given(histories)
def test_a_witness_never_acts_or_fires_before_the_primary_would_have(case: tuple) -> None:
    """Whatever it last heard (a state run by the primary up to that moment), a witness takes over only
    once silent long enough and past the primary's fire time, and fires no earlier than the primary."""
    pol, heard_h, silence_h, rank, now_h = case
    heard = START + heard_h * HOUR
    state = run_due(pol, arm(pol, START), heard).state  # what the primary reported at ``heard``
    report = Report(version=7, heard_at=heard, state=state)
    silence = silence_h * HOUR
    now = START + now_h * HOUR
    primary_fires = primary_fire_at(pol, state)
    decision = decide(pol, report, silence, now, rank=rank)
    assert primary_fires is not None
    if decision.verdict is Verdict.TAKE_OVER:
        assert now >= primary_fires
        assert now >= heard + silence * (rank + 1)
    else:
        assert decision.verdict is Verdict.WAIT
        assert now < primary_fires or now < heard + silence * (rank + 1)
    witness_fires = fires_at(pol, report, silence, rank)
    assert witness_fires is not None and witness_fires >= primary_fires


@EXAMPLES
@given(histories)
def test_a_stage_reported_run_is_never_run_again_by_the_witness(case: tuple) -> None:
    """From a report taken during the release, the witness runs exactly the stages not yet reported."""
    pol, heard_h, silence_h, rank, _now = case
    fired = primary_fire_at(pol, arm(pol, START))
    assert fired is not None
    heard = fired + heard_h * timedelta(minutes=1)
    state = run_due(pol, arm(pol, START), heard).state
    report = Report(version=3, heard_at=heard, state=state)
    moment = takeover_at(pol, report, silence_h * HOUR, rank)
    assert moment is not None
    begun = start_state(pol, report, moment)
    ran = [e.stage for e in run_due(pol, begun, moment + timedelta(days=30)).events if e.stage]
    assert ran == [s.name for s in pol.stages[state.stages_run:]]  # type: ignore[attr-defined]


def test_a_witness_that_heard_the_primary_before_the_deadline_gives_the_whole_grace_again() -> None:
    """Primary last heard an hour after a check-in, silence 2 h: the witness takes over at the primary's
    fire moment and fires one whole grace later, having told the owner at the takeover."""
    pol = policy(interval=48, grace=24)
    report = Report(version=1, heard_at=START + HOUR, state=arm(pol, START))
    assert takeover_at(pol, report, 2 * HOUR) == START + 72 * HOUR
    assert decide(pol, report, 2 * HOUR, START + 72 * HOUR - timedelta(seconds=1)).verdict is Verdict.WAIT
    assert decide(pol, report, 2 * HOUR, START + 72 * HOUR).verdict is Verdict.TAKE_OVER
    assert fires_at(pol, report, 2 * HOUR) == START + 96 * HOUR
    begun = start_state(pol, report, START + 72 * HOUR)
    assert begun.status is Status.GRACE


def test_heartbeats_that_keep_coming_hold_the_witness_back_however_late_the_switch() -> None:
    """A primary whose worker stopped still sends heartbeats: the switch is overdue, but the witness waits."""
    pol = policy()
    state = arm(pol, START)
    for hours in (100, 500, 1000):
        report = Report(version=1, heard_at=START + hours * HOUR, state=state)
        decision = decide(pol, report, 2 * HOUR, START + (hours + 1) * HOUR)
        assert decision.verdict is Verdict.WAIT
        assert decision.at == START + (hours + 2) * HOUR


def test_an_earlier_claim_by_another_witness_makes_this_one_yield() -> None:
    """Two witnesses: a claim made since this witness last heard the primary wins; one made before it heard the
    primary again (a takeover the primary's later word overtook) does not, unless its maker was seen holding
    the switch since."""
    pol = policy()
    report = Report(version=5, heard_at=START, state=arm(pol, START))
    late = START + 1000 * HOUR
    claim = Claim(witness="w1", rank=0, version=5, at=START + 90 * HOUR)
    assert decide(pol, report, HOUR, late, rank=1, witness="w2", claims=(claim,)).verdict is Verdict.YIELD
    stale = Claim(witness="w1", rank=0, version=5, at=START - HOUR)
    assert decide(pol, report, HOUR, late, rank=1, witness="w2", claims=(stale,)).verdict is Verdict.TAKE_OVER
    holding = Claim(witness="w1", rank=0, version=5, at=START - HOUR, held=True)
    assert decide(pol, report, HOUR, late, rank=1, witness="w2", claims=(holding,)).verdict is Verdict.YIELD
    own = Claim(witness="w2", rank=1, version=5, at=START + 90 * HOUR)
    assert decide(pol, report, HOUR, late, rank=1, witness="w2", claims=(own,)).verdict is Verdict.TAKE_OVER


def test_with_its_own_claim_a_witness_yields_only_to_a_held_claim_or_a_first_rank() -> None:
    """Its own claim recorded, a sibling's claim learned after it wins only when that sibling already holds the
    switch or ranks first; two witnesses knowing both claims pick the same one; a newer version's claim counts."""
    pol = policy()
    report = Report(version=5, heard_at=START, state=arm(pol, START))
    late = START + 1000 * HOUR
    first = Claim(witness="w1", rank=0, version=5, at=late)
    second = Claim(witness="w2", rank=1, version=5, at=late - HOUR)
    both = (first, second)
    verdicts = [decide(pol, report, HOUR, late, rank=r, witness=w, claims=both).verdict
                for r, w in ((0, "w1"), (1, "w2"))]
    assert verdicts == [Verdict.TAKE_OVER, Verdict.YIELD]
    held = Claim(witness="w2", rank=1, version=5, at=late, held=True)
    decision = decide(pol, report, HOUR, late, rank=0, witness="w1", claims=(first, held))
    assert decision.verdict is Verdict.YIELD and "already holds" in decision.reason
    newer = Claim(witness="w3", rank=2, version=6, at=late)
    assert decide(pol, report, HOUR, late, rank=0, witness="w1", claims=(newer,)).verdict is Verdict.YIELD
    assert decide(pol, report, HOUR, late, rank=0, witness="w1", claims=(first, newer)).verdict is Verdict.TAKE_OVER
    early = START + 2 * HOUR  # before its own moment: a claim of its own does not make it act early
    assert decide(pol, report, HOUR, early, rank=0, witness="w1", claims=(first,)).verdict is Verdict.WAIT


def test_witnesses_that_heard_different_versions_still_agree_on_one() -> None:
    """A push reached w2 (version 6) and not w1 (version 5), then the primary died. w1 claims first and takes
    over; w2, which heard a newer version, still yields to w1's claim: it was made after w2 last heard the
    primary. A claim's version, the claimant's word alone, decides nothing (an inflated one wins nothing)."""
    pol = policy()
    w1_heard = Report(version=5, heard_at=START, state=arm(pol, START))
    w2_heard = Report(version=6, heard_at=START + HOUR / 2, state=arm(pol, START))
    late = START + 1000 * HOUR
    w1 = Claim(witness="w1", rank=0, version=5, at=START + 40 * HOUR)
    assert decide(pol, w1_heard, HOUR, late, rank=0, witness="w1", claims=(w1,)).verdict is Verdict.TAKE_OVER
    assert decide(pol, w2_heard, HOUR, late, rank=1, witness="w2", claims=(w1,)).verdict is Verdict.YIELD
    w2 = Claim(witness="w2", rank=1, version=6, at=START + 41 * HOUR)
    verdicts = [decide(pol, heard, HOUR, late, rank=r, witness=w, claims=(w1, w2)).verdict
                for heard, r, w in ((w1_heard, 0, "w1"), (w2_heard, 1, "w2"))]
    assert verdicts == [Verdict.TAKE_OVER, Verdict.YIELD]
    inflated = Claim(witness="w3", rank=2, version=10**9, at=START - HOUR)  # made before w1 last heard
    assert decide(pol, w1_heard, HOUR, late, rank=0, witness="w1", claims=(inflated,)).verdict is Verdict.TAKE_OVER


def test_a_rank_staggers_the_takeover_by_the_silence() -> None:
    """Witness ranks 0, 1, 2 with a silence longer than the timeline: each starts one silence after the last."""
    pol = policy(interval=13, grace=0)
    report = Report(version=1, heard_at=START, state=arm(pol, START))
    moments = [takeover_at(pol, report, 24 * HOUR, rank) for rank in range(3)]
    assert moments == [START + 24 * HOUR, START + 48 * HOUR, START + 72 * HOUR]


@EXAMPLES
@given(st.integers(1, 47), st.integers(0, 3))
def test_a_check_in_at_the_witness_counts_on_the_primary(hours: int, stages: int) -> None:
    """The primary merges what the witness did: a later check-in re-arms it from that moment."""
    pol = policy()
    primary = arm(pol, START)
    at = START + hours * HOUR
    merged = merge(pol, primary, WitnessOutcome(checked_in_at=at, stages_run=stages, cycle=primary.cycle + 1))
    assert merged.status is Status.ARMED
    assert merged.armed_at == at
    assert merged.deadline == check_in(pol, primary, at).state.deadline


@EXAMPLES
@given(st.integers(0, 3), st.integers(0, 3))
def test_a_stage_the_witness_ran_is_run_on_the_primary(reported: int, witness_ran: int) -> None:
    """Stages: the primary keeps the larger count, and never runs again a stage the witness ran."""
    pol = policy()
    fired = primary_fire_at(pol, arm(pol, START))
    assert fired is not None
    primary = run_due(pol, arm(pol, START), fired).state  # fired; stage 1 ("after 0h") ran
    primary = run_due(pol, primary, fired + timedelta(hours=[0, 5, 9, 9][reported])).state
    merged = merge(pol, primary, WitnessOutcome(checked_in_at=None, stages_run=witness_ran, cycle=primary.cycle))
    assert merged.stages_run == max(primary.stages_run, witness_ran)
    later = [e.stage for e in run_due(pol, merged, fired + timedelta(days=2)).events if e.stage]
    assert later == [s.name for s in pol.stages[merged.stages_run:]]
