"""What the successors ask of each registrar and provider, domain by domain and service by service.

The action for each domain, in this order:

1. the customer's answer lists the domain's ASCII name in ``auth_codes_for``: **transfer**
   (auth-code and unlock request; EPP documents where the registrar is operated over EPP);
2. the customer's answer gives their own account at the domain's registrar and the
   registrar does reseller-to-client moves: **move** (in the move ticket);
3. the customer has not answered (no answer, or one with neither ``answered_at``, accounts
   nor auth-code wishes): **awaiting** the customer (listed apart in the ticket and letter);
4. otherwise: **keep** renewing until the customer decides (in the letter).

Each domain carries its eligibility notes (``rules``), counted from the day the registrar must
have answered (``today`` plus the auth-code days), so a domain that expires before then says
"renew it first": for a transfer every blocker and the 60-day lock; for the other actions only
what is not about inter-registrar transfers (a 60-day lock or ``serverTransferProhibited`` does
not block a move between accounts at the same registrar, nor renewals). A transfer that cannot
be made now (a lock, a blocker) gets no EPP transfer request: ``transfer_withheld`` says why
and from when it can be built.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum

from handover.errors import HandoverError
from handover.model import Answer, Domain, Hosting, Packaging, Registrant, Registrar
from handover.names import domain_name
from handover.plaintext import domain_label, one_line
from handover.rules import TransferRules, eligibility


class Action(StrEnum):
    """What is asked of the registrar for one domain."""

    MOVE = "move"  # reseller-to-client move into the customer's own account at the same registrar
    TRANSFER = "transfer"  # unlock and auth code: the customer transfers it to another registrar
    AWAITING = "awaiting"  # the customer has not answered: keep it renewing
    KEEP = "keep"  # answered, but no move possible or wished: keep renewing until the customer decides


class HostingAction(StrEnum):
    """What is asked of the upstream provider for one hosting service."""

    MOVE = "move"  # an individual package, to the customer's own account
    AWAITING = "awaiting"  # an individual package whose customer has given no account there yet
    EXTRACT = "extract"  # pooled: the site must be extracted before it can move



@dataclass(frozen=True, slots=True)
class Decision:
    """One domain's action, with what the registrar (and the successors) must know about it."""

    domain: Domain
    action: Action
    customer_account: str | None  # the customer's own account at this registrar, from their answer
    notes: tuple[str, ...]

    @property
    def label(self) -> str:
        return domain_label(self.domain.name)

    @property
    def wanted(self) -> str:
        """The action in the letter's words."""
        return _wanted(self)



@dataclass(frozen=True, slots=True)
class HostingDecision:
    hosting: Hosting
    action: HostingAction
    customer_account: str | None
    notes: tuple[str, ...]



def decide(domain: Domain, registrar: Registrar, answer: Answer | None, today: date,
           rules: TransferRules) -> Decision:
    """The action for ``domain`` (see the module's rule) and its notes."""
    account = _account(answer, registrar.id)
    if answer is not None and domain.name.ascii in wished(answer):
        action = Action.TRANSFER
    elif account and registrar.reseller_move:
        action = Action.MOVE
    elif not answered(answer):
        action = Action.AWAITING
    else:
        action = Action.KEEP
    return Decision(domain, action, account, _notes(domain, action, today, rules))


def decide_hosting(hosting: Hosting, answer: Answer | None, today: date) -> HostingDecision:
    """Pooled services need extracting; an individual package moves once its customer gives an account there."""
    account = one_line(answer.hosting_accounts.get(hosting.id) or "") or None if answer else None
    if hosting.packaging is Packaging.POOLED:
        action = HostingAction.EXTRACT
    elif account:
        action = HostingAction.MOVE
    else:
        action = HostingAction.AWAITING
    notes: tuple[str, ...] = ()
    if hosting.paid_until < today:
        notes = (f"paid until {hosting.paid_until}, already past: renew it first so the site stays up",)
    return HostingDecision(hosting, action, account, notes)


def answered(answer: Answer | None) -> bool:
    """Whether the customer has answered (reading the notice is not answering)."""
    if answer is None:
        return False
    return (answer.answered_at is not None or bool(answer.accounts) or bool(answer.hosting_accounts)
            or bool(answer.auth_codes_for))


def _account(answer: Answer | None, where: str) -> str | None:
    if answer is None:
        return None
    value = one_line(answer.accounts.get(where) or "")
    return value or None


def wished(answer: Answer) -> set[str]:
    """The ASCII names the customer wants auth codes for (normalised; a bad name is kept as typed)."""
    return {normalised_name(name) for name in answer.auth_codes_for}


def normalised_name(name: str) -> str:
    try:
        return domain_name(name).ascii
    except HandoverError:
        return name.strip().lower()


def _notes(domain: Domain, action: Action, today: date, rules: TransferRules) -> tuple[str, ...]:
    """Eligibility notes: every blocker for a transfer; for the others, only what is not about transfers."""
    notes: list[str] = []
    answered_by = today + timedelta(days=rules.auth_code_days)
    if action is Action.TRANSFER:
        found = eligibility(domain, today, rules, answered_by)
        if found.lock_reason:
            notes.append(f"locked until {found.earliest_transfer} ({found.lock_reason})")
    else:
        found = eligibility(_without_transfer_locks(domain), today, rules, answered_by)
    if found.renew_by:
        notes.append(f"renew first, before {found.renew_by}")
    notes += found.blockers
    if domain.registrant is Registrant.RESELLER:
        notes.append(_registrant_note(action))
    return tuple(notes)


def _without_transfer_locks(domain: Domain) -> Domain:
    """``domain`` as a move or a renewal sees it: no 60-day locks, no registry transfer lock."""
    statuses = tuple(s for s in domain.statuses if s != "serverTransferProhibited")
    return replace(domain, created=None, last_transfer=None, last_owner_change=None, statuses=statuses)


def _registrant_note(action: Action) -> str:
    if action is Action.TRANSFER:
        return ("registered in the reseller's name: change the registrant to the customer "
                "(with the opt-out of the 60-day transfer lock, where offered)")
    if action is Action.MOVE:
        return "registered in the reseller's name: please also change the registrant to the customer"
    return "registered in the reseller's name: the registrant must be changed to the customer"


def _wanted(decision: Decision) -> str:
    account = decision.customer_account
    if decision.action is Action.MOVE:
        return f"move to the customer's own account {account} (reseller-to-client move, expiry kept)"
    if decision.action is Action.TRANSFER:
        return "remove the transfer lock and give the auth code: the customer transfers it to another registrar"
    if decision.action is Action.AWAITING:
        return "keep renewing: awaiting the customer's answer"
    if account:
        return (f"keep renewing until the customer decides (the customer has their own account {account} "
                f"here: if you can move domains between accounts, please move it there)")
    return "keep renewing until the customer decides"



def transfer_withheld(domain: Domain, today: date, rules: TransferRules) -> str | None:
    """Why no transfer request can be sent for ``domain`` today (None: it can), and from when it can."""
    found = eligibility(domain, today, rules, today + timedelta(days=rules.auth_code_days))
    reasons = list(found.blockers)
    if found.lock_reason:
        reasons.insert(0, f"locked until {found.earliest_transfer} ({found.lock_reason})")
        reasons.append(f"build the requests again on or after {found.earliest_transfer}")
    return "; ".join(reasons) or None

