"""The witness's side: pairing codes, pairing, storing what a primary sends (refusing forgeries, replays,
older versions, and versions it has no disk for; each refusal audited), and watching: taking a switch over
when ``switch.witness.decide`` says so, and handing it back when the primary is heard again.

A mirror switch is kept dormant (no due moment: the worker never looks at it) until the takeover; from
then on the witness's own worker runs it like any switch, so its alerts, check-in links, confirmation,
stages, packages and notices are the ones the primary would have made.
"""

from __future__ import annotations

import logging
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from baton.errors import BadRequest, Conflict, Unauthorized
from baton.services import accounts
from baton.services.witness import claims, mirror, wire
from baton.store import auditlog
from baton.store.blobs import BlobStore
from baton.store.tables import api_tokens, switches
from baton.store.witness_tables import witness_claims, witness_codes, witnessed
from switch import (
    Event,
    Kind,
    Status,
    Step,
    hash_token,
    iso,
    policy_to_dict,
    state_from_dict,
    state_to_dict,
)
from switch import witness as rule

log = logging.getLogger("baton.witness")
CODE_TTL = timedelta(days=1)


class InsufficientStorage(Exception):
    """The witness has no room for a new version (HTTP 507); the primary flags it in readiness."""


def make_code(conn: Connection, now: datetime) -> str:
    """A one-time pairing code for the operator to give an owner (stored hashed; a day to use it)."""
    code = "-".join(secrets.token_hex(3) for _ in range(3))
    conn.execute(insert(witness_codes).values(code_hash=hash_token(code), created_at=now, expires_at=now + CODE_TTL))
    return code


