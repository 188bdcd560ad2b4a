"""Key liveness: a short code sealed to a holder's key; opening it proves the key still works."""

from __future__ import annotations

import hashlib
import hmac
import re
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


ENGLISH = ("Baton key check for {holder}.\n"
           "Your code: {code}\n"
           "Enter it on the key-check page (or with `baton keycheck`). It proves your key still opens "
           "what is sealed to it.\n")


def new_challenge(recipient: RecipientKey, holder: str, *, armored: bool = False, wording: str = ENGLISH) -> Challenge:
    """A fresh code sealed to ``recipient`` (``armored``: as text a page can show, for copying). ``wording`` is
    the text in the holder's language, with ``{holder}`` and ``{code}``; the code stands alone after a colon
    on its line, which is how ``code_from`` finds it in any language."""
    if "{code}" not in wording:
        raise ValueError("a key check's wording must hold {code}")
    code = "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))
    text = wording.replace("{holder}", holder).replace("{code}", code)
    return Challenge(agecrypt.encrypt(text.encode(), [recipient], armored=armored), hash_code(code))


def normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def matches(code: str, code_hash: str) -> bool:
    return hmac.compare_digest(hash_code(code), code_hash)


_CODE_LINE = re.compile(rf"^[^:]{{1,40}}:\s*([{_ALPHABET}]{{4}}-[{_ALPHABET}]{{4}}-[{_ALPHABET}]{{4}})\s*$")


def code_from(opened: bytes) -> str:
    """The code in an opened key check, whatever language its label is in (``Your code:``, ``Kode Anda:``)."""
    for line in opened.decode("utf-8", errors="replace").splitlines():
        found = _CODE_LINE.match(line)
        if found:
            return found.group(1)
    raise ValueError("not a Baton key check")
