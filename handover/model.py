"""The business register: customers, domains, hosting services and registrars."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from handover.names import DomainName

LANGUAGES = ("en", "id", "pt", "it")  # the languages notices are written in


class Registrant(StrEnum):
    CUSTOMER = "customer"  # the customer is the domain's registrant: they own it
    RESELLER = "reseller"  # registered in the reseller's name: the customer does not own it yet


class Cycle(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUALLY = "semiannually"
    ANNUALLY = "annually"
    BIENNIALLY = "biennially"
    TRIENNIALLY = "triennially"
    ONE_TIME = "one-time"

    @property
    def months(self) -> int | None:
        return {"monthly": 1, "quarterly": 3, "semiannually": 6, "annually": 12, "biennially": 24,
                "triennially": 36}.get(self.value)


class Packaging(StrEnum):
    INDIVIDUAL = "individual"  # its own package upstream: can move to the customer's own account
    POOLED = "pooled"  # shares a reseller pool: the site must be extracted before it can move


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    name: str
    email: str | None = None
    language: str | None = None  # None: not given (notices then go out in English)
    country: str | None = None
    company: str | None = None

    @property
    def notice_language(self) -> str:
        return self.language or "en"


@dataclass(frozen=True, slots=True)
class Domain:
    name: DomainName
    customer: str
    registrar: str
    expires: date
    registrar_account: str | None = None
    created: date | None = None
    last_transfer: date | None = None
    last_owner_change: date | None = None
    owner_change_opt_out: bool = False  # the registrant opted out of the 60-day lock at the change
    statuses: tuple[str, ...] = ()
    auto_renew: bool = False
    registrant: Registrant = Registrant.CUSTOMER

    @property
    def transfer_prohibited(self) -> bool:
        return "clientTransferProhibited" in self.statuses or "serverTransferProhibited" in self.statuses


@dataclass(frozen=True, slots=True)
class Hosting:
    id: str
    customer: str
    provider: str
    paid_until: date
    panel: str | None = None
    plan: str | None = None
    server: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    cycle: Cycle | None = None
    packaging: Packaging = Packaging.INDIVIDUAL
    account: str | None = None  # the package's id or user name at the provider
    domain: str | None = None  # the site's main domain, as the customer knows it


@dataclass(frozen=True, slots=True)
class Registrar:
    id: str
    name: str
    ticket_email: str | None = None
    reseller_move: bool = False  # moves domains from a reseller's account to the client's (DomainRegister)
    epp: bool = False  # the successors can act over EPP
    reseller_account: str | None = None
    documents: tuple[str, ...] = ()  # what the registrar requires for a succession
    website: str | None = None


@dataclass(slots=True)
class Register:
    """A whole register in memory (for reports and requests; imports stream instead)."""

    customers: dict[str, Customer] = field(default_factory=dict)
    domains: list[Domain] = field(default_factory=list)
    hosting: list[Hosting] = field(default_factory=list)
    registrars: dict[str, Registrar] = field(default_factory=dict)
    _index: dict[int, tuple[int, dict[str, list[Any]]]] = field(default_factory=dict, repr=False, compare=False)

    def domains_of(self, customer: str) -> list[Domain]:
        return self._by_customer(self.domains).get(customer, [])

    def hosting_of(self, customer: str) -> list[Hosting]:
        return self._by_customer(self.hosting).get(customer, [])

    def _by_customer(self, items: list[Any]) -> dict[str, list[Any]]:
        """An index by customer, rebuilt when the list changed length (records are appended, not edited)."""
        key = (id(items), len(items))
        cached = self._index.get(key[0])
        if cached is None or cached[0] != key[1]:
            index: dict[str, list[Any]] = {}
            for item in items:
                index.setdefault(item.customer, []).append(item)
            cached = (key[1], index)
            self._index[key[0]] = cached
        return cached[1]

    def registrar(self, rid: str) -> Registrar:
        return self.registrars.get(rid) or Registrar(rid, rid)


class Event(StrEnum):
    """What happened to the owner, in the wording the owner chose for the notices and letters."""

    PASSED_AWAY = "passed_away"
    INCAPACITATED = "incapacitated"
    CLOSING = "closing"  # the business is closing down


class Settlement(StrEnum):
    """How prepaid, unused service is settled."""

    REFUND = "refund"  # money back
    CREDIT = "credit"  # credit with the successor


class RefundFrom(StrEnum):
    """From which day unused prepaid service is counted (a deployment setting: both are defensible)."""

    SUSPENSION = "suspension"  # the day the service stops: what was not served (the default)
    NOTICE = "notice"  # the notice's date: the customer may leave at once, and owes nothing for the transition


@dataclass(frozen=True, slots=True)
class Successor:
    """Who now speaks for the business."""

    name: str
    email: str
    role: str = "heir"  # e.g. heir, executor, employee, notary
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class HandoverProfile:
    """What the owner chose, ahead of time, for the handover: wording, contacts and terms."""

    business: str
    owner_name: str
    event: Event = Event.PASSED_AWAY
    successor: Successor | None = None
    act_within_days: int = 30  # customers should act within this many days of the notice
    grace_days: int = 30  # after the deadline, services keep running this much longer before suspension
    backup_days: int = 30  # backups can be downloaded until the notice date + this many days
    settlement: Settlement = Settlement.REFUND
    support_can: tuple[str, ...] = ()  # what the successors can do during the transition
    support_cannot: tuple[str, ...] = ()  # and what they cannot


@dataclass(frozen=True, slots=True)
class Answer:
    """A customer's answer to their notice."""

    customer: str
    read_at: datetime | None = None
    accounts: Mapping[str, str] = field(default_factory=dict)  # registrar id → the customer's own account there
    auth_codes_for: tuple[str, ...] = ()  # ASCII names of domains the customer wants to transfer away
    note: str | None = None
    answered_at: datetime | None = None
    hosting_accounts: Mapping[str, str] = field(default_factory=dict)  # service id → their account at its provider
