"""Verifiers are People: the policy names them by their short id; People says who they are.

People holds what a verifier is — display name, e-mail address, language, time zone — and the
policy holds who is asked and the quorum (``confirm.verifiers`` is a list of People ids). A
policy written with names or e-mail addresses (YAML, the API, the policy form) is resolved here
before it is stored: a name or an address People knows becomes that entry's id, one it does not
know becomes a new People entry, said in a note. An address in a policy that differs from the
one in People is refused: an address is changed on People, where it waits its cooling-off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from sqlalchemy import Connection, Engine, insert, select, update

from baton.services import holderview
from baton.store import links
from baton.store.engine import reading
from baton.store.keyfile import DeploymentKey
from baton.store.links import Purpose
from baton.store.tables import people
from handover.i18n import LOCALES, supported
from switch import Policy, PolicyError, Verifier

_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


@dataclass(frozen=True, slots=True)
class Contact:
    """A verifier as People knows them."""

    name: str
    display_name: str
    email: str | None
    language: str
    timezone: str | None
    removed: bool = False


def person_id(name: str) -> str:
    """The People id for a name written in a policy: itself when it is one (giulia), else its slug (Giulia Rossi
    → giulia-rossi)."""
    if _ID.fullmatch(name):
        return name
    return re.sub(r"[^a-z0-9._-]+", "-", name.strip().lower()).strip("-._")[:54] or "verifier"


def contacts(conn: Connection, owner_id: int) -> dict[str, Contact]:
    """Every verifier entry of the owner, removed ones too: the policy decides who is asked, and a removal
    held for its cooling-off leaves the policy naming someone People shows as leaving."""
    rows = conn.execute(select(people).where(people.c.owner_id == owner_id, people.c.role == "verifier")).all()
    return {r.name: Contact(r.name, r.display_name, r.email, r.language, r.timezone, r.removed_at is not None)
            for r in rows}


def addressed(policy: Policy, known: dict[str, Contact]) -> Policy:
    """The policy with each verifier's address from People (for what a policy still gets wrong)."""
    if policy.confirm is None:
        return policy
    def address(v: Verifier) -> str | None:
        found = known.get(v.name) or known.get(person_id(v.name))  # a name as typed (Marco) or its id (marco)
        return v.email or (found.email if found is not None and not v.email else None)

    listed = tuple(Verifier(v.name, address(v)) for v in policy.confirm.verifiers)
    return replace(policy, confirm=replace(policy.confirm, verifiers=listed))


def addressed_policy(engine: Engine, owner_id: int, policy: Policy) -> Policy:
    with reading(engine) as conn:
        return addressed(policy, contacts(conn, owner_id))


