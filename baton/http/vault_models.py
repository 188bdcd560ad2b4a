"""The vault's API shapes: the owner's key, compartments, splits, people, key checks, drills."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from baton.http.models import Language


# -- the vault -----------------------------------------------------------------------------------
class OwnerKeyView(BaseModel):
    recipient: str = Field(description="The owner's age public key (age1…).")
    owner_email: str
    owner_name: str = Field(description="How holders read the owner's name: the handover profile's, else the e-mail.")
    fingerprint: str = Field(description="The fingerprint of the deployment key that signs release packages "
                                         "(64 hex digits), as holders' e-mails and key cards show it.")


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
    collector: str | None = Field(None, description="Who the holders may forward their shares to after a release.")


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
    share_contact: bool = Field(description="The other holders see this person's e-mail in a release.")
    recipient: str | None = Field(description="The public key the person's share is sealed to.")
    key_source: Literal["enrolled", "keycard", "owner"] | None
    key: Literal["n/a", "none", "unverified", "verified", "stale"] = Field(
        description="n/a for verifiers; stale: proven longer ago than the deployment allows.")
    holds: list[str] = Field(description="Compartments of which the person holds a share.")
    groups: list[str] = Field(description="compartment/group of each share.")
    verified_at: str | None
    timezone: str | None = Field(None, description="The zone of the dates in their messages; null: the owner's.")
    asked: bool | None = Field(None, description="Verifiers only: whether the policy asks them.")
    email_from: dict[str, str] | None = Field(None, description="Verifiers only: a new address waiting for its "
                                                                 "cooling-off ({email, takes_effect_at}).")
    leaves_at: str | None = Field(None, description="Verifiers only: when their removal from the policy takes "
                                                    "effect (it waits a cooling-off).")


class NewPersonView(PersonView):
    enrol_url: str | None = Field(description="The enrolment link (also e-mailed); null for a verifier.")


class Removed(BaseModel):
    removed: str
    leaves_at: str | None = Field(None, description="A verifier the policy asks: when they stop being asked.")


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
    fingerprint: str = Field(description="The fingerprint of the key that signed the drill's packages.")
    packages: list[DrillPackage]
    checks: list[KeyCheck]
    holders_asked: bool
    findings: list[VaultFinding]
    notices: NoticeRun
