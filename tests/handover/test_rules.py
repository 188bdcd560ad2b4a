"""Transfer rules at their boundaries: the 60-day locks, the phases after expiry, and what must be renewed first."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from handover.model import Domain
from handover.names import domain_name
from handover.rules import Phase, TransferRules, earliest_transfer, eligibility, phase_on

ICANN = TransferRules()
DAY = date(2026, 3, 10)  # the reference day: a lock starts, or the domain expires, on it
FAR = date(2030, 1, 1)  # an expiry far enough not to matter


def domain(expires: date = FAR, **fields: object) -> Domain:
    return replace(Domain(domain_name("bücher.co.id"), "c1", "rw", expires), **fields)


def days(n: int) -> date:
    return DAY + timedelta(days=n)


# The 60-day locks


@pytest.mark.parametrize(
    ("field", "reason"),
    [("created", "registered"), ("last_transfer", "transferred"), ("last_owner_change", "registrant changed")],
)
def test_a_lock_holds_for_59_days_and_lifts_on_day_60(field: str, reason: str) -> None:
    locked = domain(**{field: DAY})
    on_59 = eligibility(locked, days(59), ICANN)
    assert on_59.earliest_transfer == days(60)
    assert not on_59.can_transfer_on(days(59))
    assert on_59.lock_reason == f"{reason} less than 60 days ago"
    on_60 = eligibility(locked, days(60), ICANN)
    assert on_60.earliest_transfer == days(60)
    assert on_60.can_transfer_on(days(60))
    assert on_60.lock_reason is None
    assert on_60.blockers == ()


@pytest.mark.parametrize(("field", "reason"), [("created", "registered"), ("last_transfer", "transferred"),
                                               ("last_owner_change", "registrant changed")])
def test_earliest_transfer_names_the_lock(field: str, reason: str) -> None:
    day, why = earliest_transfer(domain(**{field: DAY}), ICANN)
    assert (day, why) == (days(60), reason)


def test_no_dates_means_no_lock() -> None:
    assert earliest_transfer(domain(), ICANN) == (None, None)
    found = eligibility(domain(), DAY, ICANN)
    assert (found.earliest_transfer, found.lock_reason, found.blockers) == (DAY, None, ())
    assert found.can_transfer_on(DAY)


def test_an_owner_change_with_opt_out_imposes_no_lock() -> None:
    opted_out = domain(last_owner_change=DAY, owner_change_opt_out=True)
    assert earliest_transfer(opted_out, ICANN) == (None, None)
    found = eligibility(opted_out, days(1), ICANN)
    assert found.earliest_transfer == days(1) and found.lock_reason is None
    assert found.can_transfer_on(days(1))


def test_an_opt_out_does_not_lift_the_other_locks() -> None:
    found = eligibility(domain(created=DAY, last_owner_change=days(1), owner_change_opt_out=True), days(10), ICANN)
    assert found.earliest_transfer == days(60)
    assert found.lock_reason == "registered less than 60 days ago"


@pytest.mark.parametrize(
    ("created", "last_transfer", "last_owner_change", "earliest", "reason"),
    [
        (days(-100), days(-30), days(-20), days(40), "registrant changed"),
        (days(-100), days(-10), days(-20), days(50), "transferred"),
        (days(-5), days(-30), days(-20), days(55), "registered"),
    ],
)
def test_the_latest_of_several_locks_wins(created: date, last_transfer: date, last_owner_change: date,
                                          earliest: date, reason: str) -> None:
    locked = domain(created=created, last_transfer=last_transfer, last_owner_change=last_owner_change)
    assert earliest_transfer(locked, ICANN) == (earliest, reason)
    found = eligibility(locked, DAY, ICANN)
    assert found.earliest_transfer == earliest
    assert found.lock_reason == f"{reason} less than 60 days ago"


def test_a_lock_that_lifted_long_ago_leaves_today() -> None:
    found = eligibility(domain(created=days(-400)), DAY, ICANN)
    assert found.earliest_transfer == DAY and found.lock_reason is None


# The phases after expiry


@pytest.mark.parametrize(
    ("after", "phase"),
    [
        (-1, Phase.ACTIVE),
        (0, Phase.ACTIVE),  # the expiry day itself
        (1, Phase.AUTO_RENEW_GRACE),
        (45, Phase.AUTO_RENEW_GRACE),
        (46, Phase.REDEMPTION),
        (75, Phase.REDEMPTION),
        (76, Phase.PENDING_DELETE),
        (80, Phase.PENDING_DELETE),
        (81, Phase.GONE),
        (400, Phase.GONE),
    ],
)
def test_phase_boundaries(after: int, phase: Phase) -> None:
    expiring = domain(expires=DAY)
    assert phase_on(expiring, days(after), ICANN) is phase
    assert eligibility(expiring, days(after), ICANN).phase is phase


def test_grace_and_redemption_end_dates() -> None:
    found = eligibility(domain(expires=DAY), DAY, ICANN)
    assert (found.grace_ends, found.redemption_ends) == (days(45), days(75))


@pytest.mark.parametrize(("after", "renew_by"), [(1, 45), (45, 45), (46, 75), (75, 75)])
def test_renew_by_in_grace_and_redemption(after: int, renew_by: int) -> None:
    found = eligibility(domain(expires=DAY), days(after), ICANN)
    assert found.renew_by == days(renew_by)
    assert len(found.blockers) == 1
    assert not found.can_transfer_on(days(after))


def test_grace_and_redemption_say_what_to_do() -> None:
    assert eligibility(domain(expires=DAY), days(1), ICANN).blockers == (
        "expired: renew it first (auto-renew grace)",)
    assert eligibility(domain(expires=DAY), days(46), ICANN).blockers == ("in redemption: restore it first",)


@pytest.mark.parametrize("after", [76, 81])
def test_past_redemption_nothing_can_be_renewed(after: int) -> None:
    found = eligibility(domain(expires=DAY), days(after), ICANN)
    assert found.renew_by is None
    assert found.blockers == ("past redemption: it can no longer be renewed or moved",)
    assert not found.can_transfer_on(days(after))


def test_an_active_domain_needs_no_renewal_before_it_moves() -> None:
    found = eligibility(domain(expires=days(30)), DAY, ICANN)
    assert (found.phase, found.renew_by, found.blockers) == (Phase.ACTIVE, None, ())


# Renew first, when the lock outlasts the registration


def test_a_domain_that_expires_before_its_lock_lifts_must_be_renewed_first() -> None:
    found = eligibility(domain(expires=days(50), created=days(-10)), DAY, ICANN)
    assert found.earliest_transfer == days(50) and found.renew_by is None  # the lock lifts on the expiry day

    found = eligibility(domain(expires=days(49), created=days(-10)), DAY, ICANN)
    assert found.earliest_transfer == days(50)
    assert found.renew_by == days(49)
    assert found.blockers == (f"expires on {days(49)}, before it can be transferred on {days(50)}: renew it first",)
    assert not found.can_transfer_on(days(50))


def test_once_renewed_it_can_move_when_the_lock_lifts() -> None:
    renewed = domain(expires=days(49 + 365), created=days(-10))
    found = eligibility(renewed, DAY, ICANN)
    assert found.renew_by is None and found.blockers == ()
    assert found.can_transfer_on(days(50))


# Statuses


def test_server_transfer_prohibited_is_a_blocker() -> None:
    found = eligibility(domain(statuses=("serverTransferProhibited",)), DAY, ICANN)
    assert found.blockers == ("serverTransferProhibited: only the registry can lift it (ask the registrar)",)
    assert not found.can_transfer_on(DAY)


def test_a_pending_delete_status_is_a_blocker() -> None:
    found = eligibility(domain(statuses=("pendingDelete",)), DAY, ICANN)
    assert found.blockers == ("pendingDelete at the registry",)


def test_blockers_add_up() -> None:
    found = eligibility(domain(expires=DAY, statuses=("serverTransferProhibited",)), days(2), ICANN)
    assert found.blockers == ("expired: renew it first (auto-renew grace)",
                              "serverTransferProhibited: only the registry can lift it (ask the registrar)")


@pytest.mark.parametrize(
    ("statuses", "prohibited"),
    [((), False), (("clientTransferProhibited",), True), (("serverTransferProhibited", "ok"), True),
     (("clientDeleteProhibited",), False)],
)
def test_transfer_prohibited(statuses: tuple[str, ...], prohibited: bool) -> None:
    assert domain(statuses=statuses).transfer_prohibited is prohibited


# Custom rules


def test_a_30_day_lock_moves_the_boundary() -> None:
    rules = TransferRules(creation_lock_days=30, transfer_lock_days=30, owner_change_lock_days=30)
    for field in ("created", "last_transfer", "last_owner_change"):
        locked = domain(**{field: DAY})
        assert not eligibility(locked, days(29), rules).can_transfer_on(days(29))
        assert eligibility(locked, days(30), rules).can_transfer_on(days(30))
    assert eligibility(domain(created=DAY), days(29), rules).lock_reason == "registered less than 30 days ago"


def test_custom_grace_redemption_and_pending_delete() -> None:
    rules = TransferRules(auto_renew_grace_days=30, redemption_days=10, pending_delete_days=2)
    expiring = domain(expires=DAY)
    assert [phase_on(expiring, days(n), rules) for n in (0, 1, 30, 31, 40, 41, 42, 43)] == [
        Phase.ACTIVE, Phase.AUTO_RENEW_GRACE, Phase.AUTO_RENEW_GRACE, Phase.REDEMPTION, Phase.REDEMPTION,
        Phase.PENDING_DELETE, Phase.PENDING_DELETE, Phase.GONE]
    assert eligibility(expiring, days(31), rules).renew_by == days(40)


def test_zero_days_is_no_lock_at_all() -> None:
    rules = TransferRules(creation_lock_days=0)
    assert eligibility(domain(created=DAY), DAY, rules).can_transfer_on(DAY)


@pytest.mark.parametrize("field", ["creation_lock_days", "transfer_lock_days", "owner_change_lock_days",
                                   "auto_renew_grace_days", "redemption_days", "pending_delete_days",
                                   "auth_code_days"])
def test_transfer_rules_reject_negative_values(field: str) -> None:
    with pytest.raises(ValueError, match=rf"transfer rule {field}: expected a whole number of days, 0 or more, "
                                         r"got -1"):
        TransferRules(**{field: -1})


def test_transfer_rules_reject_fractions() -> None:
    with pytest.raises(ValueError, match=r"got 1\.5"):
        TransferRules(redemption_days=1.5)  # type: ignore[arg-type]


def test_the_defaults_are_icann_today() -> None:
    assert (ICANN.creation_lock_days, ICANN.transfer_lock_days, ICANN.owner_change_lock_days,
            ICANN.auto_renew_grace_days, ICANN.redemption_days, ICANN.pending_delete_days) == (60, 60, 60, 45, 30, 5)
