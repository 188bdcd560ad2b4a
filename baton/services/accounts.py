"""Owners and their API tokens: create, authenticate, look up. Passwords use argon2id."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from baton.errors import BadRequest
from baton.store.keyfile import DeploymentKey
from baton.store.tables import api_tokens, owners
from switch import hash_token, iso, new_token

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
TOKEN_PREFIX = "bt_"
MIN_PASSWORD = 10


@dataclass(frozen=True, slots=True)
class Owner:
    id: int
    email: str
    timezone: str
    language: str


@dataclass(frozen=True, slots=True)
class NewOwner:
    """What ``create_owner`` hands back once: the token and TOTP secret are never shown again."""

    owner: Owner
    api_token: str
    totp_secret: str | None

    def __repr__(self) -> str:
        return f"NewOwner(owner={self.owner!r}, api_token='***', totp_secret='***')"

    def totp_uri(self) -> str | None:
        if self.totp_secret is None:
            return None
        return totp_uri(self.totp_secret, self.owner.email)


def check_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL.fullmatch(email):
        raise BadRequest(f"email: expected an address like you@example.com, got {email!r}")
    return email.lower()


def check_timezone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"timezone: expected an IANA time zone like Europe/Rome, got {timezone!r}") from None
    return timezone


def create_owner(conn: Connection, sealing: DeploymentKey, email: str, password: str, timezone: str, now: datetime,
                 *, totp: bool = False, language: str = "en") -> NewOwner:
    """A new owner with an API token (and a TOTP secret if asked); names what is wrong."""
    email = check_email(email)
    timezone = check_timezone(timezone)
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"password: expected at least {MIN_PASSWORD} characters, got {len(password)}")
    if conn.execute(select(owners.c.id).where(owners.c.email == email)).first():
        raise BadRequest(f"email: an owner with the address {email} already exists")
    secret = new_totp_secret() if totp else None
    owner_id = conn.execute(insert(owners).values(
        email=email, password_hash=_HASHER.hash(password), timezone=timezone, language=language,
        totp_sealed=sealing.seal(secret.encode()) if secret else None,
        created_at=now)).inserted_primary_key[0]  # type: ignore[index]
    token = issue_token(conn, owner_id, now, label="init")
    return NewOwner(Owner(owner_id, email, timezone, language), token, secret)


def issue_token(conn: Connection, owner_id: int, now: datetime, label: str = "") -> str:
    token, digest = new_token(TOKEN_PREFIX)
    conn.execute(insert(api_tokens).values(owner_id=owner_id, token_hash=digest, label=label, created_at=now))
    return token


USE_GRANULARITY = timedelta(minutes=5)  # a token's last use is written at most this often


def tokens(conn: Connection, owner_id: int) -> list[dict[str, Any]]:
    """The owner's API tokens: id, name, when made and last used (never the token)."""
    rows = conn.execute(select(api_tokens.c.id, api_tokens.c.label, api_tokens.c.created_at,
                               api_tokens.c.last_used_at).where(api_tokens.c.owner_id == owner_id)
                        .order_by(api_tokens.c.id)).all()
    return [{"id": r.id, "name": r.label, "created_at": iso(r.created_at),
             "last_used_at": iso(r.last_used_at) if r.last_used_at else None} for r in rows]


def revoke_token(conn: Connection, owner_id: int, token_id: int) -> bool:
    return conn.execute(delete(api_tokens).where(api_tokens.c.id == token_id,
                                                 api_tokens.c.owner_id == owner_id)).rowcount == 1


def touch_token(conn: Connection, token_id: int, last_used: datetime | None, now: datetime) -> None:
    """Note a token's use, at most every ``USE_GRANULARITY`` (a write on every call would cost the check-in)."""
    if last_used is None or now - last_used >= USE_GRANULARITY:
        conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))


# Built once: on the check-in path, building a statement costs more than running it.
_TOKEN_OWNER = select(api_tokens.c.id, api_tokens.c.owner_id, api_tokens.c.last_used_at).where(
    api_tokens.c.token_hash == bindparam("digest"))
_OWNER = select(owners.c.id, owners.c.email, owners.c.timezone, owners.c.language).where(
    owners.c.id == bindparam("owner_id"))


def token_row(conn: Connection, token: str) -> Any:
    """The token's row (id, owner_id, last_used_at), or None."""
    return conn.execute(_TOKEN_OWNER, {"digest": hash_token(token)}).first()


