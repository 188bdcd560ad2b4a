"""A switch waking from a backup: what came due on the shelf never hastens a release."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from switch import Status, arm, check_in, fire_moment, policy_from_dict, request_release, run_due, wake_after_shelf

POLICY = policy_from_dict({"interval": "10d", "reminders": ["1d"], "grace": "3d", "grace_reminder_every": "1d",
                           "confirm": {"window": "2d", "verifiers": [{"name": "vera"}], "quorum": 1},
                           "stages": [{"name": "notify", "after": "0d", "audience": ["owner"]}]})
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("shelf_days", [11, 14, 16, 40], ids=["in-grace", "confirming", "past-firing", "long"])
def test_a_deadline_passed_on_the_shelf_counts_from_the_wake(shelf_days: int) -> None:
    """Whatever the shelf passed (deadline, grace, window), the switch fires no sooner than grace + window
    after the wake."""
    backed_up = arm(POLICY, T0)
    now = T0 + timedelta(days=shelf_days)
    woken, why = wake_after_shelf(POLICY, backed_up, now)
    assert why is not None and woken.status is Status.ARMED and woken.deadline == now
    assert run_due(POLICY, woken, now).state.status is Status.GRACE
    assert fire_moment(POLICY, woken) == now + timedelta(days=5)
    assert run_due(POLICY, woken, now + timedelta(days=5) - timedelta(seconds=1)).state.status is Status.CONFIRMING


def test_a_switch_in_a_grace_that_has_not_ended_is_left_alone() -> None:
    """Backed up in grace, restored before the grace ends: nothing came due that could fire it."""
    in_grace = run_due(POLICY, arm(POLICY, T0), T0 + timedelta(days=10)).state
    assert in_grace.status is Status.GRACE
    assert wake_after_shelf(POLICY, in_grace, T0 + timedelta(days=12)) == (in_grace, None)


def test_a_confirmation_whose_window_ended_on_the_shelf_starts_over() -> None:
    """Backed up while verifiers were asked; the window ended on the shelf: a new deadline at the wake."""
    confirming = run_due(POLICY, arm(POLICY, T0), T0 + timedelta(days=13, hours=1)).state
    assert confirming.status is Status.CONFIRMING
    now = T0 + timedelta(days=20)
    woken, why = wake_after_shelf(POLICY, confirming, now)
    assert woken.status is Status.ARMED and woken.deadline == now and woken.votes == () and why


def test_a_release_request_that_completed_on_the_shelf_waits_again() -> None:
    """A holder's request whose waiting period ended on the shelf restarts it at the wake."""
    asked = request_release(POLICY, arm(POLICY, T0), T0 + timedelta(days=1), "rita").state
    now = T0 + timedelta(days=9)
    woken, why = wake_after_shelf(POLICY, asked, now)
    assert woken.request_at == now
    assert why == f"the release request's waiting period restarts at {now:%Y-%m-%dT%H:%M:%SZ}"
    assert run_due(POLICY, woken, now).state.status is Status.ARMED


def test_a_fired_switch_and_a_fresh_one_are_unchanged() -> None:
    """A switch that fired before the backup keeps its stages; one before its deadline is untouched."""
    fresh = check_in(POLICY, arm(POLICY, T0), T0 + timedelta(days=5)).state
    assert wake_after_shelf(POLICY, fresh, T0 + timedelta(days=6)) == (fresh, None)
    fired = run_due(POLICY, arm(POLICY, T0), T0 + timedelta(days=15)).state
    assert fired.status in (Status.FIRED, Status.RELEASED)
    assert wake_after_shelf(POLICY, fired, T0 + timedelta(days=60)) == (fired, None)
