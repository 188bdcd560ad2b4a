"""New download links after a release, without the owner: a holder whose link is spent or has expired
answers a sealed key check, and new links go to the address they enrolled with.

Who is asking is read from the spent link itself: its id still names its package (``package#<id>``),
and so the release and the holder, whatever the link's state (``links.made_for``). The link alone
proves nothing -- an old e-mail may be in anyone's hands -- so it only lets one *ask*: Baton seals a
fresh code to the holder's enrolled key (the server cannot open it), and only the right code makes new
links, which are e-mailed to the holder's enrolled address and never shown on a page or returned. A
thief with the old e-mail but not the key gets a sealed text; one with the key but not the mailbox
gets a link sent to somebody else.

Bounds: a key check is answered once (a conditional update), within ``reissue_check_hours``, with at
most five wrong codes; a holder may start ``reissue_checks_per_day`` key checks in 24 hours, and an
open one is shown again rather than a new one made. Each step is in the owner's audit chain, without
the code or a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select

from baton.errors import BadRequest, Conflict, LinkError, NotFound
from baton.services import holderview
from baton.services.vault import VaultService
from baton.store import auditlog, links
from baton.store.engine import insert_id, reading
from baton.store.links import Purpose
from baton.store.tables import compartments, key_checks, packages, people, releases, sealed_shares
from handover import holdertexts
from handover.i18n import supported
from switch import iso
from vault import challenge
from vault.keys import parse_recipient

REASON = "reissue"  # key_checks.reason of the checks started here
MAX_WRONG = 5  # as for every key check (``VaultService._open_check``)


@dataclass(frozen=True, slots=True)
class Holder:
    """The holder a spent download link was made for, and their packages of that release."""

    owner_id: int
    release_id: int
    person: Row[Any]
    packages: tuple[tuple[int, str], ...]  # (package id, compartment), by compartment


def masked(email: str) -> str:
    """An address as a page may show it to whoever holds the link: enough to recognise, not to learn."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}…@{domain}"


