"""Verifiers can confirm early, but only after grace; heirs can ask for release, and the owner can refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from switch import (
    Answer,
    InputError,
    Status,
    Step,
    SwitchState,
    arm,
    check_in,
    iso,
    pause,
    policy_from_dict,
    request_release,
    run_due,
    vote,
)

POLICY = policy_from_dict({
    "interval": "10d",
    "grace": "2d",
    "confirm": {"window": "4d", "verifiers": ["ana", "budi", "carla"], "quorum": 2},
    "stages": [{"name": "staff", "after": "0d"}, {"name": "family", "after": "7d"}],
    "max_pause": "30d",
    "release_request": {"wait": "3d"},
})
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
DEADLINE = START + timedelta(days=10)  # 2026-01-11 09:00
GRACE_ENDS = DEADLINE + timedelta(days=2)  # 2026-01-13 09:00: verifiers asked
WINDOW_ENDS = GRACE_ENDS + timedelta(days=4)  # 2026-01-17 09:00: fires by the clock


def day(n: float) -> datetime:
    """START plus ``n`` days."""
    return START + timedelta(days=n)


def outline(step: Step) -> list[tuple[str, str, str | None]]:
    return [(iso(e.at), str(e.kind), e.stage or e.who) for e in step.events]


def confirming() -> SwitchState:
    """A switch whose owner went silent, with the verifiers just asked."""
    step = run_due(POLICY, arm(POLICY, START), GRACE_ENDS)
    assert step.state.status is Status.CONFIRMING
    return step.state


def votes(state: SwitchState, *answers: tuple[float, str, str]) -> tuple[SwitchState, list[Step]]:
    steps = []
    for when, who, answer in answers:
        step = vote(POLICY, state, day(when), who, answer)
        steps.append(step)
        state = step.state
    return state, steps


def test_a_quorum_of_unreachable_answers_fires_before_the_window_ends() -> None:
    """Two of three verifiers saying unreachable fire the switch at the second answer."""
    state, steps = votes(confirming(), (13, "ana", "unreachable"), (14, "budi", "unreachable"))

    assert outline(steps[1]) == [("2026-01-15T09:00:00Z", "vote", "budi"), ("2026-01-15T09:00:00Z", "fired", None)]
    assert steps[1].events[-1].reason == "2 of 3 verifiers answered unreachable (quorum 2)"
    assert (state.status, state.fired_at) == (Status.FIRED, day(14))
    assert outline(run_due(POLICY, state, day(14))) == [("2026-01-15T09:00:00Z", "stage", "staff")]


def test_unreachable_answers_during_grace_are_ignored_so_a_quorum_never_fires_before_grace_ends() -> None:
    """Votes before the confirmation opens are recorded as ignored and count for nothing afterwards."""
    state = arm(POLICY, START)
    state, steps = votes(state, (10.5, "ana", "unreachable"), (11, "budi", "unreachable"),
                         (12, "carla", "unreachable"))

    assert [e.reason for s in steps for e in s.events if str(e.kind) == "vote"] == [
        "ignored: no confirmation is open (switch grace)"] * 3
    assert (state.status, state.votes) == (Status.GRACE, ())

    asked = run_due(POLICY, state, GRACE_ENDS)
    assert [kind for _, kind, _ in outline(asked)] == ["confirm_requested"] * 3
    assert asked.state.status is Status.CONFIRMING


def test_a_vote_at_the_very_moment_grace_ends_comes_before_the_verifiers_are_asked() -> None:
    """Inputs at an instant come before timers, so a vote at grace's end finds no open confirmation."""
    state = run_due(POLICY, arm(POLICY, START), GRACE_ENDS - timedelta(seconds=1)).state

    step = vote(POLICY, state, GRACE_ENDS, "ana", "unreachable")

    assert [e.reason for e in step.events] == ["ignored: no confirmation is open (switch grace)"]


def test_a_reachable_answer_blocks_early_firing_until_the_window_ends() -> None:
    """One verifier who reached the owner outweighs any number of unreachable answers."""
    state, steps = votes(confirming(), (12.5, "ana", "reachable"), (13, "budi", "unreachable"),
                         (14, "carla", "unreachable"))

    assert [e.reason for e in steps[-1].events] == ["ana answered reachable: no early firing"]
    assert state.status is Status.CONFIRMING
    fired = run_due(POLICY, state, WINDOW_ENDS)
    assert outline(fired) == [("2026-01-17T09:00:00Z", "fired", None), ("2026-01-17T09:00:00Z", "stage", "staff")]
    assert fired.events[0].reason == "confirmation window ended without a check-in"


def test_a_verifier_answering_twice_counts_once() -> None:
    """Ana saying unreachable twice is one answer, not a quorum of two."""
    state, steps = votes(confirming(), (13, "ana", "unreachable"), (14, "ana", "unreachable"))

    assert [e.reason for s in steps for e in s.events] == [
        "1 of 2 unreachable answers needed to fire early"] * 2
    assert (state.status, state.votes) == (Status.CONFIRMING, (("ana", Answer.UNREACHABLE),))


def test_a_verifier_changing_their_answer_keeps_only_the_last_one() -> None:
    """Ana taking back "unreachable" blocks firing; taking back "reachable" lifts the block."""
    blocked, _ = votes(confirming(), (13, "ana", "unreachable"), (13.5, "ana", "reachable"),
                       (14, "budi", "unreachable"), (14.5, "carla", "unreachable"))
    assert (blocked.status, blocked.votes) == (Status.CONFIRMING, (
        ("ana", Answer.REACHABLE), ("budi", Answer.UNREACHABLE), ("carla", Answer.UNREACHABLE)))

    lifted, steps = votes(confirming(), (13, "ana", "reachable"), (13.5, "budi", "unreachable"),
                          (14, "ana", "unreachable"))
    assert lifted.status is Status.FIRED
    assert steps[-1].events[-1].reason == "2 of 3 verifiers answered unreachable (quorum 2)"


