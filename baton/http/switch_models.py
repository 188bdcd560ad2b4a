"""The switch's API shapes: status, policy, timeline, audit, channels, requesters."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from baton.http.models import absent


class ReleaseRequest(BaseModel):
    """A holder's request for release, waiting for its time."""

    by: str
    at: str
    completes: str


class HeldChange(BaseModel):
    """A change that could hasten a release, waiting for its cooling-off (it can be cancelled until then)."""

    id: int
    kind: Literal["policy", "requester", "channel", "verifier"]
    what: str = Field(examples=["a new switch policy"])
    reasons: list[str] = Field(examples=[["grace of 1h instead of 7d"]])
    created_at: str
    takes_effect_at: str
    takes_effect_local: str


class WorkerRun(BaseModel):
    """When Baton's worker (which sends reminders and acts at deadlines) last ran."""

    last_run: str | None = Field(description="The newest worker heartbeat; null when no worker has run yet.")
    seconds_ago: float | None
    running: bool = Field(description="False when the newest heartbeat is older than stale_after_seconds.")
    stale_after_seconds: float
    said: str = Field(examples=["Baton's worker last ran 12 s ago."])


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
    pending_changes: list[HeldChange] = Field(description="Changes that could hasten a release, waiting for their "
                                                          "cooling-off; empty when none waits.")
    worker: WorkerRun | None = Field(None, description="When Baton's worker last ran (GET /api/status only).")
    notes: list[str] = Field([], description="PUT /api/policy only: the verifiers it added to People.")
    warnings: list[str] = Field([], description="PUT /api/policy only: what the policy still gets wrong "
                                                 "(verifiers nobody can ask).")


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


class ChannelView(BaseModel):
    """A channel as the owner's listing shows it: never its URL, which may hold a secret."""

    id: int
    label: str
    scheme: str = Field(description="The Apprise scheme, e.g. ntfys or json.", examples=["ntfys"])
    host: str | None = Field(description="The server the URL names, for the services that take one "
                                         "(json://host/…); null when what stands there is a token or a topic.",
                             examples=["ntfy.example.org"])


class ChannelRemoved(BaseModel):
    removed: int = Field(description="The id of the channel removed; no alert goes to it any more.")
    takes_effect_at: str | None = Field(description="With a cooling-off: when the removal takes effect (it could "
                                                    "let a release come unnoticed, so it waits and can be "
                                                    "cancelled); null when done at once.")


class RequesterAdded(BaseModel):
    url: str = Field(description="The standing link with which the holder may ask for release (shown once).")
    id: int
    works_from: str = Field(description="The link works when its cooling-off ends; until then it may be revoked.")


class Requester(BaseModel):
    id: int
    name: str | None
    email: str | None
    created_at: str
    works_from: str | None
    last_used_at: str | None


class TokenView(BaseModel):
    """An API token as listed: never the token itself."""

    id: int
    name: str
    created_at: str
    last_used_at: str | None = Field(description="Noted at most every five minutes.")


class TokenAdded(TokenView):
    token: str = Field(description="The new token (shown once).")


class TokenRequest(BaseModel):
    name: str = Field(examples=["phone shortcut"])


class Done(BaseModel):
    ok: bool
