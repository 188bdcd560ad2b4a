"""Transfer rules and each domain's eligibility: when it can move, and what must be renewed first.

The lengths are settings, because ICANN's transfer policy is under revision; the defaults
are today's values: a 60-day lock after creation, after an inter-registrar transfer and
after a change of registrant (unless the registrant opted out), a 45-day auto-renew grace
after expiry, 30 days of redemption, 5 days pending delete, and 5 days for a registrar to
give an auth code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from handover.model import Domain


@dataclass(frozen=True, slots=True)
class TransferRules:
    creation_lock_days: int = 60
    transfer_lock_days: int = 60
    owner_change_lock_days: int = 60
    auto_renew_grace_days: int = 45
    redemption_days: int = 30
    pending_delete_days: int = 5
    auth_code_days: int = 5

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"transfer rule {name}: expected a whole number of days, 0 or more, got {value!r}")


class Phase(StrEnum):
    ACTIVE = "active"
    AUTO_RENEW_GRACE = "auto-renew grace"  # expired; renewable at the normal price
    REDEMPTION = "redemption"  # expired and deleted; only a (costly) restore brings it back
    PENDING_DELETE = "pending delete"  # nothing can be done; it will be free for anyone
    GONE = "gone"  # past pending delete


@dataclass(frozen=True, slots=True)
class Eligibility:
    domain: str
    phase: Phase
    earliest_transfer: date  # the first day an inter-registrar transfer is allowed
    lock_reason: str | None  # why that day is not "now", if a 60-day lock applies
    grace_ends: date  # last day of the auto-renew grace
    redemption_ends: date  # last day a restore is possible
    renew_by: date | None  # renew (or restore) before this day, or nothing can move
    blockers: tuple[str, ...]  # what must happen before a transfer can be asked for

    def can_transfer_on(self, day: date) -> bool:
        return day >= self.earliest_transfer and self.phase is Phase.ACTIVE and not self.blockers


def phase_on(domain: Domain, day: date, rules: TransferRules) -> Phase:
    grace_ends = domain.expires + timedelta(days=rules.auto_renew_grace_days)
    redemption_ends = grace_ends + timedelta(days=rules.redemption_days)
    if day <= domain.expires:
        return Phase.ACTIVE
    if day <= grace_ends:
        return Phase.AUTO_RENEW_GRACE
    if day <= redemption_ends:
        return Phase.REDEMPTION
    if day <= redemption_ends + timedelta(days=rules.pending_delete_days):
        return Phase.PENDING_DELETE
    return Phase.GONE


def earliest_transfer(domain: Domain, rules: TransferRules) -> tuple[date | None, str | None]:
    """The first day the 60-day locks allow an inter-registrar transfer, and the lock that sets it."""
    locks: list[tuple[date, str]] = []
    if domain.created:
        locks.append((domain.created + timedelta(days=rules.creation_lock_days), "registered"))
    if domain.last_transfer:
        locks.append((domain.last_transfer + timedelta(days=rules.transfer_lock_days), "transferred"))
    if domain.last_owner_change and not domain.owner_change_opt_out:
        locks.append((domain.last_owner_change + timedelta(days=rules.owner_change_lock_days),
                      "registrant changed"))
    if not locks:
        return None, None
    day, why = max(locks)
    return day, why


def eligibility(domain: Domain, today: date, rules: TransferRules, reach: date | None = None) -> Eligibility:
    """What ``domain`` allows on ``today``, and from when.

    ``reach`` is the first day anyone can act on the domain, when that is later than ``today``:
    the day the notices reach its customer, or the day a registrar must have answered a request.
    A domain that expires before then must be renewed first, like one that expires inside a lock.
    """
    phase = phase_on(domain, today, rules)
    grace_ends = domain.expires + timedelta(days=rules.auto_renew_grace_days)
    redemption_ends = grace_ends + timedelta(days=rules.redemption_days)
    locked_until, why = earliest_transfer(domain, rules)
    earliest = max(today, locked_until) if locked_until else today
    acting = max(earliest, reach) if reach else earliest
    reason = None
    if locked_until and locked_until > today:
        days = {"registered": rules.creation_lock_days, "transferred": rules.transfer_lock_days,
                "registrant changed": rules.owner_change_lock_days}[str(why)]
        reason = f"{why} less than {days} days ago"
    blockers: list[str] = []
    renew_by: date | None = None
    if phase is Phase.AUTO_RENEW_GRACE:
        blockers.append("expired: renew it first (auto-renew grace)")
        renew_by = grace_ends
    elif phase is Phase.REDEMPTION:
        blockers.append("in redemption: restore it first")
        renew_by = redemption_ends
    elif phase in (Phase.PENDING_DELETE, Phase.GONE):
        blockers.append("past redemption: it can no longer be renewed or moved")
    elif earliest > domain.expires:
        # It expires before the lock lifts: without a renewal it never becomes transferable.
        blockers.append(f"expires on {domain.expires}, before it can be transferred on {earliest}: renew it first")
        renew_by = domain.expires
    elif acting > domain.expires:
        # It expires before anyone can act on it: renewing is the one thing that cannot wait.
        blockers.append(f"expires on {domain.expires}, before anything can be done about it on {acting}: "
                        "renew it first")
        renew_by = domain.expires
    if "serverTransferProhibited" in domain.statuses:
        blockers.append("serverTransferProhibited: only the registry can lift it (ask the registrar)")
    if "pendingDelete" in domain.statuses and phase is Phase.ACTIVE:
        blockers.append("pendingDelete at the registry")
    return Eligibility(domain.name.unicode, phase, earliest, reason, grace_ends, redemption_ends, renew_by,
                       tuple(blockers))
