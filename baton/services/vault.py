"""The vault on the server: compartments as ciphertext, people and their keys, splits, key checks.

The server only ever holds ciphertext and public keys: compartment files (encrypted to
the owner and the release key), the release key encrypted to the owner and under the
split master secret, and each holder's share sealed to the holder. Every change is one
transaction with its audit entry; uploads are conditional on the version read.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from baton.errors import BadRequest, Conflict, NotFound
from baton.jobs.outbox import Channel, enqueue
from baton.services import holderview
from baton.services.messages import render_email
from baton.settings import Settings
from baton.store import auditlog, links
from baton.store.blobs import BlobStore
from baton.store.engine import insert_id, reading
from baton.store.keyfile import DeploymentKey
from baton.store.links import Purpose
from baton.store.signing import DeploymentSigner
from baton.store.tables import compartments, key_checks, owners, packages, people, sealed_shares, splits, vault_keys
from baton.timeutil import Clock
from handover import holdertexts, i18n
from switch import iso
from vault import challenge, signature
from vault.entries import check_id
from vault.errors import EntryError, RecipientError
from vault.keys import parse_recipient
from vault.shares import policy_from_dict

ROLES = ("heir", "staff", "notary", "verifier")
LANGUAGES = ("en", "id", "pt", "it", "pt-BR", "pt-PT")  # handover.i18n.LANGUAGES: pt is pt-BR


@dataclass
class VaultService:
    engine: Any
    settings: Settings
    clock: Clock
    signer: DeploymentSigner
    store: BlobStore
    key: DeploymentKey

    # -- helpers ------------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        """The deployment key's fingerprint: every holder e-mail, key card and package instruction shows it."""
        return signature.signer_fingerprint(self.signer)

    def _audit(self, conn: Connection, owner_id: int, now: datetime, kind: str, data: dict[str, Any]) -> None:
        auditlog.append(conn, self.signer, owner_id, now, kind, data)

    def _compartment(self, conn: Connection, owner_id: int, name: str, lock: bool = False) -> Row[Any]:
        query = select(compartments).where(compartments.c.owner_id == owner_id, compartments.c.name == name)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            known = [r.name for r in conn.execute(select(compartments.c.name).where(
                compartments.c.owner_id == owner_id).order_by(compartments.c.name))]
            raise NotFound(f"no compartment {name!r} (compartments: {', '.join(known) or 'none yet'})")
        return row

    def _person(self, conn: Connection, owner_id: int, name: str) -> Row[Any]:
        row = conn.execute(select(people).where(people.c.owner_id == owner_id, people.c.name == name,
                                                people.c.removed_at.is_(None))).first()
        if row is None:
            raise NotFound(f"no person {name!r}; `baton people list` shows who there is")
        return row

    def email_person(self, conn: Connection, owner_id: int, person: Row[Any], key: str, purpose: str,
                     template: str, now: datetime, **context: Any) -> None:
        """An e-mail to a holder in their language: the owner named as their profile names them, and every
        moment given (a ``datetime``) written in the holder's language and time zone (else the owner's), named."""
        if not person.email:
            return
        owner = holderview.owner_face(conn, owner_id)
        language = i18n.supported(person.language)
        zone = getattr(person, "timezone", None) or owner.timezone  # the person's own zone, else the owner's
        said = {k: i18n.moment(v, language, zone) if isinstance(v, datetime) else v
                for k, v in context.items()}
        rendered = render_email(template, language=language, owner_name=owner.name, owner_email=owner.email,
                                name=person.display_name, fingerprint=self.fingerprint, **said)
        enqueue(conn, owner_id=owner_id, key=f"v{owner_id}/{key}", channel=Channel.EMAIL, recipient=person.email,
                purpose=purpose, subject=rendered.subject, body_text=rendered.text, body_html=rendered.html,
                now=now)

    # -- the owner's vault key ----------------------------------------------------------------
    def set_owner_key(self, owner_id: int, recipient: str) -> dict[str, Any]:
        key = _recipient(recipient)
        if key.kind != "age":
            raise BadRequest("the owner's vault key: expected an age public key (age1…), got an SSH key")
        now = self.clock.now()
        with self.engine.begin() as conn:
            known = conn.execute(select(vault_keys.c.recipient).where(vault_keys.c.owner_id == owner_id)).first()
            if known is not None and known.recipient != key.text:
                raise Conflict("this vault already has an owner key; its compartments are encrypted to it")
            if known is None:
                conn.execute(insert(vault_keys).values(owner_id=owner_id, recipient=key.text, created_at=now))
                self._audit(conn, owner_id, now, "vault.owner_key", {"recipient": key.text})
        return {"recipient": key.text}

    def owner_key(self, owner_id: int) -> str:
        with reading(self.engine) as conn:
            row = conn.execute(select(vault_keys.c.recipient).where(vault_keys.c.owner_id == owner_id)).first()
        if row is None:
            raise NotFound("this vault has no owner key yet; run `baton vault init` on your own machine")
        return str(row.recipient)

    def owner_name(self, owner_id: int) -> str:
        """The owner as holders read of them (``holderview.owner_face``)."""
        with reading(self.engine) as conn:
            return holderview.owner_face(conn, owner_id).name

    def owner_email(self, owner_id: int) -> str:
        with reading(self.engine) as conn:
            return str(conn.execute(select(owners.c.email).where(owners.c.id == owner_id)).scalar_one())

    # -- compartments -------------------------------------------------------------------------
    def create_compartment(self, owner_id: int, name: str, release_recipient: str,
                           release_key_owner: bytes) -> dict[str, Any]:
        try:
            check_id(name)
        except EntryError as exc:
            raise BadRequest(f"compartment name: {exc}") from None
        key = _recipient(release_recipient)
        if key.kind != "age" or not release_key_owner.startswith(b"age-encryption.org/v1\n"):
            raise BadRequest("expected the release key's age public key and its copy encrypted to the owner")
        self.owner_key(owner_id)
        now = self.clock.now()
        with self.engine.begin() as conn:
            exists = conn.execute(select(compartments.c.id).where(compartments.c.owner_id == owner_id,
                                                                  compartments.c.name == name)).first()
            if exists:
                raise Conflict(f"compartment {name!r} exists already")
            conn.execute(insert(compartments).values(
                owner_id=owner_id, name=name, version=0, release_recipient=key.text,
                release_key_owner=release_key_owner, created_at=now, updated_at=now))
            self._audit(conn, owner_id, now, "vault.compartment_created", {"name": name, "release": key.text})
            return self._describe(conn, owner_id, self._compartment(conn, owner_id, name))

    def list_compartments(self, owner_id: int) -> list[dict[str, Any]]:
        with reading(self.engine) as conn:
            rows = conn.execute(select(compartments).where(compartments.c.owner_id == owner_id)
                                .order_by(compartments.c.name)).all()
            return [self._describe(conn, owner_id, row) for row in rows]

    def _describe(self, conn: Connection, owner_id: int, row: Row[Any]) -> dict[str, Any]:
        split = None
        problems: list[str] = []
        if row.split_id is not None:
            srow = conn.execute(select(splits).where(splits.c.id == row.split_id)).one()
            held = {r.name: r for r in conn.execute(
                select(people.c.name, people.c.recipient, people.c.removed_at, sealed_shares.c.recipient
                       .label("sealed_to")).join(sealed_shares, sealed_shares.c.person_id == people.c.id)
                .where(sealed_shares.c.split_id == srow.id))}
            for name, person in sorted(held.items()):
                if person.removed_at is not None:
                    problems.append(f"{name} was removed but holds a share")
                elif person.recipient != person.sealed_to:
                    problems.append(f"{name} has a new key; their share is sealed to the old one")
            policy = policy_from_dict(srow.policy)
            split = {"id": srow.slip39_id, "policy": srow.policy, "describe": policy.describe(),
                     "holders": sorted(held), "created_at": iso(srow.created_at)}
        else:
            problems.append("not split yet: nobody could open it after a release")
        if row.blob_sha256 is None:
            problems.append("empty: nothing uploaded yet")
        collector = conn.execute(select(people.c.name).where(people.c.id == row.collector_id)).scalar() \
            if row.collector_id is not None else None
        return {"name": row.name, "version": row.version, "release_recipient": row.release_recipient,
                "size": row.blob_size or 0, "sha256": row.blob_sha256, "split": split,
                "needs_split": row.split_id is None or any("key" in p or "removed" in p for p in problems),
                "problems": problems, "updated_at": iso(row.updated_at), "collector": collector}

    def release_key_for_owner(self, owner_id: int, name: str) -> bytes:
        with reading(self.engine) as conn:
            return bytes(self._compartment(conn, owner_id, name).release_key_owner)

    def compartment_file(self, owner_id: int, name: str) -> tuple[int, str | None]:
        """The version and the blob digest (None while empty)."""
        with reading(self.engine) as conn:
            row = self._compartment(conn, owner_id, name)
        return row.version, row.blob_sha256

    def set_split(self, owner_id: int, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store a split made on the owner's machine: policy, protected release key, sealed shares."""
        try:
            policy = policy_from_dict(body["policy"])
            protected = base64.b64decode(body["protected_release_key"], validate=True)
            sealed = {holder: (str(item["recipient"]), base64.b64decode(item["sealed"], validate=True))
                      for holder, item in body["sealed"].items()}
            slip39_id = int(body["split_id"])
        except (KeyError, TypeError, ValueError, EntryError) as exc:
            raise BadRequest(f"a split: expected split_id, policy, protected_release_key and sealed shares "
                             f"(base64): {exc}") from None
        if set(sealed) != set(policy.holders):
            raise BadRequest(f"a split: the sealed shares are for {sorted(sealed)}, the policy names "
                             f"{sorted(policy.holders)}")
        now = self.clock.now()
        with self.engine.begin() as conn:
            row = self._compartment(conn, owner_id, name, lock=True)
            holders = {h: self._person(conn, owner_id, h) for h in policy.holders}
            for holder, person in holders.items():
                if person.role == "verifier":
                    raise BadRequest(f"{holder} is a verifier; only heirs, staff and notaries hold shares")
                if person.recipient is None:
                    raise Conflict(f"{holder} has no key yet: send the enrolment link or make a key card")
                if person.recipient != sealed[holder][0]:
                    raise Conflict(f"{holder}'s key changed while the split was made; run the command again")
            split_row = insert_id(conn, insert(splits).values(
                compartment_id=row.id, slip39_id=slip39_id, policy=policy.to_dict(),
                protected_release_key=protected, created_at=now))
            for holder, person in holders.items():
                conn.execute(insert(sealed_shares).values(split_id=split_row, person_id=person.id,
                                                          recipient=sealed[holder][0], sealed=sealed[holder][1]))
            conn.execute(update(compartments).where(compartments.c.id == row.id).values(split_id=split_row,
                                                                                         updated_at=now))
            # Older splits are useless now; their sealed shares go, so nothing can mix them up.
            conn.execute(delete(sealed_shares).where(sealed_shares.c.split_id.in_(
                select(splits.c.id).where(splits.c.compartment_id == row.id, splits.c.id != split_row))))
            self._audit(conn, owner_id, now, "vault.split", {"name": name, "split": slip39_id,
                                                             "policy": policy.to_dict()})
            return self._describe(conn, owner_id, self._compartment(conn, owner_id, name))

    # -- people ---------------------------------------------------------------------------------
    def add_person(self, owner_id: int, name: str, display_name: str, email: str | None, language: str,
                   role: str, share_contact: bool = False) -> dict[str, Any]:
        """Add a holder or verifier; ``share_contact``: the other holders of their compartments see their
        e-mail in the release (else only their name)."""
        try:
            check_id(name)
        except EntryError as exc:
            raise BadRequest(f"person name: {exc}") from None
        if role not in ROLES:
            raise BadRequest(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
        if language not in LANGUAGES:
            raise BadRequest(f"language: expected one of {', '.join(LANGUAGES)}, got {language!r}")
        if email is not None and (email.count("@") != 1 or " " in email.strip()):
            raise BadRequest(f"email: expected an e-mail address, got {email!r}")
        now = self.clock.now()
        with self.engine.begin() as conn:
            found = conn.execute(select(people).where(people.c.owner_id == owner_id, people.c.name == name)).first()
            if found is not None and found.removed_at is None:
                raise Conflict(f"{name!r} exists already")
            values = dict(display_name=display_name or name, email=email.strip().lower() if email else None,
                          language=language, role=role, share_contact=share_contact, created_at=now,
                          removed_at=None, recipient=None,
                          recipient_kind=None, key_source=None, enrolled_at=None, verified_at=None)
            if found is not None:
                conn.execute(update(people).where(people.c.id == found.id).values(**values))
            else:
                conn.execute(insert(people).values(owner_id=owner_id, name=name, **values))
            person = self._person(conn, owner_id, name)
            url = None
            if role != "verifier":
                link_id = links.create(conn, owner_id, Purpose.ENROL, now, expires_at=now + self.enrol_ttl,
                                       who=name, email=person.email)
                url = links.url(self.settings.base_url, Purpose.ENROL, links.token(self.key, link_id))
                self.email_person(conn, owner_id, person, f"enrol/{person.id}/{iso(now)}", "enrol", "holder_enrol",
                                  now, enrol_url=links.placeholder(self.settings.base_url, Purpose.ENROL, link_id),
                                  expires=now + self.enrol_ttl)
            self._audit(conn, owner_id, now, "people.added", {"name": name, "role": role})
            return {**self._person_view(conn, person, now), "enrol_url": url}

    @property
    def enrol_ttl(self) -> timedelta:
        return timedelta(days=self.settings.link_ttl_days)

    def list_people(self, owner_id: int) -> list[dict[str, Any]]:
        now = self.clock.now()
        with reading(self.engine) as conn:
            rows = conn.execute(select(people).where(people.c.owner_id == owner_id, people.c.removed_at.is_(None))
                                .order_by(people.c.name)).all()
            return [self._person_view(conn, row, now) for row in rows]

    def _person_view(self, conn: Connection, row: Row[Any], now: datetime) -> dict[str, Any]:
        rows = conn.execute(
            select(compartments.c.name, splits.c.policy)
            .join(sealed_shares, sealed_shares.c.split_id == compartments.c.split_id)
            .join(splits, splits.c.id == compartments.c.split_id)
            .where(sealed_shares.c.person_id == row.id).order_by(compartments.c.name)).all()
        groups = [f"{r.name}/{g['name']}" for r in rows for g in r.policy["groups"] if row.name in g["holders"]]
        return {"name": row.name, "display_name": row.display_name, "email": row.email, "language": row.language,
                "timezone": row.timezone, "role": row.role, "share_contact": bool(row.share_contact),
                "recipient": row.recipient, "key_source": row.key_source,
                "key": key_status(row, now, self.settings.key_stale_days), "holds": [r.name for r in rows],
                "groups": groups,
                "verified_at": iso(row.verified_at) if row.verified_at else None}

    def remove_person(self, owner_id: int, name: str) -> None:
        now = self.clock.now()
        with self.engine.begin() as conn:
            person = self._person(conn, owner_id, name)
            held = self._person_view(conn, person, now)["holds"]
            if held:
                raise Conflict(f"{name} holds shares of {', '.join(held)}: split again without them first "
                               f"(`baton people remove` does this for you)")
            conn.execute(update(people).where(people.c.id == person.id).values(removed_at=now))
            withdrawn = links.revoke_for(conn, owner_id, name, (Purpose.ENROL, Purpose.KEYCHECK), now)
            self._audit(conn, owner_id, now, "people.removed", {"name": name, "links_withdrawn": withdrawn})

    def set_key(self, owner_id: int, name: str, recipient: str, source: str) -> dict[str, Any]:
        """The owner sets a holder's key (a key card made on the owner's machine, or a key given in person)."""
        now = self.clock.now()
        with self.engine.begin() as conn:
            person = self._person(conn, owner_id, name)
            return self._store_key(conn, owner_id, person, recipient, source, now)

    def _store_key(self, conn: Connection, owner_id: int, person: Row[Any], recipient: str, source: str,
                   now: datetime) -> dict[str, Any]:
        if person.role == "verifier":
            raise BadRequest(f"{person.name} is a verifier; verifiers hold no key")
        key = _recipient(recipient)
        conn.execute(update(people).where(people.c.id == person.id).values(
            recipient=key.text, recipient_kind=key.kind, key_source=source, enrolled_at=now, verified_at=None))
        self._audit(conn, owner_id, now, "people.key", {"name": person.name, "recipient": key.text,
                                                        "source": source})
        person = self._person(conn, owner_id, person.name)
        self._new_check(conn, owner_id, person, "enrol", now, notify=source == "enrolled")
        return self._person_view(conn, person, now)

    # -- enrolment and key checks by link -------------------------------------------------------------
    def enrolment(self, token: str) -> dict[str, Any]:
        now = self.clock.now()
        with reading(self.engine) as conn:
            link = links.resolve(conn, self.key, token, Purpose.ENROL, now)
            person = self._person(conn, link.owner_id, str(link.who))
            owner_email = holderview.owner_face(conn, link.owner_id).name  # the page names the owner so
        return {"name": person.display_name, "language": person.language, "owner_email": owner_email,
                "has_key": person.recipient is not None, "holder": person.name, "fingerprint": self.fingerprint}

    def enrol_by_link(self, token: str, recipient: str) -> dict[str, Any]:
        now = self.clock.now()
        _recipient(recipient)  # a bad key is refused before the link is spent
        with self.engine.begin() as conn:
            link = links.resolve(conn, self.key, token, Purpose.ENROL, now)
            person = self._person(conn, link.owner_id, str(link.who))
            links.consume(conn, link, now)
            view = self._store_key(conn, link.owner_id, person, recipient, "enrolled", now)
            check = conn.execute(select(key_checks.c.id).where(key_checks.c.person_id == person.id)
                                 .order_by(key_checks.c.id.desc()).limit(1)).scalar_one()
            link_id = self._check_link(conn, link.owner_id, person, check, now)
            view["check_url"] = links.url(self.settings.base_url, Purpose.KEYCHECK, links.token(self.key, link_id))
            return view

    def _check_link(self, conn: Connection, owner_id: int, person: Row[Any], check_id_: int, now: datetime) -> int:
        return links.create(conn, owner_id, Purpose.KEYCHECK, now, expires_at=now + self.enrol_ttl,
                            who=f"{person.name}#{check_id_}", email=person.email)

    def _new_check(self, conn: Connection, owner_id: int, person: Row[Any], reason: str, now: datetime,
                   notify: bool) -> int:
        made = challenge.new_challenge(parse_recipient(person.recipient), person.display_name,
                                       wording=holdertexts.keycheck_wording(person.language))
        check = insert_id(conn, insert(key_checks).values(
            person_id=person.id, recipient=person.recipient, sealed=made.sealed, code_hash=made.code_hash,
            reason=reason, created_at=now, expires_at=now + self.enrol_ttl))
        if notify:
            url = links.placeholder(self.settings.base_url, Purpose.KEYCHECK,
                                    self._check_link(conn, owner_id, person, check, now))
            self.email_person(conn, owner_id, person, f"keycheck/{check}", "keycheck", "holder_keycheck", now,
                              check_url=url, expires=now + self.enrol_ttl)
        return int(check)

    def request_checks(self, owner_id: int, names: list[str] | None, reason: str, notify: bool) -> list[dict[str, Any]]:
        """New key checks for the named holders (all with keys when None); returns their sealed challenges."""
        now = self.clock.now()
        out = []
        with self.engine.begin() as conn:
            rows = conn.execute(select(people).where(people.c.owner_id == owner_id, people.c.removed_at.is_(None),
                                                     people.c.recipient.is_not(None))).all()
            for person in rows:
                if names is not None and person.name not in names:
                    continue
                check = self._new_check(conn, owner_id, person, reason, now, notify)
                sealed = conn.execute(select(key_checks.c.sealed).where(key_checks.c.id == check)).scalar_one()
                out.append({"name": person.name, "check": check, "sealed": base64.b64encode(sealed).decode()})
        return out

    def _open_check(self, conn: Connection, owner_id: int, person: Row[Any], check: int, now: datetime) -> Row[Any]:
        row = conn.execute(select(key_checks).where(key_checks.c.id == check,
                                                    key_checks.c.person_id == person.id)).first()
        if row is None:
            raise NotFound("no such key check")
        if row.proven_at is not None:
            raise Conflict(f"this key check was already passed, at {iso(row.proven_at)}")
        if row.expires_at <= now:
            raise Conflict(f"this key check expired at {iso(row.expires_at)}; ask the owner for a new one")
        if row.recipient != person.recipient:
            raise Conflict("this key check was sealed to a key that was replaced since; a new one was sent")
        if row.failures >= 5:
            raise Conflict("too many wrong codes for this key check; ask the owner for a new one")
        return row

    def prove(self, owner_id: int, name: str, check: int, code: str) -> dict[str, Any]:
        now = self.clock.now()
        with self.engine.begin() as conn:
            person = self._person(conn, owner_id, name)
            row = self._open_check(conn, owner_id, person, check, now)
            view = self.answer_check(conn, owner_id, person, row, code, now)
        if isinstance(view, str):  # raised after the commit, so the failed attempt is counted
            raise BadRequest(view)
        return view

    def answer_check(self, conn: Connection, owner_id: int, person: Row[Any], row: Row[Any], code: str,
                     now: datetime) -> dict[str, Any] | str:
        """The person's view when the code matches; else the failure is counted and its message returned.
        A check is passed once: of two right answers at the same time, the second is refused."""
        if not challenge.matches(code, row.code_hash):
            conn.execute(update(key_checks).where(key_checks.c.id == row.id)
                         .values(failures=key_checks.c.failures + 1))
            self._audit(conn, owner_id, now, "people.key_check_failed", {"name": person.name, "check": row.id})
            return (f"the code does not match (attempt {row.failures + 1} of 5): open the sealed challenge "
                    "with the same key you enrolled")
        passed = conn.execute(update(key_checks).where(key_checks.c.id == row.id, key_checks.c.proven_at.is_(None))
                              .values(proven_at=now))
        if passed.rowcount != 1:
            raise Conflict("this key check was already passed")
        conn.execute(update(people).where(people.c.id == person.id).values(verified_at=now))
        self._audit(conn, owner_id, now, "people.key_verified", {"name": person.name, "check": row.id,
                                                                 "reason": row.reason})
        return self._person_view(conn, self._person(conn, owner_id, person.name), now)

    def check_by_link(self, token: str) -> tuple[dict[str, Any], bytes]:
        now = self.clock.now()
        with reading(self.engine) as conn:
            link = links.resolve(conn, self.key, token, Purpose.KEYCHECK, now)
            name, _, check = str(link.who).partition("#")
            person = self._person(conn, link.owner_id, name)
            row = self._open_check(conn, link.owner_id, person, int(check), now)
        return {"name": person.display_name, "language": person.language}, bytes(row.sealed)

    def prove_by_link(self, token: str, code: str) -> dict[str, Any]:
        now = self.clock.now()
        with self.engine.begin() as conn:
            link = links.resolve(conn, self.key, token, Purpose.KEYCHECK, now)
            name, _, check = str(link.who).partition("#")
            person = self._person(conn, link.owner_id, name)
            row = self._open_check(conn, link.owner_id, person, int(check), now)
            view = self.answer_check(conn, link.owner_id, person, row, code, now)
            if not isinstance(view, str):
                links.consume(conn, link, now)
        if isinstance(view, str):
            raise BadRequest(view)
        return view

    def holder_language(self, token: str, purpose: Purpose) -> str | None:
        """The language of the holder an enrolment, key-check or download link was made for, whatever
        the link's state, so that its refusal page speaks it; None for a token that is none of theirs."""
        with reading(self.engine) as conn:
            made = links.made_for(conn, self.key, token, purpose)
            owner_id, who = made if made is not None else (None, None)
            if who is None:
                return None
            if purpose is Purpose.DOWNLOAD:
                query = select(people.c.language).join(packages, packages.c.person_id == people.c.id).where(
                    packages.c.id == int(who.removeprefix("package#")))
            else:  # an enrolment's who is the person's name; a key check's is name#check
                query = select(people.c.language).where(people.c.owner_id == owner_id,
                                                        people.c.name == who.partition("#")[0])
            language: str | None = conn.execute(query.order_by(people.c.id.desc()).limit(1)).scalar()
            return language


def key_status(row: Row[Any], now: datetime, stale_days: int) -> str:
    """none | unverified | verified | stale: what ``baton status`` and the drill report show."""
    if row.role == "verifier":
        return "n/a"
    if row.recipient is None:
        return "none"
    if row.verified_at is None:
        return "unverified"
    if now - row.verified_at > timedelta(days=stale_days):
        return "stale"
    return "verified"


def _recipient(text: str) -> Any:
    try:
        return parse_recipient(text)
    except RecipientError as exc:
        raise BadRequest(str(exc)) from None
