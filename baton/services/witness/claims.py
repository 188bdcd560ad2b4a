"""Takeover claims between the sibling witnesses of one switch (README "Several witnesses").

The primary names each witness's siblings (address, key, rank) in every heartbeat. A witness about to take a
switch over first asks each sibling whether it holds a claim (``ask``), then, if it learned none, records its
own signed claim — checked and recorded in one transaction, so no sibling's claim can slip in between — and
sends it to each sibling (``tell``); each answer carries the sibling's own claim and whether it holds the
switch. ``switch.witness.decide`` then says, from every claim known, whether it acts or yields. A claim is
taken only when signed by a key the primary named as a sibling; any other is refused and audited.

A sibling that does not answer does not block: the witness goes on (audited). Two witnesses that cannot
reach each other, while both are cut off from the primary, may then both act; the rank stagger still puts
one a whole silence before the other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from baton.errors import BadRequest, Unauthorized
from baton.services.witness import wire
from baton.services.witness.transport import WitnessUnreachable, host, post
from baton.store import auditlog
from baton.store.witness_tables import witness_claims, witnessed
from switch import iso
from switch import witness as rule

log = logging.getLogger("baton.witness")
SKEW = timedelta(minutes=10)  # how far ahead of this witness's clock a sibling's claim may be dated
MAX_PASSED = 40  # claims of others passed on in one answer (20 siblings, two versions each)


def siblings_from(data: Any) -> list[dict[str, Any]]:
    """The sibling list of a heartbeat, checked: [{url, key, rank}]."""
    if not isinstance(data, list) or len(data) > 20:
        raise BadRequest("siblings: expected a list of at most 20 witnesses")
    out = []
    for i, item in enumerate(data):
        if not (isinstance(item, dict) and isinstance(item.get("url"), str) and isinstance(item.get("key"), str)
                and isinstance(item.get("rank"), int) and len(item["key"]) == 64):
            raise BadRequest(f"siblings[{i}]: expected {{url, key (64 hex), rank}}, got {str(item)[:80]}")
        out.append({"url": item["url"][:500].rstrip("/"), "key": item["key"], "rank": item["rank"]})
    return out


def known(conn: Connection, link: Any) -> tuple[rule.Claim, ...]:
    """Every claim this witness holds for the switch of ``link`` (its own among them); a claim counts as held
    when its witness was seen holding the switch since the primary was last heard (a takeover handed back
    to the primary since is over)."""
    rows = conn.execute(select(witness_claims).where(witness_claims.c.witnessed_id == link.id)).all()
    return tuple(rule.Claim(r.witness_public, r.rank, r.version, r.claimed_at,
                            bool(r.held) and r.learned_at >= link.heard_at) for r in rows)


def _store(conn: Connection, link: Any, key: str, rank: int, version: int, at: datetime, held: bool,
           message: dict[str, Any], now: datetime) -> bool:
    """Store a claim (or mark it held); whether it was new."""
    row = conn.execute(select(witness_claims.c.id, witness_claims.c.held).where(
        witness_claims.c.witnessed_id == link.id, witness_claims.c.witness_public == key,
        witness_claims.c.version == version)).first()
    if row is not None:
        if held:  # seen holding now: the moment it was seen is what counts (``known``)
            conn.execute(update(witness_claims).where(witness_claims.c.id == row.id).values(held=True, learned_at=now))
        return False
    conn.execute(insert(witness_claims).values(witnessed_id=link.id, witness_public=key, rank=rank, version=version,
                                               claimed_at=at, held=held, message=message, learned_at=now))
    return True


def _sibling(link: Any, key: str) -> dict[str, Any] | None:
    return next((s for s in (link.siblings or []) if s["key"] == key), None)


def _checked(link: Any, message: Any, key: str, now: datetime) -> tuple[int, datetime, dict[str, Any]]:
    """A sibling's signed claim for this switch: (version, at, message); WireError when it is not one, or when
    it is dated ahead of this witness's clock by more than ``SKEW`` (a claim counts from its moment on)."""
    msg = wire.open_message(message, expect_kind="claim", expect_key=key)
    body = msg.body
    if body.get("primary") != link.primary_public or msg.owner != link.remote_owner or not body.get("at"):
        raise wire.WireError("expected a claim for this switch (its primary and owner), got one for another")
    try:
        version, at = int(body["version"]), datetime.fromisoformat(str(body["at"]))
    except (KeyError, ValueError, TypeError):
        raise wire.WireError("expected a claim with a version and a moment") from None
    if at.tzinfo is None or at > now + SKEW:
        raise wire.WireError(f"expected a claim dated by a clock in UTC, at most {SKEW} ahead of this one's "
                             f"({iso(now)}), got {str(body['at'])[:40]}")
    return version, at, message


