"""Sending a holder's enrolment link again: a new link mailed to them, the older ones withdrawn, audited.

A holder who lost the first e-mail, or let its link expire, cannot enrol a key: the owner sends a
fresh link. Only one link works at a time (a forwarded old e-mail cannot enrol a stranger's key),
and at most one is sent every ``RESEND_GAP`` per holder, so a page pressed in a loop cannot flood
someone's mailbox.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from baton.errors import BadRequest, Conflict, NotFound
from baton.services.vault import VaultService
from baton.store import auditlog
from baton.store import links as stored_links
from baton.store.links import Purpose
from baton.store.tables import links, people
from switch import iso

RESEND_GAP = timedelta(minutes=10)


def resend_enrolment(vault: VaultService, owner_id: int, name: str) -> dict[str, Any]:
    """Mail holder ``name`` a new enrolment link; what was sent (name, address, expiry)."""
    now = vault.clock.now()
    with vault.engine.begin() as conn:
        person = conn.execute(select(people).where(people.c.owner_id == owner_id, people.c.name == name,
                                                   people.c.removed_at.is_(None)).with_for_update()).first()
        if person is None:
            raise NotFound(f"no person {name!r}; the People page lists who there is")
        if person.role == "verifier":
            raise BadRequest(f"{name} is a verifier: verifiers hold no key, so there is nothing to enrol")
        if person.recipient is not None:
            raise Conflict(f"{name} has given a key already: ask them to prove it with a key check instead")
        if not person.email:
            raise Conflict(f"{name} has no e-mail address to send the link to: make a key card with them instead")
        last = conn.execute(select(func.max(links.c.created_at)).where(
            links.c.owner_id == owner_id, links.c.purpose == str(Purpose.ENROL), links.c.who == name)).scalar()
        if last is not None and now - last < RESEND_GAP:
            wait = -(-(RESEND_GAP - (now - last)) // timedelta(minutes=1))
            raise Conflict(f"an enrolment link was sent to {name} less than {_minutes(RESEND_GAP)} ago: "
                           f"wait {_minutes(timedelta(minutes=wait))} before sending another")
        withdrawn = stored_links.revoke_for(conn, owner_id, name, (Purpose.ENROL,), now)
        expires = now + vault.enrol_ttl
        link_id = stored_links.create(conn, owner_id, Purpose.ENROL, now, expires_at=expires, who=name,
                                      email=person.email)
        vault.email_person(conn, owner_id, person, f"enrol/{person.id}/{iso(now)}", "enrol", "holder_enrol", now,
                           enrol_url=stored_links.placeholder(vault.settings.base_url, Purpose.ENROL, link_id),
                           expires=expires)
        auditlog.append(conn, vault.signer, owner_id, now, "people.enrolment_resent",
                        {"name": name, "links_withdrawn": withdrawn})
    return {"name": name, "email": person.email, "expires": iso(expires)}


def _minutes(delta: timedelta) -> str:
    count = int(delta.total_seconds() // 60)
    return f"{count} minute{'' if count == 1 else 's'}"
