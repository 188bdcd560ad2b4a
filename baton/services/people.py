"""People as the owner manages them, with verifiers' changes carried into the policy (``services.verifiers``).

A verifier added on People is added to the policy's verifiers at once (like a verifier added to the
policy: more people asked delays nothing, and the quorum stays). A verifier removed leaves the
policy through a policy change, which waits its cooling-off (``switch.hastening``: one fewer to
answer may hasten a release); until then People shows them as leaving and they are still asked.
A verifier's new e-mail address waits its cooling-off too (``changes.Kind.VERIFIER``): whoever
answers decides when the switch fires. Names, languages and time zones change at once. Holders
are added and removed by the vault service; this adds the edits of their name, language and zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, insert, select, update

from baton.errors import BadRequest, Conflict, NotFound
from baton.services import accounts, changes
from baton.services.switch import SwitchService
from baton.services.vault import LANGUAGES, VaultService
from baton.store.engine import reading
from baton.store.tables import people
from switch import Policy, iso, policy_to_dict
from vault.entries import check_id
from vault.errors import EntryError


@dataclass(frozen=True)
class PeopleBook:
    """People for the owner's pages, API and CLI: verifiers kept in step with the policy."""

    service: SwitchService
    vault: VaultService

    # -- reading ------------------------------------------------------------------------------
    def listed(self, owner_id: int) -> list[dict[str, Any]]:
        """Everyone in People; each verifier says whether the policy asks them (``asked``), a new address waiting
        (``email_from``) and, when their removal waits, when they leave (``leaves_at``)."""
        found = self.vault.list_people(owner_id)
        with reading(self.service.engine) as conn:
            loaded = self.service.load(conn, owner_id)
            named = _named(loaded.policy)
            held = changes.pending(conn, owner_id)
            leaving = conn.execute(select(people).where(
                people.c.owner_id == owner_id, people.c.role == "verifier", people.c.removed_at.isnot(None),
                people.c.name.in_(named))).all() if named else []
        upcoming = [c for c in held if c.kind is changes.Kind.POLICY]
        asked_next = set(_named_in(upcoming[-1].payload)) if upcoming else None
        for row in leaving:
            found.append({"name": row.name, "display_name": row.display_name, "email": row.email,
                          "language": row.language, "timezone": row.timezone, "role": row.role, "recipient": None,
                          "key_source": None, "key": "n/a", "holds": [], "groups": [], "verified_at": None})
        by_name = {r.name: r for r in leaving}
        for person in found:
            if person["role"] != "verifier":
                continue
            person["asked"] = person["name"] in named
            waiting = [c for c in held if c.kind is changes.Kind.VERIFIER and c.payload["person"] == person["name"]]
            person["email_from"] = ({"email": waiting[-1].payload["email"],
                                     "takes_effect_at": iso(waiting[-1].takes_effect_at)} if waiting else None)
            gone = person["name"] in by_name or (asked_next is not None and person["name"] not in asked_next)
            person["leaves_at"] = iso(upcoming[-1].takes_effect_at) if gone and upcoming else None
        return sorted(found, key=lambda p: p["name"])

    # -- changing -----------------------------------------------------------------------------
    def add(self, owner_id: int, name: str, display_name: str, email: str | None, language: str, role: str,
            timezone: str | None = None, via: str = "api", share_contact: bool = False) -> dict[str, Any]:
        """Add a person; a verifier is also added to the policy's verifiers when the policy asks any.
        ``share_contact``: the other holders of their compartments see their e-mail in a release."""
        if role != "verifier":
            made = self.vault.add_person(owner_id, name, display_name, email, language, role, share_contact)
            if timezone:
                self.edit(owner_id, name, timezone=timezone, via=via)
            return made
        _check_id(name)
        _check(language=language, email=email, timezone=timezone)
        now = self.service.clock.now()
        wake: datetime | None = None
        asked = False
        with self.service.engine.begin() as conn:
            found = conn.execute(select(people).where(people.c.owner_id == owner_id, people.c.name == name)).first()
            if found is not None and found.removed_at is None:
                raise Conflict(f"{name!r} exists already")
            values = dict(display_name=display_name or name, email=email.strip().lower() if email else None,
                          language=language, timezone=timezone or None, role="verifier", created_at=now,
                          share_contact=share_contact,
                          removed_at=None, recipient=None, recipient_kind=None, key_source=None, enrolled_at=None,
                          verified_at=None)
            if found is not None:
                conn.execute(update(people).where(people.c.id == found.id).values(**values))
            else:
                conn.execute(insert(people).values(owner_id=owner_id, name=name, **values))
            self.service.record(conn, owner_id, "people.added", {"name": name, "role": "verifier", "via": via})
            policy = self._intended(conn, owner_id)
            if policy.confirm is not None and name not in _named(policy):
                data = policy_to_dict(policy)
                data["confirm"]["verifiers"] = [*_named(policy), name]
                _view, wake = self.service.replace_policy(conn, owner_id, self.service.check_policy(data), via, now)
                asked = True
        if asked:
            self.service.on_change(wake)
        made = next(p for p in self.listed(owner_id) if p["name"] == name)
        return {**made, "enrol_url": None}

    def edit(self, owner_id: int, name: str, *, display_name: str | None = None, email: str | None = None,
             language: str | None = None, timezone: str | None = None, via: str = "api") -> dict[str, Any]:
        """Change a person's display name, language or time zone (at once) or a verifier's address (after the
        cooling-off when the policy asks them). A time zone of "" goes back to the owner's."""
        _check(language=language, email=email, timezone=timezone or None)
        now = self.service.clock.now()
        with self.service.engine.begin() as conn:
            row = conn.execute(select(people).where(people.c.owner_id == owner_id, people.c.name == name,
                                                    people.c.removed_at.is_(None))).first()
            if row is None:
                raise NotFound(f"no person {name!r}; `baton people list` shows who there is")
            values: dict[str, Any] = {}
            if display_name is not None:
                if not display_name.strip() or len(display_name) > 200:
                    raise BadRequest(f"display_name: expected a name of 1 to 200 characters, got "
                                     f"{len(display_name.strip())} characters")
                values["display_name"] = display_name.strip()
            if language is not None:
                values["language"] = language
            if timezone is not None:
                values["timezone"] = timezone or None
            audited: dict[str, Any] = {"name": name, "fields": sorted(values), "via": via}
            new_email = (email.strip().lower() or None) if email is not None else row.email
            if new_email != row.email:
                if row.role != "verifier":
                    raise BadRequest(f"email: a holder's address is where their release goes, so it is not changed "
                                     f"here; remove {name} and add them again with the new address")
                audited |= self._new_address(conn, owner_id, name, new_email, via, now, values)
            if values:
                conn.execute(update(people).where(people.c.id == row.id).values(**values))
            self.service.record(conn, owner_id, "people.edited", audited)
        return next(p for p in self.listed(owner_id) if p["name"] == name)

    def _new_address(self, conn: Connection, owner_id: int, name: str, email: str | None, via: str, now: datetime,
                     values: dict[str, Any]) -> dict[str, Any]:
        loaded = self.service.load(conn, owner_id, lock=True)
        if self.service.settings.cooling_off_hours <= 0 or name not in _named(loaded.policy):
            values["email"] = email
            return {"fields": sorted(values)}
        held = changes.hold(conn, self.service.settings, owner_id=owner_id, owner_email=loaded.owner.email,
                            timezone=loaded.policy.timezone, kind=changes.Kind.VERIFIER,
                            payload={"person": name, "email": email},
                            reasons=(f"verifier {name} would be asked at another address: {email or 'none'}",), via=via,
                            now=now, effect=changes.takes_effect(self.service.settings, now, loaded.state.deadline))
        self.service.record(conn, owner_id, "change.held", {"change": held.id, "kind": "verifier", "via": via,
                                                            "takes_effect_at": iso(held.takes_effect_at)})
        return {"email_from": iso(held.takes_effect_at)}

    def _intended(self, conn: Connection, owner_id: int) -> Policy:
        """The policy a change from People starts from: the one waiting for its cooling-off if there is one (it
        would replace it: a second removal must not bring back the first), else the one in force."""
        loaded = self.service.load(conn, owner_id, lock=True)
        held = [c for c in changes.pending(conn, owner_id) if c.kind is changes.Kind.POLICY]
        return self.service.check_policy(held[-1].payload) if held else loaded.policy

    def remove(self, owner_id: int, name: str, via: str = "api") -> dict[str, Any]:
        """Remove a person; a verifier the policy asks leaves it through a policy change (which may wait)."""
        with reading(self.service.engine) as conn:
            row = conn.execute(select(people).where(people.c.owner_id == owner_id, people.c.name == name,
                                                    people.c.removed_at.is_(None))).first()
        if row is None:
            raise NotFound(f"no person {name!r}; `baton people list` shows who there is")
        if row.role != "verifier":
            self.vault.remove_person(owner_id, name)
            return {"removed": name}
        now = self.service.clock.now()
        wake: datetime | None = None
        with self.service.engine.begin() as conn:
            conn.execute(update(people).where(people.c.id == row.id).values(removed_at=now))
            self.service.record(conn, owner_id, "people.removed", {"name": name, "role": "verifier", "via": via})
            policy = self._intended(conn, owner_id)
            if name in _named(policy):
                view, wake = self.service.replace_policy(conn, owner_id, self.service.check_policy(
                    _without(policy, name)), via, now)
                waits = [c for c in view.changes if c["kind"] == "policy"]
                if waits:
                    self.service.on_change(wake)
                    return {"removed": name, "leaves_at": waits[-1]["takes_effect_at"]}
        self.service.on_change(wake)
        return {"removed": name}


