"""A compartment's collector (say, the executor): the one person the holders may forward their shares to.

The owner may name one person with an age key as a compartment's collector. After a release, each
holder's download page can open the holder's share in their own browser, with their own key, and
seal it there to the collector's public key; the server stores and relays only that ciphertext
(``forwarded_shares``). The collector's page (a link mailed at the release) lists what arrived, and
the collector's browser opens the shares with the collector's key and combines them. So the server
never holds a share or a key in the clear: before, it holds shares sealed to holders; after, shares
sealed to the collector. Forwarding is a choice of each holder; the terminal path stays as it was.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from baton.errors import BadRequest, Conflict, NotFound
from baton.jobs.outbox import Channel, enqueue
from baton.services.messages import render_email
from baton.services.vault import VaultService
from baton.settings import Settings
from baton.store import auditlog, links
from baton.store.engine import reading
from baton.store.links import Purpose
from baton.store.tables import compartments, forwarded_shares, owners, packages, people, releases, sealed_shares, splits
from switch import iso
from vault.shares import policy_from_dict

MAX_SEALED = 16 * 1024  # an armored age file of one share file is well under 1 KiB
_BEGIN, _END = "-----BEGIN AGE ENCRYPTED FILE-----", "-----END AGE ENCRYPTED FILE-----"


def set_collector(vault: VaultService, owner_id: int, compartment: str, name: str | None) -> dict[str, Any]:
    """Name ``name`` the compartment's collector (None: nobody); they need an age key, which browsers seal to."""
    now = vault.clock.now()
    with vault.engine.begin() as conn:
        row = vault._compartment(conn, owner_id, compartment, lock=True)
        person_id = None
        if name:
            person = vault._person(conn, owner_id, name)
            if person.role == "verifier":
                raise BadRequest(f"{name} is a verifier: a collector needs a key to receive the shares with")
            if person.recipient is None:
                raise Conflict(f"{name} has no key yet: send the enrolment link (or make a key card) first")
            if person.recipient_kind != "age":
                raise BadRequest(f"{name}'s key is an SSH key: a collector needs an age key (age1…), because the "
                                 "holders' browsers seal the shares to it")
            person_id = person.id
        conn.execute(update(compartments).where(compartments.c.id == row.id).values(collector_id=person_id))
        auditlog.append(conn, vault.signer, owner_id, now, "vault.collector",
                        {"compartment": compartment, "collector": name or None})
    return {"compartment": compartment, "collector": name or None}


def collector_name(conn: Connection, collector_id: int | None) -> str | None:
    if collector_id is None:
        return None
    name: str | None = conn.execute(select(people.c.name).where(people.c.id == collector_id,
                                                                people.c.removed_at.is_(None))).scalar()
    return name


def on_release(conn: Connection, settings: Settings, owner_id: int, owner_email: str, release_id: int,
               made: list[dict[str, Any]], expires: datetime, now: datetime, fingerprint: str) -> None:
    """At a release: each released compartment's collector gets a link to their page, by e-mail."""
    names = sorted({item["compartment"] for item in made})
    rows = conn.execute(select(compartments.c.id, compartments.c.name, compartments.c.collector_id)
                        .where(compartments.c.owner_id == owner_id, compartments.c.name.in_(names),
                               compartments.c.collector_id.is_not(None))).all()
    for row in rows:
        person = _collector(conn, row.collector_id)
        if person is None or not person.email:
            continue
        link_id = links.create(conn, owner_id, Purpose.COLLECT, now, expires_at=expires,
                               who=f"{person.name}#collect-{release_id}-{row.id}", email=person.email)
        rendered = render_email("collector_release", language=person.language, owner_email=owner_email,
                                name=person.display_name, compartment=row.name, expires=iso(expires),
                                collect_url=links.placeholder(settings.base_url, Purpose.COLLECT, link_id),
                                fingerprint=fingerprint)
        enqueue(conn, owner_id=owner_id, key=f"collect/{release_id}/{row.id}", channel=Channel.EMAIL,
                recipient=person.email, purpose="collect", subject=rendered.subject, body_text=rendered.text,
                body_html=rendered.html, now=now)


def _download(conn: Connection, vault: VaultService, token: str, now: datetime) -> tuple[links.Link, Any]:
    link = links.resolve(conn, vault.key, token, Purpose.DOWNLOAD, now)
    row = conn.execute(
        select(packages.c.id, packages.c.person_id, packages.c.compartment_id, packages.c.release_id,
               compartments.c.name.label("compartment"), compartments.c.collector_id, sealed_shares.c.sealed,
               people.c.name.label("holder"))
        .join(compartments, compartments.c.id == packages.c.compartment_id)
        .join(people, people.c.id == packages.c.person_id)
        .outerjoin(sealed_shares, (sealed_shares.c.split_id == packages.c.split_id)
                   & (sealed_shares.c.person_id == packages.c.person_id))
        .where(packages.c.id == int(str(link.who).removeprefix("package#")))).one()
    return link, row


def _collector(conn: Connection, collector_id: int | None) -> Any:
    if collector_id is None:
        return None
    return conn.execute(select(people).where(people.c.id == collector_id, people.c.removed_at.is_(None),
                                             people.c.recipient_kind == "age")).first()


def forwarding(vault: VaultService, token: str) -> dict[str, Any] | None:
    """What a holder's download page needs to forward their share: the collector, their key, the sealed share."""
    with reading(vault.engine) as conn:
        _link, row = _download(conn, vault, token, vault.clock.now())
        collector = _collector(conn, row.collector_id)
        if collector is None or row.sealed is None:
            return None
        done = conn.execute(select(forwarded_shares.c.created_at).where(
            forwarded_shares.c.package_id == row.id)).scalar()
    return {"collector": collector.display_name, "recipient": collector.recipient,
            "share": base64.b64encode(bytes(row.sealed)).decode(), "forwarded_at": iso(done) if done else None}


