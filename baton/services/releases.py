"""Releases: the ``release`` stage action, drills, building the packages, and holders' downloads.

The stage action runs inside the transaction that records the stage: it writes the
release, one package row per holder and compartment, and each holder's e-mail with a
one-time download link. The packages themselves are built after the commit (by the
worker, or on first download), from what the rows name, so a crash only delays them.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from baton.errors import Conflict, NotFound
from baton.jobs.outbox import Channel, enqueue
from baton.services import actions, collector, holderview, signingkeys
from baton.services.messages import render_email, render_file
from baton.services.offlinepage import render_offline_page
from baton.services.vault import VaultService
from baton.settings import Settings
from baton.store import auditlog, links
from baton.store.blobs import BlobStore
from baton.store.engine import insert_id, reading
from baton.store.keyfile import DeploymentKey
from baton.store.links import Purpose
from baton.store.signing import DeploymentSigner
from baton.store.tables import audit_entries, compartments, owners, packages, people, releases, sealed_shares, splits
from handover import holdertexts, i18n
from switch import iso
from vault import keyhistory, signature
from vault import package as pkg
from vault.shares import policy_from_dict


def vault_parts(service: Any) -> tuple[VaultService, PackageBuilder]:
    """The vault service and package builder beside a switch service (same database, clock, key)."""
    store = BlobStore(service.settings.data_dir / "blobs")
    return (VaultService(service.engine, service.settings, service.clock, service.signer, store, service.key),
            PackageBuilder(service.engine, service.settings, service.signer, store, service.key))


def create_release(conn: Connection, settings: Settings, owner_id: int, *, drill: bool, stage: str, cycle: int,
                   reason: str, audience: tuple[str, ...], now: datetime,
                   cause: dict[str, Any] | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Write a release and its package rows; returns the release id and, per package, who gets it.
    ``cause`` is the reason as data (``switch.machine._fire``): holders read it in their language."""
    head = conn.execute(select(owners.c.audit_seq).where(owners.c.id == owner_id)).scalar_one()
    release_id = insert_id(conn, insert(releases).values(
        owner_id=owner_id, drill=drill, stage=stage, cycle=cycle, reason=reason, audit_seq=head,
        cause=cause if cause is not None else ({"cause": "drill"} if drill else None), created_at=now))
    rows = conn.execute(
        select(people.c.id.label("person_id"), people.c.name.label("holder"), people.c.email, people.c.language,
               people.c.display_name, compartments.c.id.label("compartment_id"),
               compartments.c.name.label("compartment"), compartments.c.blob_sha256, compartments.c.split_id,
               splits.c.policy)
        .join(sealed_shares, sealed_shares.c.person_id == people.c.id)
        .join(compartments, compartments.c.split_id == sealed_shares.c.split_id)
        .join(splits, splits.c.id == compartments.c.split_id)
        .where(people.c.owner_id == owner_id, people.c.removed_at.is_(None),
               compartments.c.blob_sha256.is_not(None))
        .order_by(people.c.name, compartments.c.name)).all()
    made = []
    for row in rows:
        if audience and row.holder not in audience and row.email not in audience:
            continue
        folder = (f"{owner_id}/{'drill-' if drill else ''}{release_id}/"
                  f"{'DRILL-' if drill else ''}baton-{row.compartment}-{row.holder}")
        package_id = insert_id(conn, insert(packages).values(
            release_id=release_id, person_id=row.person_id, compartment_id=row.compartment_id,
            split_id=row.split_id, blob_sha256=row.blob_sha256, folder=folder))
        made.append({"package": package_id, "holder": row.holder, "compartment": row.compartment,
                     "email": row.email, "language": row.language, "display_name": row.display_name,
                     "policy": policy_from_dict(row.policy).to_dict()})
    return int(release_id), made


