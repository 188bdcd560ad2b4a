"""Recipients and identities in the age format: X25519 keys, SSH keys, passphrase-protected identity files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import pyrage
from pyrage import passphrase, ssh, x25519

from vault.errors import DamagedFile, RecipientError, WrongKey

# pyrage ships no type information: its x25519 and ssh keys are opaque here.
Recipient: TypeAlias = Any
Identity: TypeAlias = Any

_SSH_KINDS = ("ssh-ed25519", "ssh-rsa")


@dataclass(frozen=True, slots=True)
class RecipientKey:
    """A public key a file can be encrypted to, kept as the text the holder gave."""

    text: str
    kind: str  # "age" or "ssh-ed25519" / "ssh-rsa"

    def to_age(self) -> Recipient:
        if self.kind == "age":
            return x25519.Recipient.from_str(self.text)
        return ssh.Recipient.from_str(self.text)


def parse_recipient(text: str) -> RecipientKey:
    """An age X25519 public key (age1…) or an SSH public key (ssh-ed25519 / ssh-rsa)."""
    cleaned = " ".join(text.strip().split())
    head = cleaned.split(" ", 1)[0]
    shown = head[:16] + ("…" if len(head) > 16 else "")
    # A secret anywhere (a whole key file pasted: comments, the public key, then the secret) is refused as one.
    if "-----BEGIN" in cleaned and "PRIVATE KEY" in cleaned:
        raise RecipientError("expected a public key, got a private key (-----BEGIN … PRIVATE KEY-----): never "
                             "share it; send the line of the .pub file (ssh-ed25519 AAAA…) instead")
    if "AGE-SECRET-KEY-" in cleaned.upper():
        raise RecipientError("expected a public key, got a secret key (AGE-SECRET-KEY-…): never share it; "
                             "send the line starting age1… instead")
    if head.startswith("age1") and " " not in cleaned:
        try:
            x25519.Recipient.from_str(cleaned)
        except pyrage.RecipientError:
            raise RecipientError(f"expected an age public key (age1… in 62 characters), got a damaged one "
                                 f"starting {shown!r}: check that it was copied whole") from None
        return RecipientKey(cleaned, "age")
    if head in _SSH_KINDS:
        parts = cleaned.split(" ")
        key = " ".join(parts[:2])  # drop the comment: it is not part of the key
        try:
            ssh.Recipient.from_str(key)
        except pyrage.RecipientError:
            raise RecipientError(f"expected an SSH public key ({head} AAAA…), got a damaged one: "
                                 "check that the whole line was copied") from None
        return RecipientKey(key, head)
    raise RecipientError("expected an age public key (age1…) or an SSH public key (ssh-ed25519 or ssh-rsa), "
                         f"got {shown!r}")


def generate_identity() -> x25519.Identity:
    return x25519.Identity.generate()


def identity_text(identity: x25519.Identity) -> str:
    """The identity as age writes it: AGE-SECRET-KEY-1…"""
    return str(identity)


def public_of(identity: x25519.Identity) -> RecipientKey:
    return RecipientKey(str(identity.to_public()), "age")


def parse_identities(data: bytes) -> list[Identity]:
    """The identities in an identity file: age keys (one per line, # comments) or an SSH private key."""
    text = data.decode("utf-8", errors="replace")
    if "-----BEGIN OPENSSH PRIVATE KEY-----" in text or "-----BEGIN RSA PRIVATE KEY-----" in text:
        try:
            return [ssh.Identity.from_buffer(data)]
        except pyrage.IdentityError:
            raise RecipientError("expected an unencrypted SSH private key, got one that cannot be read "
                                 "(a passphrase-protected SSH key must be decrypted first: "
                                 "ssh-keygen -p)") from None
    found: list[Identity] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.upper().startswith("AGE-SECRET-KEY-1"):
            raise RecipientError(f"identity file line {number}: expected an age secret key "
                                 "(AGE-SECRET-KEY-1…), got something else")
        try:
            found.append(x25519.Identity.from_str(line.upper()))
        except pyrage.IdentityError:
            raise RecipientError(f"identity file line {number}: the age secret key is damaged; "
                                 "check it was copied whole") from None
    if not found:
        raise RecipientError("expected an identity file with an age secret key (AGE-SECRET-KEY-1…) "
                             "or an SSH private key, got none")
    return found


def lock_identity(identity: x25519.Identity, secret: str) -> bytes:
    """The identity file encrypted with a passphrase (scrypt), as ``age -p`` writes it; ``age -d -i`` reads it."""
    public = str(identity.to_public())
    body = f"# public key: {public}\n{identity_text(identity)}\n".encode()
    return bytes(passphrase.encrypt(body, secret))


def unlock_identity(locked: bytes, secret: str) -> x25519.Identity:
    """Open a passphrase-protected identity file; a wrong passphrase is ``WrongKey``."""
    try:
        body = passphrase.decrypt(locked, secret)
    except pyrage.DecryptError as exc:
        if "Decryption failed" in str(exc) or "passphrase" in str(exc).lower():
            raise WrongKey("the passphrase does not open this identity file") from None
        raise DamagedFile("the identity file is truncated or altered (its MAC does not match)") from None
    identities = parse_identities(bytes(body))
    first = identities[0]
    assert isinstance(first, x25519.Identity)
    return first
