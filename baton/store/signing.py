"""The deployment's Ed25519 key (PyNaCl): made once, kept in the database, shared by workers."""

from __future__ import annotations

from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from baton.store.engine import reading
from baton.store.tables import deployment_keys
from baton.timeutil import SystemClock

PURPOSE = "audit-ed25519"


@dataclass(frozen=True)
class Ed25519Signer:
    """Signs with the deployment key; the key's repr never shows the secret."""

    key: SigningKey

    def sign(self, message: bytes) -> bytes:
        return bytes(self.key.sign(message).signature)

    @property
    def public_hex(self) -> str:
        return bytes(self.key.verify_key).hex()

    def __repr__(self) -> str:
        return f"Ed25519Signer(public={self.public_hex})"


@dataclass(frozen=True)
class Ed25519Check:
    """Checks signatures against a public key."""

    key: VerifyKey

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.key.verify(message, signature)
        except BadSignatureError:
            return False
        return True


def _load(conn: Connection) -> Ed25519Signer | None:
    row = conn.execute(select(deployment_keys.c.secret).where(deployment_keys.c.purpose == PURPOSE)).first()
    return None if row is None else Ed25519Signer(SigningKey(bytes.fromhex(row.secret)))


def deployment_signer(engine: Engine) -> Ed25519Signer:
    """The deployment key, created on first use (two processes racing agree on one)."""
    with reading(engine) as conn:
        found = _load(conn)
    if found:
        return found
    key = SigningKey.generate()
    try:
        with engine.begin() as conn:
            conn.execute(insert(deployment_keys).values(
                purpose=PURPOSE, secret=bytes(key).hex(), public=bytes(key.verify_key).hex(),
                created_at=SystemClock().now()))
    except IntegrityError:
        pass  # another process made it first; use theirs
    with reading(engine) as conn:
        made = _load(conn)
    assert made is not None
    return made