def shown_with_addresses(engine: Engine, owner_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """A stored policy with each verifier written ``{name, email}`` from People (for the policy page's form, whose
    lines ``giulia <giulia@example.org>`` are read back to the same People entries)."""
    confirm = data.get("confirm")
    if not confirm:
        return data
    with reading(engine) as conn:
        known = contacts(conn, owner_id)
    listed = []
    for item in confirm["verifiers"]:
        name = item["name"] if isinstance(item, dict) else item
        email = (item.get("email") if isinstance(item, dict) else None) or (
            known[name].email if name in known else None)
        listed.append({"name": name, "email": email} if email else name)
    return {**data, "confirm": {**confirm, "verifiers": listed}}


def moment(value: datetime | None, language: str, timezone: str) -> str:
    """A moment as the language writes it, in ``timezone``: 3 dicembre 2026, 14:00 CET."""
    if value is None:
        return ""
    zone = ZoneInfo(timezone)
    local, locale = value.astimezone(zone), LOCALES[supported(language)]
    return f"{format_date(local, 'long', locale=locale)}, {format_time(local, 'short', tzinfo=zone, locale=locale)} " \
           f"{local.tzname()}"


def resolve(conn: Connection, owner_id: int, language: str, data: dict[str, Any],
            now: datetime) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The policy (``policy_to_dict``'s shape) with its verifiers as People ids, new entries made for those People
    does not know yet, and a note for each one made."""
    confirm = data.get("confirm")
    if not confirm:
        return data, ()
    known = {r.name: r for r in conn.execute(select(people).where(people.c.owner_id == owner_id)).all()}
    by_email = {r.email: r for r in known.values() if r.email and r.role == "verifier" and r.removed_at is None}
    renamed: dict[str, str] = {}
    notes: list[str] = []
    for i, item in enumerate(confirm["verifiers"]):
        written, email = (item["name"], item.get("email")) if isinstance(item, dict) else (item, None)
        original = written
        email = email.strip().lower() if email else None
        where = f"confirm.verifiers[{i}]"
        if "@" in written and email is None:  # an address alone: the entry with that address, or a new one
            email = written.strip().lower()
            found = by_email.get(email)
            if found is not None:
                renamed[original] = found.name
                continue
            written = email.split("@", 1)[0]
        name = person_id(written)
        row = known.get(name)
        if row is not None and row.role != "verifier":
            raise PolicyError(where, f"expected a verifier, got {name!r}, who is a {row.role} in People; "
                                     "give the verifier another name")
        if row is not None and row.removed_at is None:
            if email and not row.email:  # an address where there was none: like adding a verifier, at once
                conn.execute(update(people).where(people.c.id == row.id).values(email=email))
                notes.append(f"verifier {name} now has the address {email} in People")
            elif email and email != row.email:
                raise PolicyError(f"{where}.email", f"expected {name}'s address in People "
                                  f"({row.email}), got {email!r}: change a verifier's address on the "
                                  f"People page or with `baton people edit {name} --email …`")
        elif row is not None:  # removed from People, but the policy names them again: back in People
            values: dict[str, Any] = {"removed_at": None, **({"email": email} if email else {})}
            conn.execute(update(people).where(people.c.id == row.id).values(**values))
            notes.append(f"verifier {name} is back in People, as the policy names them")
        elif name not in renamed.values():
            display = written if written != name else name
            conn.execute(insert(people).values(owner_id=owner_id, name=name, display_name=display[:200], email=email,
                                               language=language, role="verifier", created_at=now))
            notes.append(f"verifier {name} was added to People ({display}, {email or 'no e-mail address'}, "
                         f"language {language}); edit them on the People page or with `baton people edit {name}`")
        renamed[original] = name
    names = list(dict.fromkeys(renamed[item["name"] if isinstance(item, dict) else item]
                               for item in confirm["verifiers"]))
    stages = [{**s, "audience": [renamed.get(a, a) for a in s.get("audience", [])]} for s in data.get("stages", [])]
    return {**data, "confirm": {**confirm, "verifiers": names}, "stages": stages}, tuple(notes)


@dataclass(frozen=True, slots=True)
class Question:
    """What a verifier's page shows: whom it greets, in which language and zone, about whom."""

    who: str
    language: str
    timezone: str
    owner: str


def question(engine: Engine, owner_id: int, who: str, policy_timezone: str) -> Question:
    """The verifier ``who`` (a People id) as their question page greets them."""
    with reading(engine) as conn:
        found = contacts(conn, owner_id).get(who)
        owner = holderview.owner_face(conn, owner_id).name  # the profile's name, else the e-mail
    if found is None:
        return Question(who, "en", policy_timezone, owner)
    return Question(found.display_name, supported(found.language), found.timezone or policy_timezone, owner)


def link_language(engine: Engine, key: DeploymentKey, token: str) -> str | None:
    """The language of the verifier a question link was made for, whatever the link's state (its refusal page
    speaks it); None for a token that is none of theirs."""
    with reading(engine) as conn:
        made = links.made_for(conn, key, token, Purpose.VERIFY)
        if made is None or made[1] is None:
            return None
        language: str | None = conn.execute(select(people.c.language).where(
            people.c.owner_id == made[0], people.c.name == made[1], people.c.role == "verifier")).scalar()
        return language
