"""The shapes of the owner's JSON API, as its OpenAPI document shows them.

The routes answer with ``JSONResponse`` built from the services' dicts, so FastAPI does not
check what they send: each model here is written from the function that makes the dict,
and ``tests/baton/test_openapi_contract.py`` checks real answers against the document.
Moments are ISO 8601 text in UTC (``2026-01-01T09:00:00Z``) unless a field says otherwise;
durations are text as people write them (``30d``, ``1w2d``, ``12h``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_ID = 2**31 - 1  # the largest row id: ids are INTEGER, 32 bits on PostgreSQL
Language = Literal["en", "id", "pt", "it"]  # ``vaultservice.LANGUAGES``


# -- errors --------------------------------------------------------------------------------------
class Problem(BaseModel):
    """Every refusal: one line saying what was expected and what arrived, and where."""

    detail: str = Field(examples=["until: expected a moment with a time zone, got 2026-03-01T09:00:00"])


class RowProblem(BaseModel):
    """One bad cell (or row) of an import."""

    file: str
    row: int = Field(description="1-based data row (the header is row 0); 0 for the file itself.")
    column: str
    expected: str
    got: str


class RejectedImport(Problem):
    """An import with bad rows: nothing of it was kept."""

    total: int = Field(description="How many bad cells there are; at most 1000 are listed.")
    errors: list[RowProblem]


_WHY = {
    401: "No valid bearer token (the header is missing, or the token is unknown or revoked).",
    404: "Nothing of that name (or number) for this owner.",
    409: "The thing changed meanwhile, or cannot change now; the detail says which.",
    422: "Bad input: the detail names the field, what was expected and what arrived.",
    429: "Too many failed tokens from this address; wait a minute.",
}


def absent(**field: Any) -> Any:
    """A field that is either absent or set, never null (a plain ``= None`` would document a null)."""
    return Field(None, json_schema_extra=_no_default, **field)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def problems(*codes: int, **models: Any) -> dict[int | str, dict[str, Any]]:
    """A route's error responses: 401 and 429 (every route takes a token) and ``codes``, each a
    ``Problem`` unless ``models`` gives another (``problems(422, s422=RejectedImport | Problem)``)."""
    return {code: {"model": models.get(f"s{code}", Problem), "description": _WHY[code]}
            for code in sorted({401, 429, *codes})}


def binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """A 200 response that is a file, not JSON."""
    return {200: {"description": description,
                  "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}


# -- the switch ----------------------------------------------------------------------------------
class ReleaseRequest(BaseModel):
    """A holder's request for release, waiting for its time."""

    by: str
    at: str
    completes: str


class SwitchStatus(BaseModel):
    """The switch as the owner sees it; ``*_local`` fields are in the owner's time zone."""

    status: Literal["armed", "grace", "confirming", "fired", "released", "paused"]
    timezone: str
    deadline: str
    deadline_local: str = Field(examples=["2026-02-19 11:00 CET"])
    next_reminder: str | None
    next_reminder_local: str | None
    fires_at: str | None = Field(description="When the switch would fire with no check-in; null once fired or "
                                             "while paused.")
    fires_at_local: str | None
    paused_until: str | None
    paused_until_local: str | None
    last_checkin: str = Field(description="The last check-in (or the end of a pause).")
    last_checkin_local: str
    pending_stages: list[str] = Field(description="Stages of a fired switch that have not run yet.")
    release_request: ReleaseRequest | None


class Verifier(BaseModel):
    name: str
    email: str = absent()


class Schedule(BaseModel):
    """A calendar schedule in the policy's time zone."""

    every: Literal["day", "week", "month"]
    at: str = Field("09:00", description="HH:MM on the owner's wall clock.")
    on: list[str] | list[int] | str | int = absent(
        description="Weekdays (mon, thursday…) for every week; days of the month (1–31) for every month; "
                    "nothing for every day.")


class Confirm(BaseModel):
    """The confirmation window: verifiers asked at its start; a quorum of them may fire early."""

    window: str
    verifiers: list[str | Verifier]
    quorum: int = absent(description="Defaults to every verifier.")


class Stage(BaseModel):
    name: str
    after: str = Field("0d", description="How long after the switch fired the stage runs.")
    audience: list[str] = Field([], description="owner, a verifier's name or an e-mail address; empty: every "
                                                "holder (for release).")
    action: str = Field("notify", description="notify, notify_customers or release.")


class ReleaseRequestPolicy(BaseModel):
    wait: str = Field("7d", description="How long a holder's request for release waits for the owner.")


