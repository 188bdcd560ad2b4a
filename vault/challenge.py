"""Key liveness: a short code sealed to a holder's key; opening it proves the key still works."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from vault import agecrypt
from vault.keys import RecipientKey

_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed by hand


@dataclass(frozen=True)
class Challenge:
    sealed: bytes  # the age file the holder opens
    code_hash: str  # what the server keeps

    def __repr__(self) -> str:
        return "Challenge(sealed=…, code_hash=…)"


def new_challenge(recipient: RecipientKey, holder: str, *, armored: bool = False) -> Challenge:
    """A fresh code sealed to ``recipient`` (``armored``: as text a page can show, for copying)."""
    code = "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))
    text = (f"Baton key check for {holder}.\n"
            f"Your code: {code}\n"
            "Enter it on the key-check page (or with `baton people prove`). It proves your key still opens "
            "what is sealed to it.\n")
    return Challenge(agecrypt.encrypt(text.encode(), [recipient], armored=armored), hash_code(code))


def normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def matches(code: str, code_hash: str) -> bool:
    return hmac.compare_digest(hash_code(code), code_hash)


def code_from(opened: bytes) -> str:
    for line in opened.decode("utf-8", errors="replace").splitlines():
        if line.startswith("Your code: "):
            return line.removeprefix("Your code: ").strip()
    raise ValueError("not a Baton key check")
