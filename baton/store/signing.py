"""The deployment's Ed25519 key (PyNaCl): made once, kept in the database sealed under the key file
(``store.keyfile``), shared by workers. A key stored before migration 0006 in clear is sealed on start.

The key may be replaced (``services.signingkeys``); every process holds a ``DeploymentSigner`` that
loads the replacement when the database says its key is no longer the one in use."""

from __future__ import annotations

from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.exceptions import ValueError as NaclValueError
from nacl.signing import SigningKey, VerifyKey
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from baton.store.engine import reading
from baton.store.keyfile import DeploymentKey, is_sealed
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
    """Checks signatures against a public key (and makes the check for another, for rotations)."""

    key: VerifyKey

    @classmethod
    def of(cls, public_hex: str) -> Ed25519Check:
        try:
            return cls(VerifyKey(bytes.fromhex(public_hex)))
        except (TypeError, NaclValueError) as exc:
            raise ValueError(f"expected an Ed25519 public key (64 hex digits), got {public_hex[:80]!r}") from exc

    @property
    def public_hex(self) -> str:
        return bytes(self.key).hex()

    def for_key(self, public_hex: str) -> Ed25519Check:
        return Ed25519Check.of(public_hex)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.key.verify(message, signature)
        except (BadSignatureError, NaclValueError):
            return False
        return True


class DeploymentSigner:
    """The key this process signs with: the deployment's current key, reloaded after a rotation."""

    def __init__(self, signer: Ed25519Signer, sealing: DeploymentKey) -> None:
        self._signer, self._sealing = signer, sealing

    @property
    def key(self) -> SigningKey:
        return self._signer.key

    @property
    def public_hex(self) -> str:
        return self._signer.public_hex

    def sign(self, message: bytes) -> bytes:
        return self._signer.sign(message)

    def refresh(self, conn: Connection) -> bool:
        """Load the key in use now, if it is not this one; whether it changed."""
        public = current_public(conn)
        if public is None or public == self.public_hex:
            return False
        loaded = _load(conn, self._sealing)
        assert loaded is not None
        self._signer = loaded
        return True

    def __repr__(self) -> str:
        return f"DeploymentSigner(public={self.public_hex})"


def current_public(conn: Connection) -> str | None:
    """The public key the deployment signs with now, as the database says."""
    return conn.execute(select(deployment_keys.c.public).where(deployment_keys.c.purpose == PURPOSE)).scalar()


def current_check(conn: Connection) -> Ed25519Check:
    public = current_public(conn)
    if public is None:
        raise LookupError("this deployment has no signing key yet")
    return Ed25519Check.of(public)


def _load(conn: Connection, sealing: DeploymentKey) -> Ed25519Signer | None:
    row = conn.execute(select(deployment_keys.c.secret).where(deployment_keys.c.purpose == PURPOSE)).first()
    if row is None:
        return None
    seed = sealing.open(row.secret) if is_sealed(row.secret) else bytes.fromhex(row.secret)
    return Ed25519Signer(SigningKey(seed))


def deployment_signer(engine: Engine, sealing: DeploymentKey) -> DeploymentSigner:
    """The deployment key, created on first use (two processes racing agree on one), sealed at rest."""
    with reading(engine) as conn:
        found = _load(conn, sealing)
    if found is None:
        key = SigningKey.generate()
        try:
            with engine.begin() as conn:
                conn.execute(insert(deployment_keys).values(
                    purpose=PURPOSE, secret=sealing.seal(bytes(key)), public=bytes(key.verify_key).hex(),
                    created_at=SystemClock().now()))
        except IntegrityError:
            pass  # another process made it first; use theirs
        with reading(engine) as conn:
            found = _load(conn, sealing)
        assert found is not None
    with engine.begin() as conn:  # a key kept in clear before 0006 is sealed now (once)
        conn.execute(update(deployment_keys).where(deployment_keys.c.purpose == PURPOSE,
                                                   deployment_keys.c.secret.notlike("sealed:%"))
                     .values(secret=sealing.seal(bytes(found.key))))
    return DeploymentSigner(found, sealing)


def signer_in(conn: Connection, sealing: DeploymentKey) -> DeploymentSigner:
    """The deployment key as ``conn`` sees it (rows not yet committed, as in a restore)."""
    found = _load(conn, sealing)
    if found is None:
        raise LookupError("this deployment has no signing key yet")
    return DeploymentSigner(found, sealing)
