"""The deployment's key file: the one secret the server keeps outside its database.

A copy of the database (a backup, a stolen disk, a leaked SQLite WAL) must open nothing. So
what the server must keep secret is derived from, or sealed under, 32 random bytes in a file
only the service can read (``BATON_KEY_FILE``, default ``<data dir>/deployment.key``, mode 0600
in a folder of mode 0700):

- a link's token is a MAC of the link's id under a key derived from it (``store.links``), so
  the database holds no token, not even while a message waits to be sent;
- the deployment's signing key and the owners' TOTP secrets are stored sealed (libsodium's
  secretbox, XSalsa20-Poly1305, through PyNaCl).

The database keeps a check value of the key, so a process started with another key file (a
second machine that made its own) refuses to run instead of failing every link and signature.
Several machines of one deployment share the file: copy it with the same care as the database
credentials, and back it up apart from the database.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from nacl.encoding import RawEncoder
from nacl.exceptions import CryptoError
from nacl.hash import blake2b
from nacl.secret import SecretBox
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from baton.errors import Conflict
from baton.store.engine import reading
from baton.store.tables import deployment_keys
from baton.timeutil import SystemClock

KEY_BYTES = 32
SEALED = "sealed:v1:"
CHECK_PURPOSE = "key-file-check"


@dataclass(frozen=True)
class DeploymentKey:
    """The key file's secret, and what is derived from it; its repr never shows it."""

    secret: bytes

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose (BLAKE2b keyed with the secret, personalised by purpose)."""
        return blake2b(b"", digest_size=32, key=self.secret, person=purpose.encode()[:16].ljust(16, b"\0"),
                       encoder=RawEncoder)

    def check_value(self) -> str:
        return self.derive("check").hex()

    def seal(self, plaintext: bytes) -> str:
        """``plaintext`` encrypted and authenticated, as text for a database column."""
        return SEALED + base64.b64encode(bytes(SecretBox(self.derive("seal")).encrypt(plaintext))).decode()

    def open(self, sealed: str) -> bytes:
        if not sealed.startswith(SEALED):
            raise ValueError("expected a sealed value")
        try:
            return bytes(SecretBox(self.derive("seal")).decrypt(base64.b64decode(sealed[len(SEALED):])))
        except (CryptoError, ValueError):
            raise Conflict("a sealed secret in the database does not open with this key file") from None

    def __repr__(self) -> str:
        return "DeploymentKey(secret='***')"


def is_sealed(value: str | None) -> bool:
    return value is not None and value.startswith(SEALED)


def key_path(data_dir: Path, configured: Path | None) -> Path:
    return configured if configured is not None else data_dir / "deployment.key"


def load(path: Path, engine: Engine) -> DeploymentKey:
    """The key in ``path``, made on first use, and checked against the database's check value."""
    with reading(engine) as conn:
        check = conn.execute(select(deployment_keys.c.public).where(
            deployment_keys.c.purpose == CHECK_PURPOSE)).scalar()
    if not path.exists():
        if check is not None:
            raise Conflict(f"the key file {path} is missing, but this database was set up with one: copy it "
                           f"from the machine that first ran Baton (or set BATON_KEY_FILE to where it is)")
        _create(path)
    key = _read(path)
    if check is None:
        try:
            with engine.begin() as conn:
                conn.execute(insert(deployment_keys).values(purpose=CHECK_PURPOSE, secret="-",
                                                            public=key.check_value(),
                                                            created_at=SystemClock().now()))
            return key
        except IntegrityError:  # another process recorded its check first: compare with it
            with reading(engine) as conn:
                check = conn.execute(select(deployment_keys.c.public).where(
                    deployment_keys.c.purpose == CHECK_PURPOSE)).scalar()
    if not secrets.compare_digest(str(check), key.check_value()):
        raise Conflict(f"the key file {path} is not the one this database was set up with: use the same "
                       f"key file on every machine of a deployment")
    return key


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def write(path: Path, key: DeploymentKey) -> None:
    """Write a key file (a restore's): mode 0600 in a folder of mode 0700, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.secret.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def _read(path: Path) -> DeploymentKey:
    text = path.read_text(encoding="ascii").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != KEY_BYTES:
        raise Conflict(f"the key file {path}: expected {KEY_BYTES * 2} hexadecimal characters, got "
                       f"{len(text)} characters that are not such a key")
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # it must never be readable by others
    return DeploymentKey(secret)