@dataclass
class Witness:
    """The witness's use-cases over a switch service (same engine, clock, signer, key)."""

    service: Any  # SwitchService

    @property
    def store(self) -> BlobStore:
        return BlobStore(self.service.settings.data_dir / "blobs")

    def pair(self, data: Any) -> dict[str, Any]:
        """A primary pairs with the operator's code: a dormant mirror switch for its owner. The answer,
        signed by this witness, names the link."""
        msg = wire.open_message(data, expect_kind="pair")
        body = msg.body
        now = self.service.clock.now()
        with self.service.engine.begin() as conn:
            code = conn.execute(select(witness_codes).where(
                witness_codes.c.code_hash == hash_token(str(body.get("code", ""))))).first()
            if code is None or code.used_at is not None or code.expires_at <= now:
                raise Unauthorized("pairing code: expected a code this witness's operator made (unused, under a "
                                "day old), got one it does not know")
            conn.execute(update(witness_codes).where(witness_codes.c.id == code.id).values(used_at=now))
            if conn.execute(select(witnessed.c.id).where(witnessed.c.primary_public == msg.sender,
                                                         witnessed.c.remote_owner == msg.owner)).first():
                raise Conflict("this switch is already linked to this witness")
            owner = body.get("owner") or {}
            policy = self.service.check_policy(body["policy"])
            state = state_from_dict(body["state"])
            made = accounts.create_owner(conn, self.service.key, str(owner.get("email", "")),
                                         secrets.token_urlsafe(24), str(owner.get("timezone", "UTC")), now,
                                         language=str(owner.get("language", "en")))
            conn.execute(delete(api_tokens).where(api_tokens.c.owner_id == made.owner.id))
            conn.execute(insert(switches).values(owner_id=made.owner.id, policy=policy_to_dict(policy),
                                                 state=state_to_dict(state), status=str(state.status),
                                                 next_due_at=None, version=0, updated_at=now))
            link_id = conn.execute(insert(witnessed).values(
                owner_id=made.owner.id, primary_public=msg.sender, primary_url=str(body.get("url", "")),
                remote_owner=msg.owner, rank=int(body.get("rank", 0)),
                silence_seconds=float(body["silence_seconds"]), last_seq=msg.seq,
                version=int(body.get("version", 0)), heard_at=now,
                reported={"version": int(body.get("version", 0)), "state": body["state"]},
                created_at=now)).inserted_primary_key[0]
            auditlog.append(conn, self.service.signer, made.owner.id, now, "witness.paired",
                            {"primary": msg.sender, "silence_seconds": float(body["silence_seconds"])})
        return wire.seal(self.service.signer, "answer", msg.owner, msg.seq, now, {"link": int(link_id)})

    def _link(self, conn: Connection, msg: wire.Message) -> Any:
        row = conn.execute(select(witnessed).where(witnessed.c.primary_public == msg.sender,
                                                   witnessed.c.remote_owner == msg.owner)
                           .with_for_update()).first()
        if row is None:
            raise Unauthorized("expected a message from a primary paired with this witness, got one from a key "
                            "it does not know")
        return row

    def refuse(self, data: Any, kind: str, why: str) -> None:
        """Audit a refused message on the mirror owner it claims to be for (when there is one)."""
        now = self.service.clock.now()
        sender = str(data.get("from", "")) if isinstance(data, dict) else ""
        owner = data.get("owner") if isinstance(data, dict) else None
        log.warning("refused a %s message: %s", kind, why)
        if not isinstance(owner, int):
            return
        with self.service.engine.begin() as conn:
            row = conn.execute(select(witnessed.c.owner_id).where(witnessed.c.primary_public == sender,
                                                                  witnessed.c.remote_owner == owner)).first()
            if row is not None:
                auditlog.append(conn, self.service.signer, row.owner_id, now, "witness.refused",
                                {"kind": kind, "why": why[:300]})

    def receive(self, data: Any, kind: str) -> dict[str, Any]:
        """A heartbeat or a sync from a paired primary; the signed answer (what the witness did, if it
        held the switch). Forged, replayed or older messages raise; the caller audits with ``refuse``."""
        msg = wire.open_message(data, expect_kind=kind)
        now = self.service.clock.now()
        with self.service.engine.begin() as conn:
            link = self._link(conn, msg)
            if msg.seq <= link.last_seq:
                raise Conflict(f"message number {msg.seq}: expected one after {link.last_seq} (a replay, or "
                               "an old message) — refused")
            version = int(msg.body.get("version", -1))
            if kind == "sync":
                self._sync(conn, link, msg, version, now)
                values: dict[str, Any] = {"version": version}
            else:
                reported_version = int((link.reported or {}).get("version", -1))
                if version < reported_version:
                    raise Conflict(f"switch version {version}: expected {reported_version} or newer — refused")
                values = {"reported": {"version": version, "state": msg.body["state"]}, "heard_at": now}
                if "siblings" in msg.body:
                    values["siblings"] = claims.siblings_from(msg.body["siblings"])
                if "policy" in msg.body and link.taken_over_at is None:
                    policy = policy_to_dict(self.service.check_policy(msg.body["policy"]))
                    conn.execute(update(switches).where(switches.c.owner_id == link.owner_id).values(policy=policy))
            conn.execute(update(witnessed).where(witnessed.c.id == link.id).values(last_seq=msg.seq, **values))
            answer = self._outcome(conn, link, msg.body.get("state"), now) if kind == "heartbeat" else {}
        return wire.seal(self.service.signer, "answer", msg.owner, msg.seq, now,
                         {**answer, "version": version, "stored": True})

    def _sync(self, conn: Connection, link: Any, msg: wire.Message, version: int, now: datetime) -> None:
        if version <= link.version:
            raise Conflict(f"version {version}: expected a version newer than {link.version} — refused")
        if link.taken_over_at is not None:
            raise Conflict("this witness holds the switch now; it takes changes again once the primary is back")
        data = msg.body.get("data") or {}
        needed = sum(len(b) for b in data.get("blobs", {}).values())
        free = shutil.disk_usage(self.store.root if self.store.root.exists() else self.service.settings.data_dir).free
        if free - needed < self.service.settings.witness_min_free_bytes:
            raise InsufficientStorage(f"out of disk: {free} bytes free, {needed} needed beside the "
                                      f"{self.service.settings.witness_min_free_bytes} kept free — version "
                                      f"{version} refused")
        try:
            with self.store.committing():
                mirror.place_blobs(self.store, data.get("blobs", {}), self.service.settings.max_compartment_bytes)
        except OSError as exc:
            raise InsufficientStorage(f"could not store the compartment files ({type(exc).__name__}) — "
                                      f"version {version} refused") from None
        try:
            counts = mirror.load(conn, link.owner_id, data, now)
        except (mirror.MirrorError, KeyError, ValueError, TypeError) as exc:
            raise BadRequest(f"sync version {version}: {exc}") from None
        if "policy" in msg.body:
            policy = self.service.check_policy(msg.body["policy"])
            conn.execute(update(switches).where(switches.c.owner_id == link.owner_id)
                         .values(policy=policy_to_dict(policy)))
        if "silence_seconds" in msg.body:
            conn.execute(update(witnessed).where(witnessed.c.id == link.id)
                         .values(silence_seconds=float(msg.body["silence_seconds"])))
        auditlog.append(conn, self.service.signer, link.owner_id, now, "witness.synced",
                        {"version": version, **counts})

    def _outcome(self, conn: Connection, link: Any, reported: Any, now: datetime) -> dict[str, Any]:
        """What the witness did while it held the switch; handed back (the switch dormant again) once the
        primary's report shows it took it in."""
        if link.taken_over_at is None:
            return {}
        loaded = self.service.load(conn, link.owner_id, lock=True)
        held = loaded.state
        outcome = {"checked_in_at": iso(held.armed_at) if held.cycle > _cycle(link) else None,
                   "stages_run": held.stages_run if held.status in (Status.FIRED, Status.RELEASED) else 0,
                   "cycle": held.cycle, "taken_over_at": iso(link.taken_over_at)}
        if reported is not None:
            primary = state_from_dict(reported)
            took_in = (outcome["checked_in_at"] is None or primary.armed_at >= held.armed_at) and \
                primary.stages_run >= outcome["stages_run"]
            if took_in:
                conn.execute(update(witnessed).where(witnessed.c.id == link.id).values(taken_over_at=None))
                conn.execute(update(switches).where(switches.c.id == loaded.id).values(
                    state=reported, status=primary.status, next_due_at=None, version=loaded.version + 1))
                auditlog.append(conn, self.service.signer, link.owner_id, now, "witness.handed_back",
                                {"primary_version": int((link.reported or {}).get("version", -1))})
        return {"outcome": outcome}

    def watch(self) -> int:
        """Take over every switch the rule says to; how many were taken over now."""
        now = self.service.clock.now()
        taken = 0
        with self.service.engine.connect() as conn:
            ids = [r.id for r in conn.execute(select(witnessed.c.id).where(witnessed.c.taken_over_at.is_(None)))]
        for link_id in ids:
            taken += self._consider(link_id, now)
        if taken:
            self.service.on_change(now)
        return taken

    def _consider(self, link_id: int, now: datetime) -> int:
        """The rule with the claims known; with siblings, ask them, claim, tell them, then the rule again
        (README "Several witnesses"). The network calls happen outside any transaction."""
        with self.service.engine.begin() as conn:
            judged = self._judge(conn, link_id, now)
            if judged is None:
                return 0
            link, report = judged
            if not link.siblings:
                return self._take_over(conn, link, report, now)
        exchange = claims.Claims(self.service)
        exchange.exchange(link, report.version, None)  # does a sibling already hold a claim?
        with self.service.engine.begin() as conn:
            judged = self._judge(conn, link_id, now)
            if judged is None:
                return 0
            link, report = judged
            mine = exchange.record_own(conn, link, report.version, now)  # checked and recorded in one transaction
        exchange.exchange(link, report.version, mine)  # every sibling learns it before this witness acts
        with self.service.engine.begin() as conn:
            judged = self._judge(conn, link_id, now)
            if judged is None:
                return 0
            return self._take_over(conn, *judged, now)

    def _judge(self, conn: Connection, link_id: int, now: datetime) -> tuple[Any, rule.Report] | None:
        """(the link, locked, and what it last heard) when the rule says take over now, with every claim
        known; None otherwise (a yield is audited once per version)."""
        link = conn.execute(select(witnessed).where(witnessed.c.id == link_id).with_for_update()).first()
        if link is None or link.taken_over_at is not None or not link.reported:
            return None
        loaded = self.service.load(conn, link.owner_id, lock=True)
        report = rule.Report(int(link.reported["version"]), link.heard_at, state_from_dict(link.reported["state"]))
        decision = rule.decide(loaded.policy, report, timedelta(seconds=link.silence_seconds), now, rank=link.rank,
                               witness=self.service.signer.public_hex, claims=claims.known(conn, link))
        if decision.verdict is rule.Verdict.YIELD and link.yielded_version != report.version:
            conn.execute(update(witnessed).where(witnessed.c.id == link.id).values(yielded_version=report.version))
            auditlog.append(conn, self.service.signer, link.owner_id, now, "witness.yielded",
                            {"version": report.version, "reason": decision.reason})
            log.warning("yielded switch of owner %s: %s", link.owner_id, decision.reason)
        if decision.verdict is not rule.Verdict.TAKE_OVER:
            return None
        return link, report

    def _take_over(self, conn: Connection, link: Any, report: rule.Report, now: datetime) -> int:
        """Take the switch of ``link`` over from ``report``, in the transaction ``_judge`` locked it in."""
        loaded = self.service.load(conn, link.owner_id, lock=True)
        start = rule.start_state(loaded.policy, report, now)
        events: tuple[Event, ...] = ()
        if start.status is Status.GRACE:
            events = (Event(now, Kind.DEADLINE, f"the primary has been silent since {iso(link.heard_at)}; "
                                                "this witness took the switch over",
                            data={"deadline": iso(start.deadline), "silent_since": iso(link.heard_at)}),)
        conn.execute(update(witnessed).where(witnessed.c.id == link.id).values(taken_over_at=now))
        conn.execute(update(witness_claims).where(witness_claims.c.witnessed_id == link.id,
                                                  witness_claims.c.witness_public == self.service.signer.public_hex)
                     .values(held=True))
        auditlog.append(conn, self.service.signer, link.owner_id, now, "witness.took_over",
                        {"version": report.version, "heard_at": iso(link.heard_at), "rank": link.rank,
                         "siblings": len(link.siblings or [])})
        loaded = self.service.load(conn, link.owner_id, lock=True)  # the audit head moved
        if not self.service._store(conn, loaded, loaded.policy, Step(start, events), now):
            raise Conflict("the mirror switch changed at the same moment")
        log.warning("took over switch of owner %s (primary silent since %s)", link.owner_id, iso(link.heard_at))
        return 1


def _cycle(link: Any) -> int:
    return int((link.reported or {}).get("state", {}).get("cycle", 0))
