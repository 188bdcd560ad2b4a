"""One-time links: check-in links in reminders, verifier questions, release-request links.

A link's token is shown once (in the message) and stored hashed. Opening it (GET) only
looks; acting (POST) consumes it with a conditional update, so it works once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, insert, select, update

from baton.errors import LinkError
from baton.store.tables import links
from switch import hash_token, iso, new_token


class Purpose(StrEnum):
    CHECKIN = "checkin"  # single use, expires
    VERIFY = "verify"  # single use, closes with the confirmation window or a new cycle
    REQUEST = "request"  # standing link for a release request; revocable
    ENROL = "enrol"  # a holder sends their public key; single use
    KEYCHECK = "keycheck"  # a holder proves their key opens a sealed challenge; single use
    DOWNLOAD = "download"  # a holder downloads a release package; single use
    NOTICE = "notice"  # a customer reads their notice and answers it; reusable until it expires


REUSABLE = frozenset({Purpose.REQUEST, Purpose.NOTICE})  # links that stay usable after use


PATHS = {Purpose.CHECKIN: "l", Purpose.VERIFY: "v", Purpose.REQUEST: "q", Purpose.ENROL: "e",
         Purpose.KEYCHECK: "k", Purpose.DOWNLOAD: "d", Purpose.NOTICE: "n"}


@dataclass(frozen=True, slots=True)
class Link:
    id: int
    owner_id: int
    purpose: Purpose
    who: str | None
    email: str | None
    cycle: int | None
    expires_at: datetime | None


def create(conn: Connection, owner_id: int, purpose: Purpose, now: datetime, *, expires_at: datetime | None,
           who: str | None = None, email: str | None = None, cycle: int | None = None) -> str:
    """Store a new link and return its token (the only time it exists in clear)."""
    token, digest = new_token()
    conn.execute(insert(links).values(token_hash=digest, owner_id=owner_id, purpose=str(purpose), who=who,
                                      email=email, cycle=cycle, created_at=now, expires_at=expires_at))
    return token


def url(base_url: str, purpose: Purpose, token: str) -> str:
    return f"{base_url}/{PATHS[purpose]}/{token}"


def resolve(conn: Connection, token: str, purpose: Purpose, now: datetime) -> Link:
    """The usable link behind ``token``, or a ``LinkError`` that explains itself."""
    row = conn.execute(select(links).where(links.c.token_hash == hash_token(token))).first()
    if row is None or row.purpose != purpose:
        raise LinkError("unknown", "This link is not known. Check that it was copied whole.")
    if row.revoked_at is not None:
        raise LinkError("revoked", "This link was withdrawn by the owner.")
    if row.used_at is not None and purpose not in REUSABLE:
        raise LinkError("used", f"This link was already used, at {iso(row.used_at)}. Each link works once.")
    if row.expires_at is not None and row.expires_at <= now:
        raise LinkError("expired", f"This link expired at {iso(row.expires_at)}.")
    return Link(row.id, row.owner_id, Purpose(row.purpose), row.who, row.email, row.cycle, row.expires_at)


def made_for(conn: Connection, token: str, purpose: Purpose) -> tuple[int, str | None] | None:
    """(owner id, who) of the link behind ``token``, used, expired or withdrawn alike; None if unknown.

    Only for explaining a refusal (in its person's language): it never says the link is usable.
    """
    row = conn.execute(select(links.c.owner_id, links.c.who).where(links.c.token_hash == hash_token(token),
                                                                   links.c.purpose == str(purpose))).first()
    return None if row is None else (row.owner_id, row.who)


def revoke_for(conn: Connection, owner_id: int, who: str, purposes: tuple[Purpose, ...], now: datetime) -> int:
    """Withdraw every unused link of these purposes made for ``who`` (a person removed: a link sent to
    their old address must not act for someone added later under the same name)."""
    mine = (links.c.who == who) | links.c.who.startswith(f"{who}#", autoescape=True)  # key checks: name#check
    return conn.execute(update(links).where(
        links.c.owner_id == owner_id, mine, links.c.purpose.in_([str(p) for p in purposes]),
        links.c.used_at.is_(None), links.c.revoked_at.is_(None)).values(revoked_at=now)).rowcount


def consume(conn: Connection, link: Link, now: datetime) -> None:
    """Mark a single-use link used; a second, concurrent use fails with ``LinkError``."""
    if link.purpose in REUSABLE:
        conn.execute(update(links).where(links.c.id == link.id).values(used_at=now))
        return
    done = conn.execute(update(links).where(links.c.id == link.id, links.c.used_at.is_(None))
                        .values(used_at=now))
    if done.rowcount != 1:
        raise LinkError("used", "This link was already used. Each link works once.")