def test_a_check_in_during_the_confirmation_clears_the_votes() -> None:
    """The owner's check-in vetoes the confirmation; the next one starts with no answers."""
    state, _ = votes(confirming(), (13, "ana", "unreachable"))

    step = check_in(POLICY, state, day(13.5))

    assert (step.state.status, step.state.votes) == (Status.ARMED, ())
    assert outline(step) == [("2026-01-14T21:00:00Z", "checkin", None)]


def test_a_release_request_completes_after_its_waiting_period() -> None:
    """Nothing happens a second before the wait is over; at its end the switch fires and says why."""
    asked = request_release(POLICY, arm(POLICY, START), day(1), "dewi")
    assert outline(asked) == [("2026-01-02T09:00:00Z", "release_requested", "dewi")]
    assert asked.events[0].reason == "completes at 2026-01-05T09:00:00Z unless the owner checks in"

    assert run_due(POLICY, asked.state, day(4) - timedelta(seconds=1)).events == ()
    done = run_due(POLICY, asked.state, day(4))

    assert outline(done) == [("2026-01-05T09:00:00Z", "fired", None), ("2026-01-05T09:00:00Z", "stage", "staff")]
    assert done.events[0].reason == ("release requested by dewi at 2026-01-02T09:00:00Z; "
                                     "the owner did not refuse within 3d")


def test_the_owner_checking_in_refuses_a_waiting_request() -> None:
    """A check-in while a request waits records a `refused` event, and the request never completes."""
    asked = request_release(POLICY, arm(POLICY, START), day(1), "dewi")

    step = check_in(POLICY, asked.state, day(3))

    assert outline(step) == [("2026-01-04T09:00:00Z", "refused", "dewi"), ("2026-01-04T09:00:00Z", "checkin", None)]
    assert step.events[0].reason == "owner checked in; release request refused"
    assert (step.state.request_by, step.state.request_at) == (None, None)
    assert [str(e.kind) for e in run_due(POLICY, step.state, day(13)).events] == ["deadline"]


def test_the_owner_pausing_refuses_a_waiting_request() -> None:
    """A pause is an owner act too: the waiting request is refused."""
    asked = request_release(POLICY, arm(POLICY, START), day(1), "dewi")

    step = pause(POLICY, asked.state, day(2), until=day(20))

    assert outline(step) == [("2026-01-03T09:00:00Z", "refused", "dewi"), ("2026-01-03T09:00:00Z", "paused", None)]
    assert step.events[0].reason == "owner paused; release request refused"


def test_a_request_waiting_during_grace_still_completes_before_the_clock_would_fire() -> None:
    """Asked on the day of the deadline, it fires three days later, before the window would end."""
    asked = request_release(POLICY, arm(POLICY, START), DEADLINE, "dewi")

    fired = [e for e in run_due(POLICY, asked.state, WINDOW_ENDS).events if str(e.kind) == "fired"]

    assert [iso(e.at) for e in fired] == ["2026-01-14T09:00:00Z"]


def test_a_request_that_would_complete_after_the_clock_fires_changes_nothing() -> None:
    """The window ends first; the request is dropped with the fire, and nothing fires twice."""
    asked = request_release(POLICY, confirming(), day(15), "dewi")

    events = run_due(POLICY, asked.state, day(40)).events

    assert [(iso(e.at), e.reason) for e in events if str(e.kind) == "fired"] == [
        ("2026-01-17T09:00:00Z", "confirmation window ended without a check-in")]


def test_a_request_while_paused_is_refused() -> None:
    """A pause is announced to nobody but the owner; a request during it is refused until it ends."""
    paused = pause(POLICY, arm(POLICY, START), day(1), until=day(19)).state

    with pytest.raises(InputError) as raised:
        request_release(POLICY, paused, day(5), "dewi")

    assert str(raised.value) == "the owner paused the switch until 2026-01-20T09:00:00Z; ask again after that"


@pytest.mark.parametrize(("when", "message"), [
    (day(17), "the switch has already fired (status fired)"),
    (day(30), "the switch has already fired (status released)"),
], ids=["while-stages-run", "after-every-stage-ran"])
def test_a_request_after_firing_is_refused(when: datetime, message: str) -> None:
    """Once the switch fired there is nothing left to ask for."""
    with pytest.raises(InputError) as raised:
        request_release(POLICY, arm(POLICY, START), when, "dewi")

    assert str(raised.value) == message


def test_a_second_request_while_one_waits_is_refused() -> None:
    """Only one request waits at a time; the second asker is told when the first completes."""
    asked = request_release(POLICY, arm(POLICY, START), day(1), "dewi")

    with pytest.raises(InputError) as raised:
        request_release(POLICY, asked.state, day(2), "eko")

    assert str(raised.value) == ("a release request by dewi is already waiting; "
                                 "it completes at 2026-01-05T09:00:00Z")


@pytest.mark.parametrize(("who", "answer", "message"), [
    ("zed", "unreachable", "expected one of the policy's verifiers, got 'zed'"),
    ("ana", "maybe", "expected the answer reachable or unreachable, got 'maybe'"),
], ids=["unknown-verifier", "unknown-answer"])
def test_a_vote_that_cannot_be_taken_is_refused(who: str, answer: str, message: str) -> None:
    """A vote by someone who is not a verifier, or with an unknown answer, is an InputError."""
    with pytest.raises(InputError) as raised:
        vote(POLICY, confirming(), day(13), who, answer)

    assert str(raised.value) == message
