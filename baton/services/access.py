"""Who may act for the owner, and what waits: API tokens, release-request links, changes held for a
cooling-off. Each list shows names and moments, never a token; each removal is audited.

A new requester could make a release earlier (they may ask for it), so their link is made at once
but works only when the cooling-off ends, and the owner is told on every channel meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from baton.errors import BadRequest, NotFound
from baton.services import accounts, changes
from baton.services.switch import SwitchService
from baton.store import links
from baton.store.engine import reading
from baton.store.links import Purpose
from baton.store.tables import links as link_rows
from switch import iso


@dataclass(frozen=True)
class OwnerAccess:
    """The owner's tokens, requesters and held changes, over the switch service's engine and clock."""

    service: SwitchService

    # -- API tokens ---------------------------------------------------------------------------
    def tokens(self, owner_id: int) -> list[dict[str, Any]]:
        with reading(self.service.engine) as conn:
            return accounts.tokens(conn, owner_id)

    def add_token(self, owner_id: int, name: str) -> dict[str, Any]:
        """A new API token named ``name``, shown once."""
        name = name.strip()
        if not name or len(name) > 100:
            raise BadRequest(f"name: expected a name of 1 to 100 characters, got {len(name)} characters")
        now = self.service.clock.now()
        with self.service.engine.begin() as conn:
            token = accounts.issue_token(conn, owner_id, now, label=name)
            made = accounts.tokens(conn, owner_id)[-1]
            self.service.record(conn, owner_id, "token.added", {"token": made["id"], "name": name})
        return {**made, "token": token}

    def revoke_token(self, owner_id: int, token_id: int) -> None:
        with self.service.engine.begin() as conn:
            if not accounts.revoke_token(conn, owner_id, token_id):
                raise NotFound(f"no API token {token_id}")
            self.service.record(conn, owner_id, "token.revoked", {"token": token_id})

    # -- release-request links ------------------------------------------------------------------
    def add_requester(self, owner_id: int, who: str, email: str, via: str = "api") -> dict[str, Any]:
        """A standing link with which ``who`` may ask for release (shown once); it works when its
        cooling-off ends, and the owner may cancel it until then."""
        email = accounts.check_email(email)
        who = who.strip()
        if not who:
            raise BadRequest("name: expected the requester's name, got ''")
        now = self.service.clock.now()
        held = self.service.settings.cooling_off_hours > 0  # an operator may turn the cooling-off off
        with self.service.engine.begin() as conn:
            loaded = self.service.load(conn, owner_id, lock=True)
            effect = changes.takes_effect(self.service.settings, now, loaded.state.deadline) if held else now
            link_id = links.create(conn, owner_id, Purpose.REQUEST, now, expires_at=None, who=who, email=email,
                                   not_before=effect if held else None)
            audited: dict[str, Any] = {"who": who, "link": link_id}
            if held:
                change = changes.hold(conn, self.service.settings, owner_id=owner_id, owner_email=loaded.owner.email,
                                      timezone=loaded.policy.timezone, kind=changes.Kind.REQUESTER,
                                      payload={"link": link_id, "who": who}, reasons=(
                                          f"{who} may ask for the release; it completes after the policy's "
                                          f"waiting period unless you check in",), via=via, now=now, effect=effect)
                audited |= {"change": change.id, "works_from": iso(effect)}
            self.service.record(conn, owner_id, "requester.added", audited)
        token = links.token(self.service.key, link_id)
        return {"url": links.url(self.service.settings.base_url, Purpose.REQUEST, token), "id": link_id,
                "works_from": iso(effect)}

    def requesters(self, owner_id: int) -> list[dict[str, Any]]:
        with reading(self.service.engine) as conn:
            rows = conn.execute(select(link_rows).where(*_requesters_of(owner_id)).order_by(link_rows.c.id)).all()
        return [{"id": r.id, "name": r.who, "email": r.email, "created_at": iso(r.created_at),
                 "works_from": iso(r.not_before) if r.not_before else None,
                 "last_used_at": iso(r.used_at) if r.used_at else None} for r in rows]

    def revoke_requester(self, owner_id: int, link_id: int) -> None:
        now = self.service.clock.now()
        with self.service.engine.begin() as conn:
            if link_id not in _requester_ids(conn, owner_id):
                raise NotFound(f"no requester {link_id}")
            links.withdraw(conn, link_id, now)
            for held in changes.pending(conn, owner_id):
                if held.kind is changes.Kind.REQUESTER and held.payload.get("link") == link_id:
                    changes.settle(conn, held, changes.Outcome.CANCELLED, now)
            self.service.record(conn, owner_id, "requester.revoked", {"link": link_id})

    # -- alert channels ---------------------------------------------------------------------------
    def remove_channel(self, owner_id: int, channel_id: int, via: str = "api") -> dict[str, Any]:
        """Remove one of the owner's channels (NotFound for anyone else's). Fewer channels means fewer
        warnings, which could let a release come unnoticed: with a cooling-off the removal is held
        (announced, cancellable) and the channel keeps its alerts until the change takes effect."""
        now = self.service.clock.now()
        if self.service.settings.cooling_off_hours <= 0:
            self.service.remove_channel(owner_id, channel_id)
            return {"removed": channel_id, "takes_effect_at": None}
        listed = {c["id"]: c for c in self.service.list_channels(owner_id)}
        if channel_id not in listed:
            raise NotFound(f"no channel {channel_id}")
        with self.service.engine.begin() as conn:
            loaded = self.service.load(conn, owner_id, lock=True)
            channel = listed[channel_id]
            held = changes.hold(conn, self.service.settings, owner_id=owner_id, owner_email=loaded.owner.email,
                                timezone=loaded.policy.timezone, kind=changes.Kind.CHANNEL,
                                payload={"channel": channel_id, "label": channel["label"], "scheme": channel["scheme"]},
                                reasons=("your alerts would no longer reach this channel",), via=via, now=now,
                                effect=changes.takes_effect(self.service.settings, now, loaded.state.deadline))
            self.service.record(conn, owner_id, "change.held", {"change": held.id, "kind": "channel", "via": via,
                                                             "channel": channel_id,
                                                             "takes_effect_at": iso(held.takes_effect_at)})
        return {"removed": channel_id, "takes_effect_at": iso(held.takes_effect_at)}

    # -- changes held for a cooling-off -----------------------------------------------------------
    def held_changes(self, owner_id: int) -> list[dict[str, Any]]:
        with reading(self.service.engine) as conn:
            loaded = self.service.load(conn, owner_id)
            return [c.to_dict(loaded.policy.timezone) for c in changes.pending(conn, owner_id)]

    def cancel_change(self, owner_id: int, change_id: int, via: str = "api") -> dict[str, Any]:
        """Cancel a change still waiting; it never takes effect."""
        now = self.service.clock.now()
        with self.service.engine.begin() as conn:
            loaded = self.service.load(conn, owner_id, lock=True)
            change = changes.cancel(conn, owner_id, change_id, now)
            self.service.record(conn, owner_id, "change.cancelled", {"change": change.id, "via": via})
            return change.to_dict(loaded.policy.timezone)

    def open_cancel_link(self, token: str) -> dict[str, Any]:
        """The change a cancel link (``/x/…``) was made for; nothing changes."""
        with reading(self.service.engine) as conn:
            link = links.resolve(conn, self.service.key, token, Purpose.CANCEL, self.service.clock.now())
            loaded = self.service.load(conn, link.owner_id)
            return changes.by_cancel_link(conn, link).to_dict(loaded.policy.timezone)

    def cancel_by_link(self, token: str) -> dict[str, Any]:
        now = self.service.clock.now()
        with self.service.engine.begin() as conn:
            link = links.resolve(conn, self.service.key, token, Purpose.CANCEL, now)
            links.consume(conn, link, now)
            loaded = self.service.load(conn, link.owner_id, lock=True)
            change = changes.cancel(conn, link.owner_id, changes.by_cancel_link(conn, link).id, now)
            self.service.record(conn, link.owner_id, "change.cancelled", {"change": change.id, "via": "link"})
            return change.to_dict(loaded.policy.timezone)


def _requesters_of(owner_id: int) -> tuple[Any, ...]:
    """The owner's release-request links not revoked."""
    return (link_rows.c.owner_id == owner_id, link_rows.c.purpose == str(Purpose.REQUEST),
            link_rows.c.revoked_at.is_(None))


def _requester_ids(conn: Connection, owner_id: int) -> set[int]:
    return set(conn.execute(select(link_rows.c.id).where(*_requesters_of(owner_id))).scalars())
