"""The transactional outbox: messages written with the decision that causes them.

``enqueue`` runs inside the caller's transaction and ignores a second message with the
same key (one per recipient and purpose). Delivery claims a message with a conditional
update and a lease, marks it sent only if it still holds the claim, and backs off on
failure, so several workers never send a message twice and a crashed worker's claims
are taken over when their lease runs out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, Engine, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from baton.logging_setup import redact
from baton.store.tables import UTCDateTime, outbox


class Channel(StrEnum):
    EMAIL = "email"
    APPRISE = "apprise"


@dataclass(frozen=True, slots=True)
class Message:
    """A message to send; ``recipient`` is an address or an Apprise URL."""

    id: int
    owner_id: int
    channel: Channel
    recipient: str
    purpose: str
    subject: str
    body_text: str
    body_html: str | None
    dedup_key: str
    attempts: int

    def __repr__(self) -> str:  # an Apprise URL may carry a webhook secret
        return f"Message(id={self.id}, channel={self.channel}, purpose={self.purpose!r})"


def recipient_tag(recipient: str) -> str:
    """A short, stable, non-secret name for a recipient, for keys and logs."""
    return hashlib.sha256(recipient.encode()).hexdigest()[:16]


def enqueue(conn: Connection, *, owner_id: int, key: str, channel: Channel, recipient: str, purpose: str,
            subject: str, body_text: str, body_html: str | None, now: datetime) -> bool:
    """Write a message in the caller's transaction; False when its key was already queued."""
    dedup = f"{key}:{channel}:{recipient_tag(recipient)}"
    values = dict(owner_id=owner_id, dedup_key=dedup, channel=str(channel), recipient=recipient,
                  purpose=purpose, subject=subject, body_text=body_text, body_html=body_html,
                  created_at=now, next_attempt_at=now, attempts=0)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(outbox).values(**values).on_conflict_do_nothing(index_elements=["dedup_key"])
    return bool(conn.execute(stmt).rowcount)


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return and_(outbox.c.sent_at.is_(None), outbox.c.failed.is_(False), outbox.c.next_attempt_at <= now,
                or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now))


def claim(engine: Engine, worker: str, now: datetime, lease: timedelta, limit: int) -> list[Message]:
    """Claim up to ``limit`` due messages for ``worker`` until ``now + lease``."""
    with engine.begin() as conn:
        query = select(outbox.c.id).where(_claimable(now)).order_by(outbox.c.next_attempt_at).limit(limit)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = [row.id for row in conn.execute(query)]
        if not ids:
            return []
        conn.execute(update(outbox).where(outbox.c.id.in_(ids), _claimable(now))
                     .values(claimed_by=worker, claimed_until=now + lease))
        rows = conn.execute(select(outbox).where(outbox.c.id.in_(ids), outbox.c.claimed_by == worker,
                                                 outbox.c.claimed_until == now + lease)).all()
    return [Message(r.id, r.owner_id, Channel(r.channel), r.recipient, r.purpose, r.subject, r.body_text,
                    r.body_html, r.dedup_key, r.attempts) for r in rows]


def renew(conn: Connection, message: Message, worker: str, now: datetime, lease: timedelta) -> bool:
    """Extend ``worker``'s claim on an unsent message; False if the claim was lost (do not send)."""
    done = conn.execute(update(outbox).where(outbox.c.id == message.id, outbox.c.claimed_by == worker,
                                             outbox.c.sent_at.is_(None), outbox.c.claimed_until > now)
                        .values(claimed_until=now + lease))
    return done.rowcount == 1


def mark_sent(conn: Connection, message: Message, worker: str, now: datetime) -> bool:
    """Record the send, if ``worker`` still holds the claim (False: someone else took it).

    The stored bodies keep no live link: a database backup must not let anyone check in or
    answer a verifier's question.
    """
    done = conn.execute(update(outbox).where(outbox.c.id == message.id, outbox.c.claimed_by == worker,
                                             outbox.c.sent_at.is_(None))
                        .values(sent_at=now, claimed_until=None, attempts=outbox.c.attempts + 1,
                                last_error=None, body_text=redact(message.body_text),
                                body_html=redact(message.body_html) if message.body_html else None))
    return done.rowcount == 1


def mark_failed(conn: Connection, message: Message, worker: str, now: datetime, error: str,
                retry_at: datetime, give_up: bool) -> bool:
    """Record a failed attempt and when to try again (or that we gave up)."""
    done = conn.execute(update(outbox).where(outbox.c.id == message.id, outbox.c.claimed_by == worker,
                                             outbox.c.sent_at.is_(None))
                        .values(attempts=outbox.c.attempts + 1, next_attempt_at=retry_at,
                                claimed_until=None, last_error=error[:500], failed=give_up))
    return done.rowcount == 1


def next_attempt(conn: Connection) -> datetime | None:
    """When the earliest pending message is next due (claimed ones count from their lease)."""
    ready = case((outbox.c.claimed_until > outbox.c.next_attempt_at, outbox.c.claimed_until),
                 else_=outbox.c.next_attempt_at)
    due: datetime | None = conn.execute(select(func.min(ready, type_=UTCDateTime))
                                        .where(outbox.c.sent_at.is_(None), outbox.c.failed.is_(False))).scalar()
    return due


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """Exponential backoff: base, 2·base, 4·base, … up to ``cap`` seconds."""
    return timedelta(seconds=min(cap, base * (2 ** min(attempts, 20))))