@dataclass
class Claims:
    """The claim exchange, over a switch service (engine, clock, signer, settings)."""

    service: Any  # SwitchService

    def receive(self, data: Any) -> dict[str, Any]:
        """A sibling asks (``at`` null) or tells its claim: stored when it is a claim from a key the primary
        named; the signed answer carries this witness's own claim, if any, and whether it holds the switch."""
        msg = wire.open_message(data, expect_kind="claim")
        now = self.service.clock.now()
        which = select(witnessed).where(witnessed.c.primary_public == str(msg.body.get("primary")),
                                        witnessed.c.remote_owner == msg.owner)
        with self.service.engine.connect() as conn:  # a stranger is refused before any row is locked
            self._named(conn.execute(which).first(), msg.sender)
        with self.service.engine.begin() as conn:
            link = conn.execute(which.with_for_update()).first()
            sibling = self._named(link, msg.sender)
            if msg.body.get("at"):
                version, at, message = _checked(link, data, msg.sender, now)
                self._learn(conn, link, sibling, version, at, False, message, now)
            mine = self.service.signer.public_hex
            stored = conn.execute(select(witness_claims.c.witness_public, witness_claims.c.message).where(
                witness_claims.c.witnessed_id == link.id).order_by(witness_claims.c.claimed_at.desc())).all()
            own = next((r.message for r in stored if r.witness_public == mine), None)
            # Every claim it knows, each signed by its maker: a sibling that cannot reach that maker learns it
            # here (three witnesses: the one that cannot reach the holder learns of it from the third).
            others = [r.message for r in stored if r.witness_public != mine][:MAX_PASSED]
            held = link.taken_over_at is not None
        return wire.seal(self.service.signer, "answer", msg.owner, msg.seq, now,
                         {"claim": own, "held": held, "claims": others})

    @staticmethod
    def _named(link: Any, sender: str) -> dict[str, Any]:
        """The sibling entry of ``sender`` for the switch of ``link``; Unauthorized when there is none."""
        if link is None:
            raise Unauthorized("expected a claim about a switch this witness watches, got one it does not know")
        sibling = _sibling(link, sender)
        if sibling is None:
            raise Unauthorized(f"expected a claim signed by a witness the primary named, got one from "
                               f"{sender[:16]}… — refused")
        return sibling

    def refuse(self, data: Any, why: str) -> None:
        """Audit a refused claim on the mirror owner it names (when this witness watches that switch)."""
        log.warning("refused a claim: %s", why)
        body = data.get("body") if isinstance(data, dict) else None
        if not isinstance(body, dict) or not isinstance(data.get("owner"), int):
            return
        now = self.service.clock.now()
        with self.service.engine.begin() as conn:
            row = conn.execute(select(witnessed.c.owner_id).where(
                witnessed.c.primary_public == str(data["body"].get("primary", "")),
                witnessed.c.remote_owner == data["owner"])).first()
            if row is not None:
                auditlog.append(conn, self.service.signer, row.owner_id, now, "witness.refused",
                                {"kind": "claim", "from": str(data.get("from", ""))[:64], "why": why[:300]})

    def record_own(self, conn: Connection, link: Any, version: int, now: datetime) -> dict[str, Any]:
        """This witness's signed claim for ``version`` (stored and audited; the stored one if it exists)."""
        mine = self.service.signer.public_hex
        found = conn.execute(select(witness_claims.c.message).where(
            witness_claims.c.witnessed_id == link.id, witness_claims.c.witness_public == mine,
            witness_claims.c.version == version)).scalar()
        if found is not None:
            return dict(found)
        message = wire.seal(self.service.signer, "claim", link.remote_owner, version, now,
                            {"primary": link.primary_public, "version": version, "rank": link.rank, "at": iso(now)})
        _store(conn, link, mine, link.rank, version, now, False, message, now)
        auditlog.append(conn, self.service.signer, link.owner_id, now, "witness.claimed",
                        {"version": version, "rank": link.rank, "siblings": len(link.siblings or [])})
        return message

    def exchange(self, link: Any, version: int, claim: dict[str, Any] | None) -> int:
        """Ask (``claim`` None) or tell each sibling; store each valid claim an answer carries. Outside any
        transaction; each sibling bounded by ``BATON_WITNESS_TIMEOUT``. How many siblings answered."""
        now = self.service.clock.now()
        asked = claim or wire.seal(self.service.signer, "claim", link.remote_owner, version, now,
                                   {"primary": link.primary_public, "version": version, "rank": link.rank,
                                    "at": None})
        answered = 0
        for sibling in link.siblings or []:
            try:
                status, answer = post(self.service.settings, f"{sibling['url']}/witness/claims", asked)
                if status != 200:
                    detail = answer.get("detail") if isinstance(answer, dict) else None
                    raise WitnessUnreachable(f"refused the claim: {detail or f'HTTP {status}'}")
                signed = wire.open_message(answer, expect_kind="answer", expect_key=sibling["key"])
                theirs = signed.body.get("claim")
                answered += 1
                if theirs is not None:
                    self._learned(link, sibling, theirs, bool(signed.body.get("held")))
                self._passed_on(link, sibling, signed.body.get("claims"))
            except (WitnessUnreachable, wire.WireError) as exc:
                self._note(link, "witness.sibling_unreachable", {"witness": host(sibling["url"]),
                                                                 "phase": "tell" if claim else "ask",
                                                                 "why": str(exc)[:300]})
        return answered

    def _passed_on(self, link: Any, via: dict[str, Any], messages: Any) -> None:
        """The claims of others a sibling passed on, each checked against the key of the sibling that made
        it (one the primary named; this witness's own claims are skipped)."""
        if not isinstance(messages, list):
            return
        mine = self.service.signer.public_hex
        for message in messages[:MAX_PASSED]:
            maker = str(message.get("from", "")) if isinstance(message, dict) else ""
            if maker == mine or maker == via["key"]:
                continue
            sibling = _sibling(link, maker)
            if sibling is None:
                self._note(link, "witness.refused", {"kind": "claim", "from": maker[:64], "via": host(via["url"]),
                                                     "why": "passed on a claim by a key the primary did not name"})
                continue
            self._learned(link, sibling, message, False)

    def _learned(self, link: Any, sibling: dict[str, Any], message: Any, held: bool) -> None:
        now = self.service.clock.now()
        try:
            version, at, message = _checked(link, message, sibling["key"], now)
        except wire.WireError as exc:
            self._note(link, "witness.refused", {"kind": "claim", "from": sibling["key"][:64], "why": str(exc)[:300]})
            return
        with self.service.engine.begin() as conn:
            self._learn(conn, link, sibling, version, at, held, message, now)

    def _learn(self, conn: Connection, link: Any, sibling: dict[str, Any], version: int, at: datetime, held: bool,
               message: dict[str, Any], now: datetime) -> None:
        """Store a sibling's checked claim; audited when it is new to this witness."""
        if _store(conn, link, sibling["key"], int(sibling["rank"]), version, at, held, message, now):
            auditlog.append(conn, self.service.signer, link.owner_id, now, "witness.claim_learned",
                            {"witness": host(sibling["url"]), "rank": sibling["rank"], "version": version,
                             "at": iso(at), "held": held})

    def _note(self, link: Any, kind: str, data: dict[str, Any]) -> None:
        log.warning("%s: %s", kind, data)
        with self.service.engine.begin() as conn:
            auditlog.append(conn, self.service.signer, link.owner_id, self.service.clock.now(), kind, data)
