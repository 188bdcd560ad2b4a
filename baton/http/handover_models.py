"""The handover's API shapes: the register, the profile, readiness, answers and notices."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class KindCounts(BaseModel):
    registrars: int
    customers: int
    domains: int
    hosting: int


class RegisterSummary(KindCounts):
    """How many of each the register holds."""


class ImportReport(BaseModel):
    import_: int = Field(alias="import", description="The import's number.")
    created: KindCounts
    updated: KindCounts
    notes: list[str]


class RegisterDomain(BaseModel):
    domain: str = Field(description="ASCII (A-label) form.")
    unicode: str
    customer: str
    registrar: str
    registrar_name: str
    expires: str = Field(description="YYYY-MM-DD.")
    statuses: list[str]


class RegisterDomains(BaseModel):
    domains: list[RegisterDomain]


class Updated(BaseModel):
    updated: int = Field(description="How many domains of the register were changed.")


class Successor(BaseModel):
    name: str
    email: str
    role: str = Field(examples=["heir", "executor", "employee", "notary"])
    phone: str | None


class HandoverProfile(BaseModel):
    business: str
    owner_name: str
    event: Literal["passed_away", "incapacitated", "closing"]
    successor: Successor | None
    act_within_days: int
    grace_days: int
    backup_days: int
    settlement: Literal["refund", "credit"]
    support_can: list[str]
    support_cannot: list[str]


class SuccessorInput(BaseModel):
    name: str = Field(max_length=300, examples=["Sari Santoso"])
    email: str = Field(description="An e-mail address.", examples=["sari@example.org"])
    role: str = "heir"
    phone: str | None = None


class HandoverProfileInput(BaseModel):
    """The profile as written; the server names the first wrong field (``grace_days: expected a number of
    days from 0 to 365, got 400``). Texts are one line each, at most 300 characters."""

    business: str = Field(min_length=1, max_length=300, examples=["Budi Hosting"])
    owner_name: str = Field(min_length=1, max_length=300, examples=["Budi Santoso"])
    event: Literal["passed_away", "incapacitated", "closing"] = "passed_away"
    successor: SuccessorInput | None = None
    act_within_days: int = Field(30, ge=0, le=365)
    grace_days: int = Field(30, ge=0, le=365)
    backup_days: int = Field(30, ge=0, le=365)
    settlement: Literal["refund", "credit"] = "refund"
    support_can: list[str] = []
    support_cannot: list[str] = []


class Finding(BaseModel):
    kind: str = Field(description="A stable code for scripts, e.g. reseller-registrant, vault.")
    subject: str = Field(description="The record it is about: a domain, a customer id, policy, vault…")
    what: str
    fix: str


class Readiness(BaseModel):
    at: str
    notices_reach: str | None = Field(description="The day customer notices would go out if the switch fired now "
                                                  "(YYYY-MM-DD); null when no stage sends them.")
    findings: list[Finding]


class RegistrarRow(BaseModel):
    id: str
    name: str
    ticket_email: str
    reseller_move: str
    epp: str
    reseller_account: str
    documents: str
    website: str


class CustomerRow(BaseModel):
    id: str
    name: str
    email: str
    language: str
    country: str
    company: str


class DomainRow(BaseModel):
    domain: str
    customer: str
    registrar: str
    expires: str
    registrar_account: str
    created: str
    last_transfer: str
    last_owner_change: str
    owner_change_opt_out: str
    statuses: str
    auto_renew: str
    registrant: str


class HostingRow(BaseModel):
    id: str
    customer: str
    provider: str
    paid_until: str
    panel: str
    plan: str
    server: str
    price: str
    currency: str
    cycle: str
    packaging: str
    account: str
    domain: str


class RegisterRows(BaseModel):
    """The register in the CSV import's columns, every cell as text (empty when unset)."""

    registrars: list[RegistrarRow]
    customers: list[CustomerRow]
    domains: list[DomainRow]
    hosting: list[HostingRow]


class ReleaseRef(BaseModel):
    id: int
    drill: bool
    at: str


class ReleaseOfData(ReleaseRef):
    stage: str


class CustomerAnswer(BaseModel):
    customer: str
    read_at: str | None
    accounts: dict[str, str] = Field(description="Registrar id → the customer's own account there.")
    auth_codes_for: list[str] = Field(description="ASCII names of domains to transfer away.")
    note: str | None
    answered_at: str | None
    hosting_accounts: dict[str, str] = Field(description="Service id → the customer's account at its provider.")


class Money(BaseModel):
    currency: str
    amount: str = Field(examples=["59.90"])


class HandoverData(BaseModel):
    release: ReleaseOfData | None = Field(description="The release whose answers these are; null before any.")
    owner_email: str
    timezone: str = Field(description="The owner's time zone: answers in the successors' table are dated in it.")
    today: str = Field(description="Today in the owner's time zone (YYYY-MM-DD): the requests' date.")
    register_: RegisterRows = Field(alias="register")
    profile: HandoverProfile
    profile_set: bool = Field(description="False: the profile is the default made from the owner's address.")
    answers: dict[str, CustomerAnswer] = Field(description="By customer id.")
    refunds: dict[str, list[Money]] = Field(description="By customer id: prepaid service to refund, per currency.")


class NoticeState(BaseModel):
    customer: str
    language: str
    email: str | None
    read_at: str | None
    answered_at: str | None


class NoticeStatus(BaseModel):
    release: ReleaseRef | None
    notices: list[NoticeState]
