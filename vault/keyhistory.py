"""A deployment's signing-key history: each replacement of the key, signed by the old key and the new.

A holder knows the fingerprint from Baton's e-mails; if the deployment replaced its key after
those e-mails, a package is signed by a key with another fingerprint. The package then carries the
history (``signing-keys.json``): for each replacement, one statement naming both keys and the
moment, signed by the old key (it hands over) and by the new key (it takes over). Walking back from
the key that signed the package, through statements that both keys signed, reaches every key the
deployment had before it: a fingerprint among them is a fingerprint of this deployment. A forger
holds neither key of any statement, so the history cannot lead from their key to a known one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.exceptions import ValueError as NaclValueError
from nacl.signing import VerifyKey

from vault.errors import BadSignature

FILE = "signing-keys.json"
ABOUT = ("Each time this Baton service replaced its signing key: the statement names the old key, the new key "
         "and the moment, and both keys signed it (Ed25519, hex). An older fingerprint in Baton's e-mails to you "
         "is this service's if the keys lead from it to the key in signing-key.pem.")


def statement(old: bytes, new: bytes, at: str) -> bytes:
    """What both keys sign when ``new`` replaces ``old`` at ``at`` (an ISO 8601 moment)."""
    return f"baton-signing-key-rotation/v1\nold: {old.hex()}\nnew: {new.hex()}\nat: {at}\n".encode()


@dataclass(frozen=True)
class Rotation:
    old: bytes
    new: bytes
    at: str
    signed_by_old: bytes
    signed_by_new: bytes

    def to_dict(self) -> dict[str, str]:
        return {"old": self.old.hex(), "new": self.new.hex(), "at": self.at,
                "signed_by_old": self.signed_by_old.hex(), "signed_by_new": self.signed_by_new.hex()}

    def holds(self) -> bool:
        message = statement(self.old, self.new, self.at)
        return _signed(self.old, message, self.signed_by_old) and _signed(self.new, message, self.signed_by_new)


def document(rotations: Iterable[Rotation]) -> dict[str, Any]:
    """The contents of ``signing-keys.json``."""
    return {"about": ABOUT, "rotations": [r.to_dict() for r in rotations]}


def parse(data: Any, what: str) -> list[Rotation]:
    """The rotations ``signing-keys.json`` lists; a clear error when it is not that file."""
    try:
        return [Rotation(bytes.fromhex(r["old"]), bytes.fromhex(r["new"]), str(r["at"]),
                         bytes.fromhex(r["signed_by_old"]), bytes.fromhex(r["signed_by_new"]))
                for r in data["rotations"]]
    except (KeyError, TypeError, ValueError):
        raise BadSignature(f"{what}: expected the signing-key history (rotations with old, new, at and both "
                           "signatures), got something else") from None


def earlier_keys(current: bytes, rotations: Iterable[Rotation]) -> list[Rotation]:
    """The rotations that lead back from ``current``, newest first, each signed by both its keys.

    A statement that names ``current`` as new but does not hold stops the walk: nothing before it
    is proved.
    """
    by_new: Mapping[bytes, Rotation] = {r.new: r for r in rotations}
    path: list[Rotation] = []
    seen = {current}
    while (step := by_new.get(current)) is not None and step.holds() and step.old not in seen:
        path.append(step)
        seen.add(step.old)
        current = step.old
    return path


def _signed(public: bytes, message: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(public).verify(message, signature)
    except (BadSignatureError, NaclValueError, TypeError, ValueError):
        return False
    return True