@dataclass
class Reissue:
    vault: VaultService

    def holder(self, conn: Connection, token: str, now: datetime) -> Holder:
        """The holder behind a spent or expired download link; refused for any other link, or when no new link
        could be sent (no release, the holder removed, no key or no address on record)."""
        made = links.made_for(conn, self.vault.key, token, Purpose.DOWNLOAD)
        if made is None or made[1] is None:
            raise LinkError("unknown", "This link is not known. Check that it was copied whole.")
        try:
            links.resolve(conn, self.vault.key, token, Purpose.DOWNLOAD, now)
        except LinkError as exc:
            if exc.why not in ("used", "expired"):
                raise
        else:
            raise Conflict("This download link still works: open it again and press the download button.")
        found = conn.execute(select(packages.c.release_id, packages.c.person_id).join(
            releases, releases.c.id == packages.c.release_id).where(
            packages.c.id == int(made[1].removeprefix("package#")), releases.c.owner_id == made[0],
            releases.c.drill.is_(False))).first()
        if found is None:
            raise Conflict("There is no release behind this link any more, so no new link can be sent.")
        person = conn.execute(select(people).where(people.c.id == found.person_id)).one()
        if person.removed_at is not None:
            raise Conflict("The owner removed you as a holder, so no new link can be sent.")
        if person.recipient is None:
            raise Conflict("Baton has no key of yours on record, so it cannot check that it is you: no new link "
                           "can be sent this way.")
        if not person.email:
            raise Conflict("Baton has no e-mail address of yours to send a new link to.")
        held = conn.execute(
            select(packages.c.id, compartments.c.name, sealed_shares.c.person_id.label("share"))
            .join(compartments, compartments.c.id == packages.c.compartment_id)
            .outerjoin(sealed_shares, and_(sealed_shares.c.split_id == packages.c.split_id,
                                           sealed_shares.c.person_id == packages.c.person_id))
            .where(packages.c.release_id == found.release_id, packages.c.person_id == person.id)
            .order_by(compartments.c.name)).all()
        usable = tuple((int(p.id), str(p.name)) for p in held if p.share is not None)
        if not usable:  # the owner split again after the release: the packages could not be built
            raise Conflict(f"package {held[0].id}: the share it names was replaced by a newer split")
        return Holder(made[0], int(found.release_id), person, usable)

    def _view(self, conn: Connection, holder: Holder) -> dict[str, Any]:
        owner = holderview.owner_face(conn, holder.owner_id)
        person = holder.person
        return {"name": person.display_name, "language": supported(person.language), "owner_email": owner.name,
                "email": masked(person.email), "compartments": [name for _id, name in holder.packages],
                "hours": self.vault.settings.reissue_check_hours, "uses": self.vault.settings.download_uses}

    def ask(self, token: str) -> dict[str, Any]:
        """What the page that offers a new link shows (a GET: nothing changes)."""
        with reading(self.vault.engine) as conn:
            return self._view(conn, self.holder(conn, token, self.vault.clock.now()))

    def start(self, token: str) -> int:
        """The key check to answer for a new link: the holder's open one, else a new one sealed to their key."""
        now = self.vault.clock.now()
        settings = self.vault.settings
        with self.vault.engine.begin() as conn:
            holder = self.holder(conn, token, now)
            person = holder.person
            mine = and_(key_checks.c.person_id == person.id, key_checks.c.reason == REASON)
            still_open = conn.execute(select(key_checks.c.id).where(
                mine, key_checks.c.proven_at.is_(None), key_checks.c.expires_at > now,
                key_checks.c.failures < MAX_WRONG, key_checks.c.recipient == person.recipient)
                .order_by(key_checks.c.id.desc()).limit(1)).scalar()
            if still_open is not None:
                return int(still_open)
            count = conn.execute(select(func.count()).where(
                mine, key_checks.c.created_at > now - timedelta(days=1))).scalar_one()
            if count >= settings.reissue_checks_per_day:
                raise Conflict(f"{count} key checks were started for you in the last 24 hours, as many as "
                               "allowed: try again in a day.")
            made = challenge.new_challenge(parse_recipient(person.recipient), person.display_name, armored=True,
                                           wording=holdertexts.keycheck_wording(person.language))
            check = insert_id(conn, insert(key_checks).values(
                person_id=person.id, recipient=person.recipient, sealed=made.sealed, code_hash=made.code_hash,
                reason=REASON, created_at=now, expires_at=now + timedelta(hours=settings.reissue_check_hours)))
            auditlog.append(conn, self.vault.signer, holder.owner_id, now, "vault.reissue_started",
                            {"holder": person.name, "release": holder.release_id, "check": check})
            return check

    def _open(self, conn: Connection, holder: Holder, check: str, now: datetime) -> Row[Any]:
        row = conn.execute(select(key_checks).where(
            key_checks.c.id == (int(check) if check.isdigit() and len(check) < 10 else 0),
            key_checks.c.person_id == holder.person.id, key_checks.c.reason == REASON)).first()
        if row is None:
            raise NotFound("This key check is not known here: start again from the page of your download link.")
        if row.proven_at is not None:
            raise Conflict(f"This key check was already answered, at {iso(row.proven_at)}, and a new link was "
                           "sent then. Start a new key check if you need another.")
        if row.expires_at <= now:
            raise Conflict(f"This key check expired at {iso(row.expires_at)}: start a new one.")
        if row.recipient != holder.person.recipient or row.failures >= MAX_WRONG:
            raise Conflict("This key check cannot be answered any more (too many wrong codes, or a new key): "
                           "start a new one.")
        return row

    def challenge(self, token: str, check: str) -> tuple[dict[str, Any], bytes]:
        """The page of an open key check, and its sealed code (age, armored)."""
        now = self.vault.clock.now()
        with reading(self.vault.engine) as conn:
            holder = self.holder(conn, token, now)
            row = self._open(conn, holder, check, now)
            return {**self._view(conn, holder), "check": row.id, "sealed": bytes(row.sealed).decode()}, \
                bytes(row.sealed)

    def answer(self, token: str, check: str, code: str) -> dict[str, Any]:
        """The right code: new links for the holder's packages of that release, e-mailed to them; a wrong
        one is counted (and audited) and refused with ``BadRequest``."""
        now = self.vault.clock.now()
        with self.vault.engine.begin() as conn:
            holder = self.holder(conn, token, now)
            row = self._open(conn, holder, check, now)
            verdict = self.vault.answer_check(conn, holder.owner_id, holder.person, row, code, now)
            if not isinstance(verdict, str):
                verdict = {**self._view(conn, holder), **self._send(conn, holder, row.id, now)}
        if isinstance(verdict, str):  # raised after the commit, so the wrong code stays counted
            raise BadRequest(verdict)
        return verdict

    def _send(self, conn: Connection, holder: Holder, check: int, now: datetime) -> dict[str, Any]:
        settings, person = self.vault.settings, holder.person
        expires = now + timedelta(days=settings.package_link_days)
        made = []
        for package_id, compartment in holder.packages:
            link_id = links.create(conn, holder.owner_id, Purpose.DOWNLOAD, now, expires_at=expires,
                                   who=f"package#{package_id}", email=person.email)
            made.append({"compartment": compartment,
                         "url": links.placeholder(settings.base_url, Purpose.DOWNLOAD, link_id)})
        self.vault.email_person(conn, holder.owner_id, person, f"reissue/{check}", "reissue", "holder_reissue", now,
                                packages=made, uses=settings.download_uses, expires=expires)
        auditlog.append(conn, self.vault.signer, holder.owner_id, now, "vault.download_reissued",
                        {"holder": person.name, "release": holder.release_id, "check": check,
                         "packages": [f"{compartment}/{person.name}" for _id, compartment in holder.packages]})
        return {"expires": expires}
