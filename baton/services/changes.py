"""Changes that would hasten a release wait a cooling-off.

Whoever holds the owner's token or web session may check in and may make the release later;
a change that could make it *earlier* (``switch.hastening``: a shorter interval, a verifier
removed, a new requester, a channel removed, …) is held here instead of applied. It is
announced at once on every channel — the e-mail with a link that cancels it — shown on the
dashboard and by ``baton status``, and takes effect when the cooling-off ends, unless the
owner cancels it first. The cooling-off never outlasts the switch's current deadline, so it
can never delay a release either.

Each owner's earliest pending change is mirrored in ``switches.change_due_at`` so the worker
wakes for it like for any other due moment (``SwitchService._advance_row``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from baton.errors import LinkError, NotFound
from baton.jobs.outbox import Channel, enqueue
from baton.services.messages import render_email
from baton.settings import Settings
from baton.store import links
from baton.store.links import Purpose
from baton.store.tables import channels, pending_changes, people, switches
from baton.timeutil import local
from switch import iso


class Kind(StrEnum):
    POLICY = "policy"  # payload: the new policy
    REQUESTER = "requester"  # payload: the request link, which works from the moment the change does
    CHANNEL = "channel"  # payload: the channel removed when the change takes effect
    VERIFIER = "verifier"  # payload: a verifier (People id) and the address they get when the change takes effect


class Outcome(StrEnum):
    APPLIED = "applied"
    CANCELLED = "cancelled"  # by the owner (link, page, API)
    REPLACED = "replaced"  # a newer policy change took its place
    DROPPED = "dropped"  # the switch had passed its deadline when it was due: nothing applied


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    owner_id: int
    kind: Kind
    payload: dict[str, Any]
    reasons: tuple[str, ...]
    created_at: datetime
    takes_effect_at: datetime

    def to_dict(self, timezone: str) -> dict[str, Any]:
        return {"id": self.id, "kind": str(self.kind), "what": describe(self), "reasons": list(self.reasons),
                "created_at": iso(self.created_at), "takes_effect_at": iso(self.takes_effect_at),
                "takes_effect_local": local(self.takes_effect_at, timezone)}


def describe(change: Change) -> str:
    """The change in a few words, for pages, e-mails and ``baton status``."""
    if change.kind is Kind.POLICY:
        return "a new switch policy"
    if change.kind is Kind.REQUESTER:
        return f"a release-request link for {change.payload.get('who', '?')}"
    if change.kind is Kind.VERIFIER:
        return f"a new e-mail address for verifier {change.payload.get('person', '?')}"
    return f"removing the alert channel {change.payload.get('label', '')!r} ({change.payload.get('scheme', '?')})"


def takes_effect(settings: Settings, now: datetime, deadline: datetime) -> datetime:
    """The cooling-off's end: ``cooling_off_hours`` from now, but never after the switch's deadline."""
    return min(now + timedelta(hours=settings.cooling_off_hours), max(deadline, now))


def _change(row: Any) -> Change:
    return Change(row.id, row.owner_id, Kind(row.kind), dict(row.payload), tuple(row.reasons), row.created_at,
                  row.takes_effect_at)


_PENDING = pending_changes.c.settled_at.is_(None)


def pending(conn: Connection, owner_id: int) -> list[Change]:
    """The owner's changes still waiting, soonest first."""
    rows = conn.execute(select(pending_changes).where(pending_changes.c.owner_id == owner_id, _PENDING)
                        .order_by(pending_changes.c.takes_effect_at, pending_changes.c.id)).all()
    return [_change(r) for r in rows]


def next_due(conn: Connection, owner_id: int) -> datetime | None:
    moment: datetime | None = conn.execute(select(func.min(pending_changes.c.takes_effect_at)).where(
        pending_changes.c.owner_id == owner_id, _PENDING)).scalar()
    return moment


def due(conn: Connection, owner_id: int, now: datetime) -> list[Change]:
    return [c for c in pending(conn, owner_id) if c.takes_effect_at <= now]


