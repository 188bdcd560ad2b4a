"""The audit chain: entries hash-chained per owner and signed, and their verification.

Each entry's hash covers the previous hash, its sequence number, moment, kind and data,
as canonical JSON; the signature covers the hash. The first entry chains from a genesis
hash bound to the owner, so one owner's chain cannot pass for another's. Signing and
checking come in as small ports, so this module needs no crypto library.
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


def verify_chain(owner: str, entries: Iterable[AuditEntry], check: SignatureCheck,
                 head: tuple[int, str] | None = None) -> ChainProblem | None:
    """The first problem in ``entries`` (in stored order), or None when the chain holds.

    ``head`` is the last (seq, hash) the service recorded; without it a removed tail
    cannot be seen.
    """
    items = list(entries)
    problem, (expected, prev) = _walk(items, genesis(owner), 1, check)
    if problem is not None:
        return problem
    if head is not None and (expected - 1, prev) != head and head[0] > 0:
        if head[0] >= expected:
            return ChainProblem(expected, f"removed: the chain ends at entry {expected - 1} but the "
                                f"service recorded {head[0]} entries")
        return ChainProblem(head[0], "altered: the last entry does not match the recorded head")
    return None


def verify_excerpt(entries: Iterable[AuditEntry], check: SignatureCheck) -> ChainProblem | None:
    """Like ``verify_chain`` for a run of entries from the middle of a chain (a release package's excerpt)."""
    items = list(entries)
    if not items:
        return None
    problem, _end = _walk(items, items[0].prev_hash, items[0].seq, check)
    return problem


def _walk(items: list[AuditEntry], prev: str, expected: int,
          check: SignatureCheck) -> tuple[ChainProblem | None, tuple[int, str]]:
    seen = {e.seq for e in items}
    first = expected
    for entry in items:
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