class PolicyInput(BaseModel):
    """A policy as written: exactly one of ``interval`` and ``schedule``; every other field has a default.

    The server reads it with the switch's own validator, whose refusals name the field:
    ``policy field `reminders[0]`: expected less than the interval (30d), got '31d'``.
    """

    interval: str = absent(examples=["30d"])
    schedule: Schedule = absent()
    timezone: str = absent(description="An IANA time zone; the owner's when absent.", examples=["Europe/Rome"])
    reminders: list[str] = Field([], description="Offsets before the deadline.", examples=[["7d", "1d"]])
    grace: str = "0d"
    grace_reminder_every: str | None = Field(None, description="Absent or null: no reminders during grace.")
    confirm: Confirm | None = Field(None, description="Absent or null: no confirmation window.")
    stages: list[Stage] = []
    max_pause: str = "90d"
    release_request: ReleaseRequestPolicy = Field(default_factory=lambda: ReleaseRequestPolicy(wait="7d"))


class ScheduleOut(BaseModel):
    every: Literal["day", "week", "month"]
    at: str
    on: list[str] | list[int] = absent(description="Absent for a daily schedule.")


class ConfirmOut(BaseModel):
    window: str
    verifiers: list[str | Verifier] = Field(description="A name alone when the verifier has no e-mail here.")
    quorum: int


class StageOut(BaseModel):
    name: str
    after: str
    audience: list[str]
    action: str


class Policy(BaseModel):
    """The stored policy, every default written out; ``interval`` or ``schedule`` (the other is absent)."""

    timezone: str
    interval: str = absent()
    schedule: ScheduleOut = absent()
    reminders: list[str]
    grace: str
    grace_reminder_every: str = absent(description="Absent: no reminders during grace.")
    confirm: ConfirmOut = absent(description="Absent: no confirmation window.")
    stages: list[StageOut]
    max_pause: str
    release_request: ReleaseRequestPolicy


class TimelineEntry(BaseModel):
    at: str = Field(description="When it was due.")
    recorded_at: str
    event: Literal["checkin", "reminder", "deadline", "grace_reminder", "confirm_requested", "vote", "fired",
                   "stage", "cancelled", "paused", "resumed", "release_requested", "refused"]
    stage: str | None
    who: str | None
    reason: str


class AuditResult(BaseModel):
    entries: int
    ok: bool
    problem: str | None = Field(description="The first broken entry, when the chain is broken.")


class ChannelAdded(BaseModel):
    id: int


class RequesterAdded(BaseModel):
    url: str = Field(description="The standing link with which the holder may ask for release (shown once).")


# -- the vault -----------------------------------------------------------------------------------
class OwnerKeyView(BaseModel):
    recipient: str = Field(description="The owner's age public key (age1…).")
    owner_email: str


class ShareGroup(BaseModel):
    name: str
    threshold: int
    holders: list[str]


class SharePolicy(BaseModel):
    """SLIP-39 groups: ``group_threshold`` of the groups, each with its own threshold of holders."""

    group_threshold: int
    groups: list[ShareGroup]


class SplitView(BaseModel):
    id: int = Field(description="The SLIP-39 identifier of the split.")
    policy: SharePolicy
    describe: str = Field(examples=["2 of 3 (family)"])
    holders: list[str]
    created_at: str


class CompartmentView(BaseModel):
    name: str
    version: int = Field(description="Goes up at every upload; send it back in If-Match.")
    release_recipient: str
    size: int
    sha256: str | None = Field(description="Of the age file; null while empty.")
    split: SplitView | None
    needs_split: bool
    problems: list[str]
    updated_at: str


class Uploaded(BaseModel):
    name: str
    version: int
    size: int
    sha256: str


class VaultFinding(BaseModel):
    what: str
    fix: str


class PersonView(BaseModel):
    name: str
    display_name: str
    email: str | None
    language: Language
    role: Literal["heir", "staff", "notary", "verifier"]
    recipient: str | None = Field(description="The public key the person's share is sealed to.")
    key_source: Literal["enrolled", "keycard", "owner"] | None
    key: Literal["n/a", "none", "unverified", "verified", "stale"] = Field(
        description="n/a for verifiers; stale: proven longer ago than the deployment allows.")
    holds: list[str] = Field(description="Compartments of which the person holds a share.")
    groups: list[str] = Field(description="compartment/group of each share.")
    verified_at: str | None


class NewPersonView(PersonView):
    enrol_url: str | None = Field(description="The enrolment link (also e-mailed); null for a verifier.")


class Removed(BaseModel):
    removed: str


class KeyCheck(BaseModel):
    name: str
    check: int
    sealed: str = Field(description="The challenge, age-encrypted to the holder's key (base64).")


class DrillPackage(BaseModel):
    id: int
    holder: str
    compartment: str


class NoticeRun(BaseModel):
    release: int
    notices: int
    emailed: int
    without_email: list[str] = Field(description="Customers who have no e-mail address (their notice is printed).")


class DrillReport(BaseModel):
    release: int
    at: str
    packages: list[DrillPackage]
    checks: list[KeyCheck]
    holders_asked: bool
    findings: list[VaultFinding]
    notices: NoticeRun


# -- the handover --------------------------------------------------------------------------------
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