def hold(conn: Connection, settings: Settings, *, owner_id: int, owner_email: str, timezone: str, kind: Kind,
         payload: dict[str, Any], reasons: tuple[str, ...], via: str, now: datetime, effect: datetime) -> Change:
    """Keep a change pending until ``effect`` and announce it on every channel (the caller audits it)."""
    change_id = conn.execute(insert(pending_changes).values(
        owner_id=owner_id, kind=str(kind), payload=payload, reasons=list(reasons), via=via, created_at=now,
        takes_effect_at=effect)).inserted_primary_key[0]  # type: ignore[index]
    change = Change(int(change_id), owner_id, kind, payload, reasons, now, effect)
    link_id = links.create(conn, owner_id, Purpose.CANCEL, now, expires_at=effect, who=f"change:{change.id}")
    _announce(conn, settings, change, owner_email, timezone, now,
              cancel_url=links.placeholder(settings.base_url, Purpose.CANCEL, link_id))
    mirror(conn, owner_id)
    return change


def settle(conn: Connection, change: Change, outcome: Outcome, now: datetime) -> bool:
    """Mark a pending change settled (once: False if someone settled it first) and do what it says."""
    done = conn.execute(update(pending_changes).where(pending_changes.c.id == change.id, _PENDING)
                        .values(settled_at=now, outcome=str(outcome))).rowcount == 1
    if not done:
        return False
    if change.kind is Kind.REQUESTER and outcome is not Outcome.APPLIED:
        links.withdraw(conn, int(change.payload["link"]), now)
    if change.kind is Kind.CHANNEL and outcome is Outcome.APPLIED:
        conn.execute(channels.delete().where(channels.c.id == int(change.payload["channel"]),
                                             channels.c.owner_id == change.owner_id))
    if change.kind is Kind.VERIFIER and outcome is Outcome.APPLIED:
        conn.execute(update(people).where(people.c.owner_id == change.owner_id, people.c.role == "verifier",
                                          people.c.name == change.payload["person"])
                     .values(email=change.payload["email"]))
    links.withdraw_for(conn, change.owner_id, Purpose.CANCEL, f"change:{change.id}", now)
    mirror(conn, change.owner_id)
    return True


def cancel(conn: Connection, owner_id: int, change_id: int, now: datetime) -> Change:
    """The owner cancels a change still waiting (404 when it is not theirs or no longer waits)."""
    for change in pending(conn, owner_id):
        if change.id == change_id and settle(conn, change, Outcome.CANCELLED, now):
            return change
    raise NotFound(f"no change {change_id} is waiting")


def by_cancel_link(conn: Connection, link: links.Link) -> Change:
    """The change a cancel link was made for, if it still waits."""
    change_id = int((link.who or "change:0").split(":", 1)[1])
    for change in pending(conn, link.owner_id):
        if change.id == change_id:
            return change
    raise LinkError("used", "This change no longer waits: it was cancelled or has taken effect.")


def mirror(conn: Connection, owner_id: int) -> None:
    """Keep ``switches.change_due_at`` (and so the worker's wake) in step with the pending changes."""
    moment = next_due(conn, owner_id)
    values: dict[str, Any] = {"change_due_at": moment}
    if moment is not None:
        values["next_due_at"] = func.coalesce(func.min(switches.c.next_due_at, moment), moment) \
            if conn.dialect.name == "sqlite" else func.least(func.coalesce(switches.c.next_due_at, moment), moment)
    conn.execute(update(switches).where(switches.c.owner_id == owner_id).values(**values))


def _announce(conn: Connection, settings: Settings, change: Change, owner_email: str, timezone: str,
              now: datetime, *, cancel_url: str) -> None:
    """The owner on every channel: the e-mail carries the cancel link; chat and push channels do not."""
    context: dict[str, Any] = {"what": describe(change), "reasons": change.reasons,
               "takes_effect_local": local(change.takes_effect_at, timezone), "cancel_url": cancel_url}
    key = f"change/{change.id}"
    mail = render_email("change_held", **context)
    enqueue(conn, owner_id=change.owner_id, key=key, channel=Channel.EMAIL, recipient=owner_email,
            purpose="change_held", subject=mail.subject, body_text=mail.text, body_html=mail.html, now=now)
    short = render_email("change_held", **{**context, "cancel_url": None})
    for row in conn.execute(select(channels.c.url).where(channels.c.owner_id == change.owner_id)
                            .order_by(channels.c.id)):
        enqueue(conn, owner_id=change.owner_id, key=key, channel=Channel.APPRISE, recipient=row.url,
                purpose="change_held", subject=short.subject, body_text=short.text, body_html=None, now=now)
