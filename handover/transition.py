"""The shortest transition a handover profile may promise customers, and what it means for one profile.

Seed 001 (suspending a reseller's customers) is plain: notify before suspending, give a grace
period, keep an un-suspend path; an abrupt cut-off is what hurts customers most. So a profile
may not promise less than a minimum (a deployment setting):

- ``act_within_days``: customers must be able to read the notice after a week away, open an
  account of their own at the registrar or provider, answer, and wait out a registrar's
  auth-code duty (5 days) — two weeks by default;
- ``grace_days``: a suspended service must stay restorable long enough for its customer to
  notice and fetch their data before it is deleted — two weeks by default.

A profile stored before a minimum was raised is never refused after the fact: its notices use
the minimum instead (``at_least``), and readiness says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from handover.errors import HandoverError
from handover.model import HandoverProfile

REASONS = {
    "act_within_days": "customers need time to read the notice, open their own account and answer",
    "grace_days": "a suspended service must stay restorable until its customer can fetch their data",
}


@dataclass(frozen=True, slots=True)
class MinimumTerms:
    act_within_days: int = 14
    grace_days: int = 14

    def __post_init__(self) -> None:
        for name in ("act_within_days", "grace_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"minimum {name}: expected a whole number of days, 0 or more, got {value!r}")


def shortfalls(profile: HandoverProfile, minimum: MinimumTerms) -> list[str]:
    """One sentence per term of ``profile`` below the minimum (empty: none)."""
    return [f"{name}: expected at least {getattr(minimum, name)} days ({REASONS[name]}), "
            f"got {getattr(profile, name)}"
            for name in ("act_within_days", "grace_days") if getattr(profile, name) < getattr(minimum, name)]


def check(profile: HandoverProfile, minimum: MinimumTerms) -> None:
    """``HandoverError`` with the first term below the minimum, on one line."""
    found = shortfalls(profile, minimum)
    if found:
        raise HandoverError(found[0])


def at_least(profile: HandoverProfile, minimum: MinimumTerms) -> HandoverProfile:
    """``profile`` with each term raised to the minimum where it falls short."""
    return replace(profile, act_within_days=max(profile.act_within_days, minimum.act_within_days),
                   grace_days=max(profile.grace_days, minimum.grace_days))