@actions.register("release")
def release_stage(run: actions.StageRun) -> None:
    """Release the vault to the stage's audience (every holder when the audience is empty)."""
    conn, settings = run.notifier.conn, run.notifier.settings
    audience = tuple(a for a in run.stage.audience if a != "owner")
    release_id, made = create_release(conn, settings, run.owner_id, drill=False, stage=run.stage.name,
                                      cycle=run.cycle, reason=run.fired_reason, audience=audience, now=run.now,
                                      cause=run.fired_cause)
    owner = holderview.owner_face(conn, run.owner_id)
    everyone = holderview.holders_of(conn, run.owner_id)
    by_holder: dict[str, list[dict[str, Any]]] = {}
    for item in made:
        by_holder.setdefault(item["holder"], []).append(item)
    expires = run.now + timedelta(days=settings.package_link_days)
    run.notifier.signer.refresh(conn)  # the fingerprint of the key that will sign the packages
    for holder, items in by_holder.items():
        first = items[0]
        if not first["email"]:
            continue
        urls = []
        for item in items:
            link_id = links.create(conn, run.owner_id, Purpose.DOWNLOAD, run.now, expires_at=expires,
                                   who=f"package#{item['package']}", email=item["email"])
            urls.append({"compartment": item["compartment"],
                         "url": links.placeholder(settings.base_url, Purpose.DOWNLOAD, link_id),
                         **holderview.together(item["policy"], everyone, holder, first["language"])})
        language = i18n.supported(first["language"])
        rendered = render_email("holder_release", language=language, owner_name=owner.name,
                                name=first["display_name"],
                                reason=holdertexts.reason(run.fired_cause, language, owner.timezone),
                                packages=urls, uses=settings.download_uses, successor=owner.successor,
                                expires=i18n.moment(expires, language, owner.timezone),
                                fingerprint=signature.signer_fingerprint(run.notifier.signer))
        enqueue(conn, owner_id=run.owner_id, key=f"c{run.cycle}/release/{release_id}/{holder}", channel=Channel.EMAIL,
                recipient=first["email"], purpose="release", subject=rendered.subject, body_text=rendered.text,
                body_html=rendered.html, now=run.now)
    collector.on_release(conn, settings, run.owner_id, run.owner_email, release_id, made, expires, run.now,
                         signature.signer_fingerprint(run.notifier.signer))
    auditlog.append(conn, run.notifier.signer, run.owner_id, run.now, "vault.released",
                    {"release": release_id, "stage": run.stage.name,
                     "packages": [f"{m['compartment']}/{m['holder']}" for m in made]})


