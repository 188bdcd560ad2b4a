"""Ed25519 signatures on packages (PyNaCl), the public key as PEM for ``openssl pkeyutl``, and its fingerprint.

The fingerprint is what anchors a package outside itself: every holder e-mail, the key card
and the owner's People page show it, and the package's instructions give the one command
(``FINGERPRINT_COMMAND``) that computes it from the package's ``signing-key.pem`` with
off-the-shelf tools. A package re-signed with another key and carrying that key prints
another fingerprint, whatever its instructions and manifest say.
"""

from __future__ import annotations

import base64
import hashlib
import re
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


# Run in the package's folder, it prints the fingerprint, then sha256sum's "  -" (its input was stdin).
FINGERPRINT_COMMAND = "openssl pkey -pubin -in signing-key.pem -outform DER | sha256sum"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def fingerprint(public: bytes) -> str:
    """The key's fingerprint: the SHA-256 of its DER SubjectPublicKeyInfo (what ``openssl pkey
    -outform DER`` writes), as 64 lowercase hex digits — exactly what ``FINGERPRINT_COMMAND`` prints."""
    if len(public) != 32:
        raise ValueError(f"expected a 32-byte Ed25519 public key, got {len(public)} bytes")
    return hashlib.sha256(_SPKI_PREFIX + public).hexdigest()


def signer_fingerprint(signer: Signer) -> str:
    return fingerprint(bytes.fromhex(signer.public_hex))


def parse_fingerprint(text: str, what: str = "fingerprint") -> str:
    """A fingerprint as a person types or pastes it: case, spaces and colons do not matter, and a line
    that ``FINGERPRINT_COMMAND`` printed (its trailing ``-`` included) is taken as it is."""
    cleaned = text.strip()
    cleaned = cleaned[:-1] if cleaned.endswith("-") else cleaned
    cleaned = re.sub(r"[\s:]", "", cleaned).lower()
    if not _HEX64.fullmatch(cleaned):
        got = repr(text if len(text) <= 80 else text[:80] + "…")
        raise BadSignature(f"{what}: expected the signing key's fingerprint, 64 hex digits (as in Baton's e-mails), "
                           f"got {got}")
    return cleaned


def verify(public: bytes, message: bytes, signature: bytes, what: str) -> None:
    try:
        VerifyKey(public).verify(message, signature)
    except (BadSignatureError, NaclValueError, TypeError):
        raise BadSignature(f"{what}: the signature does not verify (the package was altered, or was not "
                           "made by this Baton service)") from None
