"""The transactional outbox: messages written with the decision that causes them.

``enqueue`` runs inside the caller's transaction and ignores a second message with the
same key (one per recipient and purpose). Delivery claims a message with a conditional
update and a lease, marks it sent only if it still holds the claim, and backs off on
failure, so several workers never send a message twice and a crashed worker's claims
are taken over when their lease runs out. A message claimed by ``HELD`` (a fire or a stage
of a switch with witnesses, ``services.witness.hold``) has no lease: no sender takes it,
however long it waits, until a push to the switch's witnesses releases it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from baton.logging_setup import redact
from baton.store.tables import UTCDateTime, outbox

HELD = "witness-hold"  # the claim of messages waiting for a push to the witnesses; never a worker's name
SUPERSEDED = "superseded:"  # how ``last_error`` begins for held messages a witness's delivery replaced


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
    values = row(owner_id=owner_id, key=key, channel=channel, recipient=recipient, purpose=purpose, subject=subject,
                 body_text=body_text, body_html=body_html, now=now)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(outbox).values(**values).on_conflict_do_nothing(index_elements=["dedup_key"])
    return bool(conn.execute(stmt).rowcount)


def row(*, owner_id: int, key: str, channel: Channel, recipient: str, purpose: str, subject: str, body_text: str,
        body_html: str | None, now: datetime) -> dict[str, Any]:
    """The outbox row ``enqueue`` writes (its key made one per channel and recipient)."""
    return dict(owner_id=owner_id, dedup_key=f"{key}:{channel}:{recipient_tag(recipient)}", channel=str(channel),
                recipient=recipient, purpose=purpose, subject=subject, body_text=body_text, body_html=body_html,
                created_at=now, next_attempt_at=now, attempts=0)


def enqueue_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Write many ``row``s in one statement, in the caller's transaction; a key already queued is skipped."""
    if rows:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(outbox).on_conflict_do_nothing(index_elements=["dedup_key"]), rows)


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return and_(outbox.c.sent_at.is_(None), outbox.c.failed.is_(False), outbox.c.next_attempt_at <= now,
                or_(outbox.c.claimed_by.is_(None), outbox.c.claimed_by != HELD),
                or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now))


def claim(engine: Engine, worker: str, now: datetime, lease: timedelta, limit: int, *,
          channel: Channel | None = None, per_owner: int | None = None,
          in_hand: Mapping[int, int] | None = None) -> list[Message]:
    """Claim up to ``limit`` due messages for ``worker`` until ``now + lease``, most overdue first.

    ``channel`` takes only that channel's; ``per_owner`` takes at most that many of one owner's,
    counting the ``in_hand`` ones (owner -> messages being sent), so one owner's backlog or
    hanging channels never fill every sender.
    """
    in_hand = in_hand or {}
    full = sorted(owner for owner, count in in_hand.items() if per_owner is not None and count >= per_owner)
    with engine.begin() as conn:
        due = select(outbox.c.id).where(_claimable(now))
        if channel is not None:
            due = due.where(outbox.c.channel == str(channel))
        if full:
            due = due.where(outbox.c.owner_id.not_in(full))
        due = due.order_by(outbox.c.next_attempt_at).limit(limit)  # the index's order: no sort of the backlog
        if conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        # One statement: a claim is made for every message a sender takes, so it must be cheap.
        rows = sorted(conn.execute(update(outbox).where(outbox.c.id.in_(due.scalar_subquery()))
                                   .values(claimed_by=worker, claimed_until=now + lease).returning(outbox)).all(),
                      key=lambda r: (r.next_attempt_at, r.id))
        taken: Counter[int] = Counter(in_hand)
        kept: list[Any] = []
        extra: list[Any] = []
        for row in rows:  # several of one owner's may have come in one claim: keep its share
            over = per_owner is not None and taken[row.owner_id] >= per_owner
            (extra if over else kept).append(row)
            taken[row.owner_id] += not over
        if extra:
            conn.execute(update(outbox).where(outbox.c.id.in_([r.id for r in extra]))
                         .values(claimed_by=None, claimed_until=None))
    return [Message(r.id, r.owner_id, Channel(r.channel), r.recipient, r.purpose, r.subject, r.body_text,
                    r.body_html, r.dedup_key, r.attempts) for r in kept]