def ciphertext(armored: str) -> bytes:
    """An armored age file, as bytes; anything else (a share in the clear above all) is refused."""
    text = armored.strip()
    if len(text) > MAX_SEALED:
        raise BadRequest(f"the sealed share: expected at most {MAX_SEALED} characters, got {len(text)}")
    if not (text.startswith(_BEGIN) and text.endswith(_END)):
        raise BadRequest("the sealed share: expected an age file sealed in your browser "
                         f"({_BEGIN}…), got something else; nothing was sent")
    try:
        data = base64.b64decode("".join(text[len(_BEGIN):-len(_END)].split()), validate=True)
    except (ValueError, binascii.Error):
        raise BadRequest("the sealed share: its armor is not base64; nothing was sent") from None
    if not data.startswith(b"age-encryption.org/v1\n-> X25519 ") or b"\n--- " not in data:
        raise BadRequest("the sealed share: expected an age file sealed to the collector's key, got another "
                         "kind of file; nothing was sent")
    return data


def forward(vault: VaultService, token: str, armored: str) -> dict[str, Any]:
    """Store a holder's share, sealed in their browser to the collector; once per package, audited."""
    sealed = ciphertext(armored)
    now = vault.clock.now()
    with vault.engine.begin() as conn:
        link, row = _download(conn, vault, token, now)
        collector = _collector(conn, row.collector_id)
        if collector is None:
            raise Conflict("this part of the vault has no collector to send a share to")
        done = conn.execute(select(forwarded_shares.c.created_at).where(
            forwarded_shares.c.package_id == row.id)).scalar()
        if done is not None:
            raise Conflict(f"your share was already sent to {collector.display_name}, at {iso(done)}")
        conn.execute(insert(forwarded_shares).values(package_id=row.id, collector_id=collector.id,
                                                     recipient=collector.recipient, sealed=sealed, created_at=now))
        auditlog.append(conn, vault.signer, link.owner_id, now, "vault.share_forwarded",
                        {"package": row.id, "compartment": row.compartment, "holder": row.holder,
                         "collector": collector.name})
        language = conn.execute(select(people.c.language).where(people.c.id == row.person_id)).scalar_one()
    return {"collector": collector.display_name, "language": language}


def _collect(conn: Connection, vault: VaultService, token: str, now: datetime) -> tuple[Any, int, int]:
    link = links.resolve(conn, vault.key, token, Purpose.COLLECT, now)
    name, _, where = str(link.who).partition("#collect-")
    release_id, _, compartment_id = where.partition("-")
    person = conn.execute(select(people).where(people.c.owner_id == link.owner_id, people.c.name == name,
                                               people.c.removed_at.is_(None))).first()
    if person is None:
        raise NotFound("this collector was removed by the owner")
    return person, int(release_id), int(compartment_id)


def collection(vault: VaultService, token: str) -> dict[str, Any]:
    """The collector's page: the shares forwarded so far (ciphertext), the policy, the protected release key."""
    with reading(vault.engine) as conn:
        person, release_id, compartment_id = _collect(conn, vault, token, vault.clock.now())
        comp = conn.execute(select(compartments.c.name, compartments.c.owner_id)
                            .where(compartments.c.id == compartment_id)).one()
        split = conn.execute(select(splits.c.policy, splits.c.protected_release_key)
                             .join(packages, packages.c.split_id == splits.c.id)
                             .where(packages.c.release_id == release_id,
                                    packages.c.compartment_id == compartment_id).limit(1)).one()
        shares = conn.execute(
            select(people.c.display_name, forwarded_shares.c.sealed, forwarded_shares.c.created_at)
            .join(packages, packages.c.id == forwarded_shares.c.package_id)
            .join(people, people.c.id == packages.c.person_id)
            .where(packages.c.release_id == release_id, packages.c.compartment_id == compartment_id,
                   forwarded_shares.c.collector_id == person.id)
            .order_by(forwarded_shares.c.created_at, forwarded_shares.c.id)).all()
        owner_email = conn.execute(select(owners.c.email).where(owners.c.id == comp.owner_id)).scalar_one()
        drill = conn.execute(select(releases.c.drill).where(releases.c.id == release_id)).scalar_one()
    policy = policy_from_dict(split.policy)
    return {"name": person.display_name, "language": person.language, "compartment": comp.name,
            "owner_email": owner_email, "policy": policy.describe(), "drill": drill,
            "protected": base64.b64encode(bytes(split.protected_release_key)).decode(),
            "shares": [{"holder": s.display_name, "at": iso(s.created_at),
                        "sealed": base64.b64encode(bytes(s.sealed)).decode()} for s in shares]}


def compartment_file(vault: VaultService, token: str) -> tuple[Path, str]:
    """The released compartment's age file (ciphertext, as in every package) for the collector's browser."""
    with reading(vault.engine) as conn:
        _person, release_id, compartment_id = _collect(conn, vault, token, vault.clock.now())
        row = conn.execute(select(packages.c.blob_sha256, compartments.c.name)
                           .join(compartments, compartments.c.id == packages.c.compartment_id)
                           .where(packages.c.release_id == release_id,
                                  packages.c.compartment_id == compartment_id).limit(1)).one()
    return vault.store.path(row.blob_sha256), f"compartment-{row.name}.age"
