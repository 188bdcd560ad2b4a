"""The business register: customers, domains, hosting services and registrars."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

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
    language: str = "en"
    country: str | None = None
    company: str | None = None


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

    def domains_of(self, customer: str) -> list[Domain]:
        return [d for d in self.domains if d.customer == customer]

    def hosting_of(self, customer: str) -> list[Hosting]:
        return [h for h in self.hosting if h.customer == customer]

    def registrar(self, rid: str) -> Registrar:
        return self.registrars.get(rid) or Registrar(rid, rid)