def renew(conn: Connection, message: Message, worker: str, now: datetime, lease: timedelta) -> bool:
    """Extend ``worker``'s claim on an unsent message; False if the claim was lost (do not send)."""
    done = conn.execute(update(outbox).where(outbox.c.id == message.id, outbox.c.claimed_by == worker,
                                             outbox.c.sent_at.is_(None), outbox.c.claimed_until > now)
                        .values(claimed_until=now + lease))
    return done.rowcount == 1


def renew_all(conn: Connection, ids: list[int], worker: str, now: datetime, lease: timedelta) -> set[int]:
    """Extend ``worker``'s claims on the messages it is sending; the ids whose claim was lost."""
    if not ids:
        return set()
    held = set(conn.execute(update(outbox).where(outbox.c.id.in_(ids), outbox.c.claimed_by == worker,
                                                 outbox.c.sent_at.is_(None))
                            .values(claimed_until=now + lease).returning(outbox.c.id)).scalars())
    return set(ids) - held


def release(conn: Connection, ids: list[int], worker: str) -> None:
    """Give up ``worker``'s claims on messages it has not started sending (a stop): due again at once."""
    conn.execute(update(outbox).where(outbox.c.id.in_(ids), outbox.c.claimed_by == worker, outbox.c.sent_at.is_(None))
                 .values(claimed_until=None))


def put_back(conn: Connection, message: Message, worker: str, until: datetime) -> bool:
    """Release a claim unsent and untried, due again at ``until`` (its destination is resting)."""
    done = conn.execute(update(outbox).where(outbox.c.id == message.id, outbox.c.claimed_by == worker,
                                             outbox.c.sent_at.is_(None))
                        .values(next_attempt_at=until, claimed_until=None))
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


_MARK_SENT = update(outbox).where(outbox.c.id == bindparam("message_id"), outbox.c.claimed_by == bindparam("worker"),
                                  outbox.c.sent_at.is_(None))


def mark_sent_many(conn: Connection, messages: list[Message], worker: str, now: datetime) -> list[Message]:
    """Record many sends at once (``mark_sent`` for each): the messages ``worker`` still held, which are
    the ones recorded. Their rows are locked first, so the claims cannot move before the update."""
    if not messages:
        return []
    held = set(conn.execute(select(outbox.c.id).where(outbox.c.id.in_([m.id for m in messages]),
                                                      outbox.c.claimed_by == worker, outbox.c.sent_at.is_(None))
                            .order_by(outbox.c.id).with_for_update()).scalars())
    marked = [m for m in messages if m.id in held]
    if marked:
        conn.execute(_MARK_SENT.values(sent_at=now, claimed_until=None, attempts=outbox.c.attempts + 1,
                                       last_error=None, body_text=bindparam("text"), body_html=bindparam("html")),
                     [{"message_id": m.id, "worker": worker, "text": redact(m.body_text),
                       "html": redact(m.body_html) if m.body_html else None} for m in marked])
    return marked


def mark_failed(conn: Connection, message: Message, worker: str, now: datetime, error: str,
                retry_at: datetime, give_up: bool) -> bool:
    """Record a failed attempt and when to try again (or that we gave up)."""
    done = conn.execute(update(outbox).where(outbox.c.id == message.id, outbox.c.claimed_by == worker,
                                             outbox.c.sent_at.is_(None))
                        .values(attempts=outbox.c.attempts + 1, next_attempt_at=retry_at,
                                claimed_until=None, last_error=error[:500], failed=give_up))
    return done.rowcount == 1


def next_attempt(conn: Connection, after: datetime | None = None) -> datetime | None:
    """When the earliest pending message is next due (claimed ones count from their lease; held ones are
    not due until a push releases them); with ``after``, the earliest such moment later than it."""
    ready = case((outbox.c.claimed_until > outbox.c.next_attempt_at, outbox.c.claimed_until),
                 else_=outbox.c.next_attempt_at)
    query = select(func.min(ready, type_=UTCDateTime)).where(outbox.c.sent_at.is_(None), outbox.c.failed.is_(False),
                                                             or_(outbox.c.claimed_by.is_(None),
                                                                 outbox.c.claimed_by != HELD))
    if after is not None:
        query = query.where(ready > after)
    due: datetime | None = conn.execute(query).scalar()
    return due


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """Exponential backoff: base, 2·base, 4·base, … up to ``cap`` seconds."""
    return timedelta(seconds=min(cap, base * (2 ** min(attempts, 20))))