@dataclass
class PackageBuilder:
    """Builds packages from their rows; idempotent, so the worker and a download may both try."""

    engine: Engine
    settings: Settings
    signer: DeploymentSigner
    store: BlobStore
    key: DeploymentKey

    @property
    def root(self) -> Path:
        return self.settings.data_dir / "packages"

    def pending(self, limit: int = 20) -> list[int]:
        with reading(self.engine) as conn:
            return [r.id for r in conn.execute(select(packages.c.id).where(packages.c.built_at.is_(None))
                                               .order_by(packages.c.id).limit(limit))]

    def build_all(self, package_ids: list[int], now: datetime) -> list[Path | Exception]:
        """Build several packages at once (copying compartments into zips is kernel work, so threads
        overlap); each result is the zip or the error that package met, so one failure stops no other."""
        def one(package_id: int) -> Path | Exception:
            try:
                return self.build(package_id, now)
            except Exception as exc:  # noqa: BLE001 - returned to the caller, who reports or retries it
                return exc
        if len(package_ids) < 2:
            return [one(p) for p in package_ids]
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1, len(package_ids))) as pool:
            return list(pool.map(one, package_ids))

    def build(self, package_id: int, now: datetime) -> Path:
        """The package's zip, built if it is not there yet."""
        with reading(self.engine) as conn:
            row = conn.execute(select(packages, releases.c.owner_id, releases.c.drill, releases.c.reason,
                                      releases.c.cause,
                                      releases.c.audit_seq, releases.c.created_at.label("released_at"),
                                      releases.c.stage)
                               .join(releases, releases.c.id == packages.c.release_id)
                               .where(packages.c.id == package_id)).first()
            if row is None:
                raise NotFound(f"no package {package_id}")
            folder: Path = self.root / row.folder
            archive = folder.with_name(folder.name + ".zip")
            if row.built_at is not None and archive.exists():
                return archive
            person = conn.execute(select(people).where(people.c.id == row.person_id)).one()
            comp = conn.execute(select(compartments.c.name).where(compartments.c.id == row.compartment_id)).one()
            split = conn.execute(select(splits).where(splits.c.id == row.split_id)).one()
            share = conn.execute(select(sealed_shares.c.sealed).where(
                sealed_shares.c.split_id == row.split_id, sealed_shares.c.person_id == row.person_id)).first()
            if share is None:
                raise Conflict(f"package {package_id}: the share it names was replaced by a newer split")
            owner = holderview.owner_face(conn, row.owner_id)
            everyone = holderview.holders_of(conn, row.owner_id)
            excerpt = audit_excerpt(conn, row.owner_id, row.audit_seq)
            self.signer.refresh(conn)  # a key replaced by another process since this one loaded it
            key_history = signingkeys.history(conn)
        policy = policy_from_dict(split.policy)
        public = bytes.fromhex(self.signer.public_hex)
        names = {"share": f"share-{person.name}.age", "compartment": f"compartment-{comp.name}.age",
                 "release-key": f"release-key-{comp.name}.age"}
        language = i18n.supported(person.language)
        policy_data = policy.to_dict()
        context = {"owner_name": owner.name, "holder": person.display_name,
                   "holder_id": person.name, "compartment": comp.name,
                   "policy": holdertexts.rule(policy_data, language), "drill": row.drill,
                   "reason": holdertexts.reason(row.cause, language, owner.timezone),
                   "released_at": i18n.moment(row.released_at, language, owner.timezone), "files": names,
                   "together": holderview.together(policy_data, everyone, person.name, language),
                   "successor": owner.successor,
                   "fingerprint": signature.fingerprint(public), "fingerprint_command": signature.FINGERPRINT_COMMAND,
                   "key_changed": i18n.moment(key_history[-1].at, language, owner.timezone)
                   if key_history else None,
                   "group_threshold": policy.group_threshold,
                   "groups": [{"name": g.name, "threshold": g.threshold, "holders": list(g.holders)}
                              for g in policy.groups]}
        files = [
            pkg.PackageFile(names["share"], "share", bytes(share.sealed)),
            pkg.PackageFile(names["compartment"], "compartment", source=self.store.path(row.blob_sha256),
                            sha256=row.blob_sha256, crc32=self.store.crc32(row.blob_sha256)),
            pkg.PackageFile(names["release-key"], "release-key", bytes(split.protected_release_key)),
            pkg.PackageFile("holders.json", "holders", (json.dumps(
                holderview.holders_document(policy_data, everyone, person.name, owner), indent=2,
                ensure_ascii=False) + "\n").encode()),
            pkg.PackageFile("audit.json", "audit", (json.dumps(excerpt, indent=2, ensure_ascii=False) + "\n").encode()),
            *([pkg.PackageFile(keyhistory.FILE, "key-history",
                               (json.dumps(keyhistory.document(key_history), indent=2) + "\n").encode())]
              if key_history else []),
            pkg.PackageFile("RECOVER.md", "instructions",
                            render_file("package/RECOVER.md.j2", person.language, **context).encode()),
            pkg.PackageFile("RECOVER.html", "instructions",
                            render_file("package/RECOVER.html.j2", person.language, **context).encode()),
            pkg.PackageFile("open.html", "instructions", render_offline_page(person.language)),
        ]
        manifest = {"drill": bool(row.drill), "owner": owner.email, "compartment": comp.name,
                    "holder": {"name": person.name, "display_name": person.display_name,
                               "language": person.language},
                    "split": split.slip39_id, "policy": policy.to_dict(), "threshold": policy.describe(),
                    "released_at": iso(row.released_at), "reason": row.reason, "stage": row.stage}
        zipped = pkg.build(folder, manifest, files, self.signer)
        with self.engine.begin() as conn:
            conn.execute(update(packages).where(packages.c.id == package_id, packages.c.built_at.is_(None))
                         .values(built_at=now))
        return zipped


