"""What a holder reads of a release, gathered from the database: the owner as the owner's profile names
them, the owner's time zone, the successor, and the other holders of each compartment (the words
themselves are ``handover.holdertexts``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from baton.store.register import read_profile
from baton.store.tables import owners, people
from handover import holdertexts


@dataclass(frozen=True, slots=True)
class OwnerFace:
    """The owner as holders and verifiers read of them."""

    email: str
    name: str  # the profile's name, else the e-mail
    timezone: str
    successor: dict[str, Any] | None  # who the owner named to speak for the business (the profile's)


def owner_face(conn: Connection, owner_id: int) -> OwnerFace:
    row = conn.execute(select(owners.c.email, owners.c.timezone).where(owners.c.id == owner_id)).one()
    try:
        profile = read_profile(conn, owner_id)
    except ValueError:  # a profile stored by an older version that no longer reads: the e-mail stands in
        profile = None
    successor = None
    if profile is not None and profile.successor is not None:
        s = profile.successor
        successor = {"name": s.name, "email": s.email, "role": s.role, "phone": s.phone}
    name = profile.owner_name.strip() if profile is not None and profile.owner_name.strip() else row.email
    return OwnerFace(row.email, name, row.timezone, successor)


def holders_of(conn: Connection, owner_id: int) -> list[dict[str, Any]]:
    """Every person of the owner still there, with what the other holders may read of them."""
    rows = conn.execute(select(people.c.name, people.c.display_name, people.c.language, people.c.email,
                               people.c.share_contact)
                        .where(people.c.owner_id == owner_id, people.c.removed_at.is_(None))).all()
    return [dict(r._mapping) for r in rows]


def together(policy: Mapping[str, Any], everyone: list[dict[str, Any]], me: str, language: str) -> dict[str, Any]:
    """The rule and the other holders of one compartment, for ``me`` reading in ``language``."""
    return {"rule": holdertexts.rule(policy, language),
            "others": holdertexts.fellow_holders(policy, everyone, me, language),
            "group_threshold": policy["group_threshold"],
            "groups": [{"name": g["name"], "threshold": g["threshold"], "count": len(g["holders"])}
                       for g in policy["groups"]]}


def holders_document(policy: Mapping[str, Any], everyone: list[dict[str, Any]], me: str,
                     owner: OwnerFace) -> dict[str, Any]:
    """``holders.json``: the same for programs (and for a holder who reads it in another language)."""
    known = {p["name"]: p for p in everyone}
    groups = []
    for group in policy["groups"]:
        members = []
        for holder in group["holders"]:
            person = known.get(holder, {"display_name": holder, "language": None})
            members.append({"id": holder, "name": person["display_name"], "language": person["language"],
                            "email": person.get("email") if person.get("share_contact") else None,
                            "you": holder == me})
        groups.append({"name": group["name"], "threshold": group["threshold"], "holders": members})
    return {"about": "Who holds the shares of this compartment, and how many must come together. An e-mail "
                     "is shown only for the holders who agreed to share it with the others.",
            "group_threshold": policy["group_threshold"], "groups": groups,
            "successor": owner.successor}
