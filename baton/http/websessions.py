"""The owner's web sessions: a random cookie, stored only as a hash, with an idle and an absolute end.

Signing out deletes the row; so does any lookup that finds it expired. The cookie's value
never reaches a log or a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from baton.services.accounts import Owner
from baton.store.tables import owners, web_sessions
from switch import hash_token, new_token

SESSION_PREFIX = "bs_"


@dataclass(frozen=True, slots=True)
class SessionLimits:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True, slots=True)
class WebSession:
    id: int
    owner: Owner
    totp: bool  # the owner has an authenticator app set up
    seen_at: datetime
    live: bool


def open_session(conn: Connection, owner_id: int, now: datetime, limits: SessionLimits,
                 address: str = "", user_agent: str = "") -> str:
    """A new session for the owner; returns the cookie value (shown once)."""
    token, digest = new_token(SESSION_PREFIX)
    conn.execute(insert(web_sessions).values(
        token_hash=digest, owner_id=owner_id, created_at=now, seen_at=now, expires_at=now + limits.absolute,
        address=address[:64], user_agent=user_agent[:200]))
    return token


# The session and its owner in one statement: every click of the owner's pages runs it.
_FIND = (select(web_sessions.c.id, web_sessions.c.seen_at, web_sessions.c.expires_at, owners.c.id.label("owner_id"),
                owners.c.email, owners.c.timezone, owners.c.language, owners.c.totp_sealed.isnot(None).label("totp"))
         .join(owners, owners.c.id == web_sessions.c.owner_id)
         .where(web_sessions.c.token_hash == bindparam("digest")))


def find_session(conn: Connection, token: str, now: datetime, limits: SessionLimits) -> WebSession | None:
    """The live session behind a cookie (a read: see ``keep_alive``), or None."""
    if not token.startswith(SESSION_PREFIX):
        return None
    row = conn.execute(_FIND, {"digest": hash_token(token)}).first()
    if row is None:
        return None
    return WebSession(row.id, Owner(row.owner_id, row.email, row.timezone, row.language), bool(row.totp),
                      row.seen_at, live=now < row.expires_at and now < row.seen_at + limits.idle)


def keep_alive(conn: Connection, found: WebSession, now: datetime) -> bool:
    """Restart a live session's idle clock (at most every few minutes: spares a write per click), or
    delete an expired one; True if it lives on."""
    if not found.live:
        conn.execute(delete(web_sessions).where(web_sessions.c.id == found.id))
        return False
    conn.execute(update(web_sessions).where(web_sessions.c.id == found.id).values(seen_at=now))
    return True


def needs_writing(found: WebSession, now: datetime, limits: SessionLimits) -> bool:
    return not found.live or now - found.seen_at > limits.idle / 20


def close_session(conn: Connection, token: str) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == hash_token(token)))


def close_all(conn: Connection, owner_id: int) -> int:
    """End every session of the owner (after a password change, or 'sign out everywhere')."""
    return conn.execute(delete(web_sessions).where(web_sessions.c.owner_id == owner_id)).rowcount


def purge_expired(conn: Connection, now: datetime, limits: SessionLimits) -> int:
    return conn.execute(delete(web_sessions).where(
        (web_sessions.c.expires_at <= now) | (web_sessions.c.seen_at <= now - limits.idle))).rowcount
