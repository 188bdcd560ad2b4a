"""Ed25519 signatures on packages (PyNaCl), and the public key as PEM for ``openssl pkeyutl``."""

from __future__ import annotations

import base64
import hashlib
from typing import Protocol

from nacl.exceptions import BadSignatureError
from nacl.exceptions import ValueError as NaclValueError
from nacl.signing import VerifyKey

from vault.errors import BadSignature

# SubjectPublicKeyInfo for Ed25519 (RFC 8410): this DER prefix, then the 32-byte key.
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


class Signer(Protocol):
    def sign(self, message: bytes) -> bytes: ...

    @property
    def public_hex(self) -> str: ...


def public_pem(public: bytes) -> str:
    body = base64.b64encode(_SPKI_PREFIX + public).decode()
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


def public_from_pem(pem: str, what: str) -> bytes:
    lines = [line for line in pem.strip().splitlines() if not line.startswith("-----")]
    try:
        der = base64.b64decode("".join(lines), validate=True)
    except ValueError:
        raise BadSignature(f"{what}: expected an Ed25519 public key in PEM, got something else") from None
    if len(der) != 44 or not der.startswith(_SPKI_PREFIX):
        raise BadSignature(f"{what}: expected an Ed25519 public key in PEM, got another kind of key")
    return der[len(_SPKI_PREFIX):]


def fingerprint(public: bytes) -> str:
    """A short, readable fingerprint (SHA-256 of the key, grouped) to compare over the phone."""
    digest = hashlib.sha256(public).hexdigest()[:32].upper()
    return " ".join(digest[i:i + 4] for i in range(0, 32, 4))


def verify(public: bytes, message: bytes, signature: bytes, what: str) -> None:
    try:
        VerifyKey(public).verify(message, signature)
    except (BadSignatureError, NaclValueError, TypeError):
        raise BadSignature(f"{what}: the signature does not verify (the package was altered, or was not "
                           "made by this Baton service)") from None