def audit_excerpt(conn: Connection, owner_id: int, up_to: int) -> dict[str, Any]:
    """The signed entries since the last check-in up to ``up_to``: why the switch fired."""
    start = conn.execute(select(audit_entries.c.seq).where(
        audit_entries.c.owner_id == owner_id, audit_entries.c.seq <= up_to,
        audit_entries.c.kind.in_(("switch.checkin", "owner.created")))
        .order_by(audit_entries.c.seq.desc()).limit(1)).scalar() or 1
    rows = conn.execute(select(audit_entries).where(
        audit_entries.c.owner_id == owner_id, audit_entries.c.seq >= start, audit_entries.c.seq <= up_to)
        .order_by(audit_entries.c.seq)).all()
    return {"about": "Entries of the owner's audit chain, from the last check-in to the release. Each entry's "
                     "hash covers the previous hash; each signature (Ed25519, the key in signing-key.pem) "
                     "covers the entry's hash.",
            "owner": str(owner_id),
            "entries": [{"seq": r.seq, "at": iso(r.at), "kind": r.kind, "data": r.data, "prev_hash": r.prev_hash,
                         "hash": r.hash, "signature": r.signature} for r in rows]}


def _package_view(conn: Connection, package_id: int) -> dict[str, Any]:
    row = conn.execute(select(packages.c.id, people.c.display_name, people.c.language, compartments.c.name,
                              releases.c.drill, releases.c.owner_id, releases.c.cause, splits.c.policy)
                       .join(people, people.c.id == packages.c.person_id)
                       .join(compartments, compartments.c.id == packages.c.compartment_id)
                       .join(releases, releases.c.id == packages.c.release_id)
                       .join(splits, splits.c.id == packages.c.split_id)
                       .where(packages.c.id == package_id)).one()
    owner = holderview.owner_face(conn, row.owner_id)
    policy = policy_from_dict(row.policy)
    language = i18n.supported(row.language)
    return {"name": row.display_name, "language": language, "compartment": row.name, "drill": row.drill,
            "owner_email": owner.name,  # how the page names the owner: the profile's name, else the e-mail
            "reason": holdertexts.reason(row.cause, language, owner.timezone), "timezone": owner.timezone,
            "policy": policy.describe(), "group_threshold": policy.group_threshold,
            "groups": [{"name": g.name, "threshold": g.threshold, "holders": list(g.holders)} for g in policy.groups]}


def show_download(builder: PackageBuilder, token: str, now: datetime) -> dict[str, Any]:
    with reading(builder.engine) as conn:
        link = links.resolve(conn, builder.key, token, Purpose.DOWNLOAD, now)
        view = _package_view(conn, int(str(link.who).removeprefix("package#")))
    return {**view, "uses": builder.settings.download_uses,
            "expires": i18n.moment(link.expires_at, view["language"], view["timezone"])}


def take_download(builder: PackageBuilder, token: str, now: datetime) -> tuple[Path, str]:
    """The package's zip and a file name; the link is spent and the download audited."""
    with reading(builder.engine) as conn:
        link = links.resolve(conn, builder.key, token, Purpose.DOWNLOAD, now)
    package_id = int(str(link.who).removeprefix("package#"))
    archive = builder.build(package_id, now)  # built before the link is spent: a failure keeps the link
    with builder.engine.begin() as conn:
        link = links.resolve(conn, builder.key, token, Purpose.DOWNLOAD, now)
        links.consume(conn, link, now, uses=builder.settings.download_uses)
        conn.execute(update(packages).where(packages.c.id == package_id).values(downloaded_at=now))
        view = _package_view(conn, package_id)
        auditlog.append(conn, builder.signer, link.owner_id, now, "vault.downloaded",
                        {"package": package_id, "compartment": view["compartment"], "holder": view["name"]})
    return archive, archive.name


def drill_package(builder: PackageBuilder, owner_id: int, release_id: int, package_id: int, now: datetime) -> Path:
    """A drill package for its owner (never a real release's: those go to holders only)."""
    with reading(builder.engine) as conn:
        found = conn.execute(select(packages.c.id).join(releases, releases.c.id == packages.c.release_id).where(
            packages.c.id == package_id, releases.c.id == release_id, releases.c.owner_id == owner_id,
            releases.c.drill.is_(True))).first()
    if found is None:
        raise NotFound(f"no drill package {package_id} in drill {release_id}")
    built: Path = builder.build(package_id, now)
    return built