def owner_for_token(conn: Connection, token: str) -> int | None:
    """The owner a bearer token belongs to, or None."""
    row = token_row(conn, token)
    return None if row is None else int(row.owner_id)


def get_owner(conn: Connection, owner_id: int) -> Owner:
    row = conn.execute(_OWNER, {"owner_id": owner_id}).one()
    return Owner(row.id, row.email, row.timezone, row.language)


def find_owner(conn: Connection, email: str) -> Owner | None:
    row = conn.execute(select(owners).where(owners.c.email == email.strip().lower())).first()
    return None if row is None else Owner(row.id, row.email, row.timezone, row.language)


def verify_password(conn: Connection, email: str, password: str, *, rehash: bool = True) -> int | None:
    """The owner id if the password matches; rehashes when argon2's parameters moved on (unless told
    not to: ``rehash_if_needed`` does it later, in a write transaction)."""
    found = password_row(conn, email)
    if not password_matches(found, password):
        return None
    assert found is not None
    if rehash:
        rehash_if_needed(conn, found[0], password)
    return found[0]


def password_row(conn: Connection, email: str) -> tuple[int, str] | None:
    """(owner id, stored hash) for an address, to check outside any transaction (hashing is slow)."""
    row = conn.execute(select(owners.c.id, owners.c.password_hash)
                       .where(owners.c.email == email.strip().lower())).first()
    return None if row is None else (int(row.id), row.password_hash)


def password_matches(found: tuple[int, str] | None, password: str) -> bool:
    """argon2id's verdict; for an unknown owner, the same time spent and False."""
    if found is None:
        _HASHER.hash(password)  # spend the same time whether or not the owner exists
        return False
    try:
        return bool(_HASHER.verify(found[1], password))
    except (VerificationError, InvalidHashError):
        return False


def rehash_if_needed(conn: Connection, owner_id: int, password: str) -> None:
    """Store a new hash of a password just verified if argon2's recommended parameters changed."""
    stored = conn.execute(select(owners.c.password_hash).where(owners.c.id == owner_id)).scalar_one()
    if _HASHER.check_needs_rehash(stored):
        conn.execute(update(owners).where(owners.c.id == owner_id).values(password_hash=_HASHER.hash(password)))


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Baton")


def code_matches(secret: str, code: str, now: datetime) -> bool:
    """For setting a secret up: does the app show the code this secret gives now (or one step off)?"""
    return bool(pyotp.TOTP(secret).verify(code.strip().replace(" ", ""), for_time=now, valid_window=1))


def set_totp(conn: Connection, sealing: DeploymentKey, owner_id: int, secret: str) -> None:
    conn.execute(update(owners).where(owners.c.id == owner_id).values(
        totp_sealed=sealing.seal(secret.encode()), totp_secret=None, totp_last_step=None))


def has_totp(conn: Connection, owner_id: int) -> bool:
    return conn.execute(select(owners.c.totp_sealed).where(owners.c.id == owner_id)).scalar() is not None


def verify_totp(conn: Connection, sealing: DeploymentKey, owner_id: int, code: str, now: datetime) -> bool:
    """True if ``code`` is the owner's current TOTP code (one step of drift either way) and was not
    used before: the accepted code's time step is kept by a conditional update, so a code seen over a
    shoulder works once, even when two requests race with it (the second update changes no row)."""
    row = conn.execute(select(owners.c.totp_sealed, owners.c.totp_last_step).where(owners.c.id == owner_id)).one()
    if row.totp_sealed is None:
        return True
    code = code.strip().replace(" ", "")
    totp = pyotp.TOTP(sealing.open(row.totp_sealed).decode())
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if step <= (row.totp_last_step or 0):
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            taken = conn.execute(update(owners).where(
                owners.c.id == owner_id,
                (owners.c.totp_last_step.is_(None)) | (owners.c.totp_last_step < step)).values(totp_last_step=step))
            return taken.rowcount == 1
    return False


def seal_plain_totp(conn: Connection, sealing: DeploymentKey) -> int:
    """TOTP secrets kept in clear before migration 0006, sealed now (at start-up; once)."""
    rows = conn.execute(select(owners.c.id, owners.c.totp_secret).where(owners.c.totp_secret.isnot(None))).all()
    for row in rows:
        conn.execute(update(owners).where(owners.c.id == row.id).values(
            totp_sealed=sealing.seal(row.totp_secret.encode()), totp_secret=None))
    return len(rows)
