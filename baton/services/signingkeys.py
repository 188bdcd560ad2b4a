"""Replacing the deployment's signing key, and the history that keeps older fingerprints good.

A rotation happens in one transaction, with every owner's chain held: the old key and the new key
both sign a statement naming them (kept in ``key_rotations``, carried by every later package as
``signing-keys.json``); every owner's audit chain records it (``store.auditlog.rotate``: the old key
signs the first entry, the new key the second); the new key, sealed under the key file, replaces
the old one, which is gone for good. Other processes load the new key at their next append
(``owners.audit_key``). Owners and enrolled holders are told the new fingerprint by e-mail, since
older e-mails name the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nacl.signing import SigningKey
from sqlalchemy import Connection, Engine, insert, select, text, update

from baton.jobs.outbox import Channel, enqueue
from baton.services.holderview import owner_face
from baton.services.messages import render_email
from baton.store import auditlog
from baton.store.keyfile import DeploymentKey
from baton.store.signing import PURPOSE, DeploymentSigner, Ed25519Signer
from baton.store.tables import deployment_keys, key_rotations, owners, people
from handover import i18n
from switch import iso
from vault import keyhistory, signature


@dataclass(frozen=True)
class Rotated:
    old_fingerprint: str
    new_fingerprint: str
    chains: int  # owners' audit chains that record it
    told: int  # e-mails queued with the new fingerprint


def rotate(engine: Engine, signer: DeploymentSigner, sealing: DeploymentKey, now: datetime) -> Rotated:
    """Replace the deployment's signing key with a new one; ``signer`` signs with the new key after."""
    at = now.replace(microsecond=0)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # no owner row moves while every chain records the change
            conn.execute(text("LOCK TABLE owners IN EXCLUSIVE MODE"))
        conn.execute(select(deployment_keys.c.id).where(deployment_keys.c.purpose == PURPOSE).with_for_update())
        signer.refresh(conn)  # another process may have rotated since this one loaded its key
        old = signer
        made = SigningKey.generate()
        new = DeploymentSigner(Ed25519Signer(made), sealing)
        said = keyhistory.statement(bytes.fromhex(old.public_hex), bytes.fromhex(new.public_hex), iso(at))
        conn.execute(insert(key_rotations).values(purpose=PURPOSE, old_public=old.public_hex,
                                                  new_public=new.public_hex, at=at,
                                                  signed_by_old=old.sign(said).hex(),
                                                  signed_by_new=new.sign(said).hex()))
        owner_ids = conn.execute(select(owners.c.id).order_by(owners.c.id)).scalars().all()
        for owner_id in owner_ids:
            auditlog.rotate(conn, old, new, owner_id, at)
        conn.execute(update(deployment_keys).where(deployment_keys.c.purpose == PURPOSE)
                     .values(secret=sealing.seal(bytes(made)), public=new.public_hex, created_at=at))
        old_fingerprint = signature.signer_fingerprint(old)
        new_fingerprint = signature.signer_fingerprint(new)
        told = _tell(conn, old_fingerprint, new_fingerprint, at)
    with engine.connect() as conn:
        signer.refresh(conn)
    return Rotated(old_fingerprint, new_fingerprint, len(owner_ids), told)


def history(conn: Connection) -> list[keyhistory.Rotation]:
    """Every replacement of the signing key, oldest first, as packages carry it."""
    rows = conn.execute(select(key_rotations).where(key_rotations.c.purpose == PURPOSE)
                        .order_by(key_rotations.c.id)).all()
    return [keyhistory.Rotation(bytes.fromhex(r.old_public), bytes.fromhex(r.new_public), iso(r.at),
                                bytes.fromhex(r.signed_by_old), bytes.fromhex(r.signed_by_new)) for r in rows]


def _tell(conn: Connection, old: str, new: str, at: datetime) -> int:
    """An e-mail to every owner and every enrolled holder with the new fingerprint beside the old."""
    told = 0
    key = f"signing-key/{new[:16]}"
    for owner in conn.execute(select(owners.c.id, owners.c.email, owners.c.language, owners.c.timezone)).all():
        told += _send(conn, owner.id, owner.email, owner.language, owner.timezone, key, at, name="",
                      owner_email=owner.email, old=old, new=new)
    holders = conn.execute(select(people.c.owner_id, people.c.email, people.c.language, people.c.display_name,
                                  owners.c.email.label("owner_email"))
                           .join(owners, owners.c.id == people.c.owner_id)
                           .where(people.c.removed_at.is_(None), people.c.recipient.is_not(None),
                                  people.c.email.is_not(None))).all()
    for holder in holders:
        face = owner_face(conn, holder.owner_id)
        told += _send(conn, holder.owner_id, holder.email, holder.language, face.timezone, key, at,
                      name=holder.display_name, owner_email=face.name, old=old, new=new)
    return told


def _send(conn: Connection, owner_id: int, recipient: str, language: str, zone: str, key: str, at: datetime,
          **context: object) -> int:
    language = i18n.supported(language)
    rendered = render_email("signing_key_changed", language=language, when=i18n.moment(at, language, zone),
                            **context)
    return int(enqueue(conn, owner_id=owner_id, key=key, channel=Channel.EMAIL, recipient=recipient,
                       purpose="signing-key", subject=rendered.subject, body_text=rendered.text,
                       body_html=rendered.html, now=at))
