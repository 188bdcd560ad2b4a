"""A handover profile cannot promise an abrupt cut-off: its transition and grace have a minimum."""

from __future__ import annotations

import pytest

from handover.errors import HandoverError
from handover.model import HandoverProfile
from handover.transition import MinimumTerms, at_least, check, shortfalls

MINIMUM = MinimumTerms(act_within_days=14, grace_days=14)


def _profile(act: int, grace: int) -> HandoverProfile:
    return HandoverProfile("Budi Hosting", "Budi", act_within_days=act, grace_days=grace)


def test_a_profile_at_the_minimum_is_accepted() -> None:
    check(_profile(14, 14), MINIMUM)
    assert shortfalls(_profile(30, 30), MINIMUM) == []


def test_no_transition_and_no_grace_is_refused_with_the_reason_on_one_line() -> None:
    with pytest.raises(HandoverError) as caught:
        check(_profile(0, 0), MINIMUM)
    assert str(caught.value) == ("act_within_days: expected at least 14 days (customers need time to read the "
                                 "notice, open their own account and answer), got 0")
    assert shortfalls(_profile(30, 3), MINIMUM) == [
        "grace_days: expected at least 14 days (a suspended service must stay restorable until its customer can "
        "fetch their data), got 3"]


def test_a_profile_stored_before_the_minimum_rose_is_raised_to_it_for_the_notices() -> None:
    raised = at_least(_profile(0, 30), MINIMUM)
    assert (raised.act_within_days, raised.grace_days) == (14, 30)


def test_a_negative_minimum_is_a_mistake_of_the_caller() -> None:
    with pytest.raises(ValueError, match="minimum grace_days"):
        MinimumTerms(14, -1)