def _named(policy: Policy) -> list[str]:
    return [v.name for v in policy.confirm.verifiers] if policy.confirm else []


def _named_in(payload: dict[str, Any]) -> list[str]:
    confirm = payload.get("confirm") or {}
    return [v["name"] if isinstance(v, dict) else v for v in confirm.get("verifiers", [])]


def _without(policy: Policy, name: str) -> dict[str, Any]:
    """The policy without verifier ``name``: the quorum lowered to those left; no confirmation when none is."""
    data = policy_to_dict(policy)
    left = [n for n in _named(policy) if n != name]
    if not left:
        data.pop("confirm")
        for stage in data["stages"]:
            stage["audience"] = [a for a in stage["audience"] if a != name]
        return data
    data["confirm"]["verifiers"] = left
    data["confirm"]["quorum"] = min(data["confirm"]["quorum"], len(left))
    for stage in data["stages"]:
        stage["audience"] = [a for a in stage["audience"] if a != name]
    return data


def _check_id(name: str) -> None:
    try:
        check_id(name)
    except EntryError as exc:
        raise BadRequest(f"person name: {exc}") from None


def _check(*, language: str | None, email: str | None, timezone: str | None) -> None:
    if language is not None and language not in LANGUAGES:
        raise BadRequest(f"language: expected one of {', '.join(LANGUAGES)}, got {language!r}")
    if email is not None and email.strip():
        accounts.check_email(email)
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadRequest(f"timezone: expected an IANA time zone like Europe/Rome, got {timezone!r}") from None
