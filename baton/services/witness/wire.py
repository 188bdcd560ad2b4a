"""Signed messages between a primary and its witnesses: canonical JSON, an Ed25519 signature by the
sender's deployment key, a message number (refused when not newer: no replay) and the sender's key.
A ``claim`` goes between sibling witnesses of one switch (``owner`` is the primary's owner id, ``seq`` the
version claimed): an "I take over" record, or with ``at`` null a question ("do you hold a claim?").

    {"kind": "heartbeat" | "sync" | "pair" | "claim" | "answer", "from": <public hex>, "owner": <primary's owner id>,
     "seq": <n>, "sent_at": <ISO>, "body": {...}}  +  "signature": <hex over the canonical JSON above>
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from baton.store.signing import DeploymentSigner, Ed25519Check
from switch import iso

KINDS = ("heartbeat", "sync", "pair", "claim", "answer")


class WireError(Exception):
    """A message that is not one: malformed, unsigned, signed by another key. The message says which."""


@dataclass(frozen=True)
class Message:
    kind: str
    sender: str  # the sender's public key, hex
    owner: int
    seq: int
    sent_at: str
    body: dict[str, Any]


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal(signer: DeploymentSigner, kind: str, owner: int, seq: int, sent_at: datetime,
         body: dict[str, Any]) -> dict[str, Any]:
    """A message ready to send (JSON-ready), signed by this deployment's key."""
    if kind not in KINDS:
        raise ValueError(f"expected a message kind among {', '.join(KINDS)}, got {kind!r}")
    fields = {"kind": kind, "from": signer.public_hex, "owner": owner, "seq": seq, "sent_at": iso(sent_at),
              "body": body}
    return {**fields, "signature": signer.sign(canonical(fields)).hex()}


def open_message(data: Any, *, expect_kind: str, expect_key: str | None = None) -> Message:
    """The message ``data`` holds, its signature checked (against ``expect_key`` when known, else the key it
    names; the caller then decides whether it knows that key). WireError when anything is off."""
    if not isinstance(data, dict):
        raise WireError(f"expected a signed message (a JSON object), got {type(data).__name__}")
    missing = [k for k in ("kind", "from", "owner", "seq", "sent_at", "body", "signature") if k not in data]
    if missing:
        raise WireError(f"expected a signed message, but it lacks {', '.join(missing)}")
    if data["kind"] != expect_kind:
        raise WireError(f"expected a {expect_kind} message, got {str(data['kind'])[:20]!r}")
    if not isinstance(data["body"], dict) or not isinstance(data["seq"], int) or not isinstance(data["owner"], int):
        raise WireError("expected body an object, seq and owner whole numbers")
    sender = str(data["from"])
    if expect_key is not None and sender != expect_key:
        raise WireError(f"expected a message signed by {expect_key[:16]}…, got one from {sender[:16]}…")
    try:
        check = Ed25519Check.of(sender)
        signature = bytes.fromhex(str(data["signature"]))
    except ValueError as exc:
        raise WireError(f"expected an Ed25519 key and a hex signature: {exc}") from None
    fields = {k: data[k] for k in ("kind", "from", "owner", "seq", "sent_at", "body")}
    if not check.verify(canonical(fields), signature):
        raise WireError(f"the signature does not match the message and the key {sender[:16]}…")
    return Message(str(data["kind"]), sender, int(data["owner"]), int(data["seq"]), str(data["sent_at"]),
                   dict(data["body"]))
