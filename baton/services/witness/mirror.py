"""What a witness holds of a switch, and nothing that opens anything: the policy, the people and their
public keys and languages, the compartments' ciphertext (and the release key, encrypted to the owner and
under the master secret, as the primary keeps it), the sealed shares, and the register and handover
profile the customer notices are made of. ``export`` reads it on the primary; ``load`` replaces a mirror
owner's copy on the witness, all in the caller's transaction.

Never in it: passwords, TOTP secrets, API tokens, links, sessions, the key file, channels' URLs (they may
hold webhook secrets), the audit log (the witness keeps its own).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update

from baton.store.blobs import BlobStore
from baton.store.snapshot import _decode, _encode
from baton.store.tables import (
    compartments,
    customers,
    domains,
    handover_profiles,
    hosting,
    owners,
    people,
    registrars,
    sealed_shares,
    splits,
    vault_keys,
)

REGISTER = (registrars, customers, domains, hosting)
PEOPLE_COLUMNS = ("name", "display_name", "email", "language", "role", "recipient", "recipient_kind",
                  "key_source", "enrolled_at", "verified_at", "created_at")
COMPARTMENT_COLUMNS = ("name", "version", "release_recipient", "release_key_owner", "blob_sha256", "blob_size",
                       "created_at", "updated_at")


class MirrorError(Exception):
    """A sync whose content does not hold together (a blob that does not match its digest, a share for
    nobody); the message says what."""


def _row(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: _encode(getattr(row, name)) for name in names}


def _plain(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns if c.name not in ("id", "owner_id"))


def export(conn: Connection, store: BlobStore, owner_id: int) -> dict[str, Any]:
    """The owner's releasable rows and compartment files, JSON-ready."""
    owner = conn.execute(select(owners.c.email, owners.c.timezone, owners.c.language)
                         .where(owners.c.id == owner_id)).one()
    key = conn.execute(select(vault_keys.c.recipient).where(vault_keys.c.owner_id == owner_id)).scalar()
    listed = conn.execute(select(people).where(people.c.owner_id == owner_id, people.c.removed_at.is_(None))
                          .order_by(people.c.id)).all()
    names = {p.id: p.name for p in listed}
    boxes = conn.execute(select(compartments).where(compartments.c.owner_id == owner_id)
                         .order_by(compartments.c.id)).all()
    out_compartments, blobs = [], {}
    for box in boxes:
        item = _row(box, COMPARTMENT_COLUMNS)
        if box.split_id is not None:
            split = conn.execute(select(splits).where(splits.c.id == box.split_id)).one()
            shares = conn.execute(select(sealed_shares).where(sealed_shares.c.split_id == split.id)).all()
            item["split"] = {"slip39_id": split.slip39_id, "policy": split.policy,
                             "protected_release_key": _encode(split.protected_release_key),
                             "created_at": _encode(split.created_at),
                             "shares": [{"person": names[s.person_id], "recipient": s.recipient,
                                         "sealed": _encode(s.sealed)} for s in shares if s.person_id in names]}
        if box.blob_sha256:
            blobs[box.blob_sha256] = base64.b64encode(store.path(box.blob_sha256).read_bytes()).decode()
        out_compartments.append(item)
    register = {t.name: [_row(r, _plain(t)) for r in conn.execute(
        select(t).where(t.c.owner_id == owner_id).order_by(t.c.id))] for t in REGISTER}
    profile = conn.execute(select(handover_profiles.c.data).where(handover_profiles.c.owner_id == owner_id)).scalar()
    return {"owner": {"email": owner.email, "timezone": owner.timezone, "language": owner.language},
            "vault_key": key, "people": [_row(p, PEOPLE_COLUMNS) for p in listed],
            "compartments": out_compartments, "blobs": blobs, "register": register, "profile": profile}


def _decoded(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    known = {c.name: c for c in table.columns}
    unknown = sorted(set(row) - set(known))
    if unknown:
        raise MirrorError(f"table {table.name}: unknown columns {', '.join(unknown)}")
    return {name: _decode(known[name], value) for name, value in row.items()}


def place_blobs(store: BlobStore, blobs: dict[str, str], limit: int) -> None:
    """Write the compartment files (each checked against its digest) before the rows naming them commit.
    OSError (ENOSPC included) goes to the caller, who refuses the version."""
    for digest, encoded in blobs.items():
        data = base64.b64decode(encoded, validate=True)
        if hashlib.sha256(data).hexdigest() != digest:
            raise MirrorError(f"a compartment file does not match its digest {digest[:12]}…")
        if store.path(digest).exists():
            continue
        incoming = store.incoming(limit)
        try:
            incoming.write(data)
            store.place(incoming)
        except BaseException:
            incoming.discard()
            raise


def load(conn: Connection, owner_id: int, data: dict[str, Any], now: datetime) -> dict[str, int]:
    """Replace the mirror owner's copy with ``data`` (blobs placed first); counts of what it holds."""
    conn.execute(update(compartments).where(compartments.c.owner_id == owner_id).values(split_id=None))
    for table in (*REGISTER, handover_profiles, vault_keys, compartments, people):
        conn.execute(delete(table).where(table.c.owner_id == owner_id))
    owner = data.get("owner") or {}
    conn.execute(update(owners).where(owners.c.id == owner_id).values(
        timezone=owner.get("timezone", "UTC"), language=owner.get("language", "en")))
    if data.get("vault_key"):
        conn.execute(insert(vault_keys).values(owner_id=owner_id, recipient=data["vault_key"], created_at=now))
    person_ids = {}
    for person in data.get("people", []):
        values = _decoded(people, person)
        person_ids[values["name"]] = conn.execute(insert(people).values(owner_id=owner_id, **values)
                                                  ).inserted_primary_key[0]  # type: ignore[index]
    for item in data.get("compartments", []):
        item = dict(item)
        split = item.pop("split", None)
        box_id = conn.execute(insert(compartments).values(owner_id=owner_id, **_decoded(compartments, item))
                              ).inserted_primary_key[0]  # type: ignore[index]
        if split is None:
            continue
        split = dict(split)
        shares = split.pop("shares")
        split_id = conn.execute(insert(splits).values(compartment_id=box_id, **_decoded(splits, split))
                                ).inserted_primary_key[0]  # type: ignore[index]
        for share in shares:
            if share["person"] not in person_ids:
                raise MirrorError(f"a sealed share for {share['person']!r}, who is not among the people sent")
            conn.execute(insert(sealed_shares).values(
                split_id=split_id, person_id=person_ids[share["person"]], recipient=share["recipient"],
                sealed=base64.b64decode(share["sealed"], validate=True)))
        conn.execute(update(compartments).where(compartments.c.id == box_id).values(split_id=split_id))
    for table in REGISTER:
        for row in data.get("register", {}).get(table.name, []):
            conn.execute(insert(table).values(owner_id=owner_id, **_decoded(table, row)))
    if data.get("profile") is not None:
        conn.execute(insert(handover_profiles).values(owner_id=owner_id, data=data["profile"], updated_at=now))
    return {"people": len(person_ids), "compartments": len(data.get("compartments", [])),
            "customers": len(data.get("register", {}).get("customers", []))}
