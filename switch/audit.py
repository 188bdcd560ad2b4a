"""The audit chain: entries hash-chained per owner and signed, and their verification.

Each entry's hash covers the previous hash, its sequence number, moment, kind and data,
as canonical JSON; the signature covers the hash. The first entry chains from a genesis
hash bound to the owner, so one owner's chain cannot pass for another's. Signing and
checking come in as small ports, so this module needs no crypto library.

The signing key may be replaced. A rotation is two entries appended together: the first, signed by
the old key, names the old and the new key (the old key signs the new); the second, signed by the
new key, chains from it (the new key accepts the rotation at that very place). A chain is checked
from its end, where the deployment's current key must have signed: walking back, each rotation
hands the check to the key it names as old. So a copy of a retired key can sign nothing after its
rotation, and a rotation nobody with the new key accepted is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class Signer(Protocol):
    def sign(self, message: bytes) -> bytes: ...


class SignatureCheck(Protocol):
    def verify(self, message: bytes, signature: bytes) -> bool: ...


class KeyCheck(SignatureCheck, Protocol):
    """A check for one public key that can make the check for another (a key a rotation names)."""

    @property
    def public_hex(self) -> str: ...

    def for_key(self, public_hex: str) -> KeyCheck:
        """The check for ``public_hex``; ValueError when that is not a key."""
        ...


ROTATED = "deployment.key-rotated"  # signed by the old key; data: {"old": hex, "new": hex}
ACCEPTED = "deployment.key-accepted"  # the next entry, signed by the new key


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One signed link of an owner's chain."""

    seq: int
    at: datetime
    kind: str
    data: dict[str, Any]
    prev_hash: str
    hash: str
    signature: str  # hex


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first place a chain breaks, in words."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.problem}"


def genesis(owner: str) -> str:
    """The hash an owner's first entry chains from."""
    return hashlib.sha256(f"baton-audit-genesis:{owner}".encode()).hexdigest()


def entry_hash(prev_hash: str, seq: int, at: datetime, kind: str, data: dict[str, Any]) -> str:
    body = json.dumps({"prev": prev_hash, "seq": seq, "at": at.isoformat(), "kind": kind, "data": data},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def next_entry(owner: str, last: tuple[int, str] | None, at: datetime, kind: str,
               data: dict[str, Any], signer: Signer) -> AuditEntry:
    """The entry that follows ``last`` (its seq and hash), or the first of the chain."""
    seq, prev = (last[0] + 1, last[1]) if last else (1, genesis(owner))
    digest = entry_hash(prev, seq, at, kind, data)
    return AuditEntry(seq, at, kind, data, prev, digest, signer.sign(digest.encode()).hex())


def rotation(owner: str, last: tuple[int, str] | None, at: datetime, old: Signer, old_hex: str,
             new: Signer, new_hex: str) -> tuple[AuditEntry, AuditEntry]:
    """The two entries that record, after ``last``, that the key ``new_hex`` replaces ``old_hex``."""
    names = {"old": old_hex, "new": new_hex}
    rotated = next_entry(owner, last, at, ROTATED, names, old)
    return rotated, next_entry(owner, (rotated.seq, rotated.hash), at, ACCEPTED, names, new)


def verify_chain(owner: str, entries: Iterable[AuditEntry], check: KeyCheck,
                 head: tuple[int, str] | None = None) -> ChainProblem | None:
    """The first problem in ``entries`` (in stored order), or None when the chain holds.

    ``check`` is the key in use now: the last entry's signer. ``head`` is the last (seq, hash)
    the service recorded; without it a removed tail cannot be seen.
    """
    items = list(entries)
    checks, problem = _signers(items, check)
    if problem is not None:
        return problem
    problem, (expected, prev) = _walk(items, genesis(owner), 1, checks)
    if problem is not None:
        return problem
    if head is not None and (expected - 1, prev) != head and head[0] > 0:
        if head[0] >= expected:
            return ChainProblem(expected, f"removed: the chain ends at entry {expected - 1} but the "
                                f"service recorded {head[0]} entries")
        return ChainProblem(head[0], "altered: the last entry does not match the recorded head")
    return None


def verify_excerpt(entries: Iterable[AuditEntry], check: KeyCheck) -> ChainProblem | None:
    """Like ``verify_chain`` for a run of entries from the middle of a chain (a release package's
    excerpt), whose last entry ``check``'s key signed."""
    items = list(entries)
    if not items:
        return None
    checks, problem = _signers(items, check)
    if problem is not None:
        return problem
    problem, _end = _walk(items, items[0].prev_hash, items[0].seq, checks)
    return problem


def _signers(items: list[AuditEntry], last: KeyCheck) -> tuple[list[KeyCheck], ChainProblem | None]:
    """Which key must have signed each entry, read from the end through the rotations."""
    checks: list[KeyCheck] = [last] * len(items)
    current = last
    for index in range(len(items) - 1, -1, -1):
        entry = items[index]
        if entry.kind == ROTATED:
            following = items[index + 1] if index + 1 < len(items) else None
            if following is None or following.kind != ACCEPTED or following.data != entry.data:
                return checks, ChainProblem(entry.seq, "a key rotation that the new key did not accept right after")
            if entry.data.get("new") != current.public_hex:
                return checks, ChainProblem(entry.seq, "a key rotation to a key that did not sign the entries after it")
            try:
                current = current.for_key(str(entry.data.get("old")))
            except ValueError:
                return checks, ChainProblem(entry.seq, "a key rotation from something that is not a key")
        checks[index] = current
    return checks, None


def _walk(items: list[AuditEntry], prev: str, expected: int,
          checks: list[KeyCheck]) -> tuple[ChainProblem | None, tuple[int, str]]:
    seen = {e.seq for e in items}
    first = expected
    for entry, check in zip(items, checks, strict=True):
        if entry.seq != expected:
            if entry.seq < expected or expected in seen:
                return ChainProblem(entry.seq, f"reordered: found where entry {expected} belongs"), (expected, prev)
            if expected == first:
                return ChainProblem(first, f"removed: the chain starts at entry {entry.seq}"), (expected, prev)
            return ChainProblem(expected, f"removed: the chain jumps from entry {expected - 1} "
                                f"to entry {entry.seq}"), (expected, prev)
        if entry_hash(entry.prev_hash, entry.seq, entry.at, entry.kind, entry.data) != entry.hash:
            return ChainProblem(entry.seq, "altered: its content does not match its hash"), (expected, prev)
        try:
            signed = check.verify(entry.hash.encode(), bytes.fromhex(entry.signature))
        except ValueError:
            signed = False
        if not signed:
            return ChainProblem(entry.seq, "altered: its signature does not verify"), (expected, prev)
        if entry.prev_hash != prev:
            return (ChainProblem(entry.seq, "altered or reordered: it does not chain from the entry before"),
                    (expected, prev))
        prev, expected = entry.hash, expected + 1
    return None, (expected, prev)
