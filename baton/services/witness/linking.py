"""The primary's side: linking a witness (its key compared, the operator's one-time code), sending each
witness its heartbeat and every change (signed, numbered), recording what each answered, and taking in
what a witness did while it held a switch (a check-in there is a check-in; a stage it ran is run).

Nothing here raises into the worker: a witness that does not answer, or refuses, is recorded on its link
(``problem``) for the dashboard, ``baton status`` and readiness.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, select, update

from baton.errors import BadRequest, Conflict
from baton.services.witness import hold, mirror, transport, wire
from baton.services.witness.transport import WitnessUnreachable, fetch_key
from baton.store import auditlog
from baton.store.blobs import BlobStore
from baton.store.engine import reading
from baton.store.witness_tables import witness_links
from switch import Event, Kind, Step, iso, parse_duration
from switch import machine as core
from switch import witness as rule

log = logging.getLogger("baton.witness")


@dataclass
class Linking:
    """The primary's use-cases over a switch service."""

    service: Any  # SwitchService
    sent: dict[int, str] = field(default_factory=dict)  # link id -> digest of the last sync the witness stored
    # In one round of pushes after a batch (``push_pending``): the witnesses that did not answer, not asked
    # again for the other switches of the round (a batch waits one timeout per dead witness, not per switch).
    down: set[str] | None = None

    @property
    def store(self) -> BlobStore:
        return BlobStore(self.service.settings.data_dir / "blobs")

    def add(self, owner_id: int, url: str, code: str, key: str, silence: str) -> dict[str, Any]:
        """Link a witness: ``key`` is the witness's key as the owner compared it; nothing is linked unless
        the witness answers, takes the code and signs with that key."""
        url = url.rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
            raise BadRequest(f"url: expected http(s)://host[:port] of a Baton witness (no user or password in it), "
                             f"got {transport.host(url)!r}")
        try:
            seconds = parse_duration(silence).total_seconds()
        except ValueError as exc:
            raise BadRequest(f"silence: {exc}") from None
        try:
            actual = fetch_key(self.service.settings, url)
        except WitnessUnreachable as exc:
            raise BadRequest(str(exc)) from None
        if actual != key:
            raise Conflict(f"the witness at {transport.host(url)} signs with {actual[:16]}…, not the key "
                           f"{key[:16]}… you compared: its key changed, or this is not the witness you meant; "
                           "nothing linked")
        with reading(self.service.engine) as conn:
            if conn.execute(select(witness_links.c.id).where(witness_links.c.owner_id == owner_id,
                                                             witness_links.c.url == url)).first():
                raise Conflict(f"the witness at {transport.host(url)} is already linked")
            rank = len(conn.execute(select(witness_links.c.id).where(witness_links.c.owner_id == owner_id)).all())
            loaded = self.service.load(conn, owner_id)
            from baton.services import accounts
            owner = accounts.get_owner(conn, owner_id)
        now = self.service.clock.now()
        body = {"code": code, "silence_seconds": seconds, "rank": rank, "url": self.service.settings.base_url,
                "owner": {"email": owner.email, "timezone": owner.timezone, "language": owner.language},
                "policy": self.service.get_policy(owner_id), "state": _state(loaded), "version": loaded.version}
        try:
            status, answer = transport.post(self.service.settings, f"{url}/witness/pair",
                                            wire.seal(self.service.signer, "pair", owner_id, 1, now, body))
        except WitnessUnreachable as exc:
            raise BadRequest(str(exc)) from None
        if status != 200:
            detail = answer.get("detail") if isinstance(answer, dict) else None
            raise BadRequest(f"the witness refused to pair: {detail or f'HTTP {status}'}; nothing linked")
        try:
            signed = wire.open_message(answer, expect_kind="answer", expect_key=key)
        except wire.WireError as exc:
            raise BadRequest(f"the witness's answer: {exc}; nothing linked") from None
        with self.service.engine.begin() as conn:
            conn.execute(insert(witness_links).values(
                owner_id=owner_id, url=url, witness_public=key, remote_id=int(signed.body["link"]), rank=rank,
                silence_seconds=seconds, seq=1, created_at=now, beat_at=now))
            auditlog.append(conn, self.service.signer, owner_id, now, "witness.linked",
                            {"url": url, "key": key, "rank": rank, "silence_seconds": seconds})
        self.push_owner(owner_id)  # the new witness, and the others learn their new sibling
        return self.listed(owner_id)[-1]

    def listed(self, owner_id: int) -> list[dict[str, Any]]:
        """The owner's witnesses: where, its key, its last heartbeat and synced version, any problem."""
        with reading(self.service.engine) as conn:
            rows = conn.execute(select(witness_links).where(witness_links.c.owner_id == owner_id)
                                .order_by(witness_links.c.rank)).all()
        return [{"id": r.id, "url": r.url, "key": r.witness_public, "rank": r.rank,
                 "silence_seconds": r.silence_seconds, "last_heartbeat": iso(r.beat_at) if r.beat_at else None,
                 "synced_version": r.synced_version, "problem": r.problem,
                 "problem_at": iso(r.problem_at) if r.problem_at else None} for r in rows]

    def problems(self, owner_id: int, now: datetime) -> list[str]:
        """Readiness: each witness that is behind, refusing or unreachable, in words."""
        found = []
        for item in self.listed(owner_id):
            if item["problem"]:
                found.append(f"witness {item['url']}: {item['problem']}")
            elif item["last_heartbeat"] is None or now - datetime.fromisoformat(item["last_heartbeat"]) > \
                    timedelta(seconds=3 * self.service.settings.witness_heartbeat_seconds):
                found.append(f"witness {item['url']}: no heartbeat acknowledged since {item['last_heartbeat']}")
        return found

    def push_all(self) -> int:
        """A heartbeat (and the changes, when there are) to every witness, each owner's held messages settled
        after (a crashed process's among them; an owner left with held messages and no witness has them
        released); how many witnesses answered."""
        with reading(self.service.engine) as conn:
            owners = sorted(set(conn.execute(select(witness_links.c.owner_id)).scalars())
                            | hold.held_owners(conn))
        return sum(self.push_owner(owner_id) for owner_id in owners)

    def push_owner(self, owner_id: int, sync: bool = True) -> int:
        """Every witness of the owner hears the switch's state (read once, with the messages held for it: see
        ``hold``), then those messages are settled (``settle``); how many witnesses answered. A push that
        breaks off (the database) settles nothing: the next one does."""
        with reading(self.service.engine) as conn:
            loaded = self.service.load(conn, owner_id)
            held = hold.held_ids(conn, owner_id)
            ids = list(conn.execute(select(witness_links.c.id).where(witness_links.c.owner_id == owner_id)
                                    .order_by(witness_links.c.rank, witness_links.c.id)).scalars())
        heard: list[tuple[str, Any]] = []
        answered = sum(self.push_link(link_id, loaded, sync=sync, heard=heard) for link_id in ids)
        self.settle(owner_id, loaded, held, heard)
        return answered

    def settle(self, owner_id: int, loaded: Any, held: list[int], heard: list[tuple[str, Any]]) -> None:
        """The held messages ``held`` after every witness was sent ``loaded`` (the state they belong to):
        superseded when a witness answered that it held the switch and its outcome covers them (it ran at
        least the stages of ``loaded``, or the owner checked in there, or its outcome cannot be read: it
        held the switch, and twice is what must not happen); released otherwise — a witness that did not
        answer never holds them back, and one that held the switch but is behind ``loaded`` hands it back on
        seeing it and never runs those stages, so the primary's copies are the first."""
        if not held:
            return
        for host, outcome in heard:
            if _covers(outcome, loaded.state):
                done = hold.supersede(self.service, owner_id, held, host, outcome if isinstance(outcome, dict)
                                      else {})
                log.warning("owner %s: %d held messages superseded (witness %s ran the stage while it held the "
                            "switch)", owner_id, len(done), host)
                return
        if hold.release(self.service.engine, held):
            self.service.on_change(None)  # the messages are due now: wake the senders of this process

    def _next_seq(self, link_id: int) -> tuple[Any, int]:
        with self.service.engine.begin() as conn:
            conn.execute(update(witness_links).where(witness_links.c.id == link_id)
                         .values(seq=witness_links.c.seq + 1))
            row = conn.execute(select(witness_links).where(witness_links.c.id == link_id)).one()
        return row, int(row.seq)

    def siblings(self, owner_id: int, link_id: int) -> list[dict[str, Any]]:
        """The owner's other witnesses, as a witness is told them (to exchange takeover claims with)."""
        with reading(self.service.engine) as conn:
            rows = conn.execute(select(witness_links.c.url, witness_links.c.witness_public, witness_links.c.rank)
                                .where(witness_links.c.owner_id == owner_id, witness_links.c.id != link_id)
                                .order_by(witness_links.c.rank)).all()
        return [{"url": r.url, "key": r.witness_public, "rank": r.rank} for r in rows]

    def push_link(self, link_id: int, loaded: Any = None, sync: bool = True,
                  heard: list[tuple[str, Any]] | None = None) -> int:
        """The heartbeat first (its answer says what the witness did while it held the switch, taken in at
        once), then a sync when the content changed since the witness last stored it; 1 when the witness
        took both. ``loaded``: the switch as already read (``push_owner``); ``heard`` gets (the witness's
        host, its outcome) when the witness answers that it held the switch, readable or not."""
        try:
            link, seq = self._next_seq(link_id)
            if loaded is None:
                with reading(self.service.engine) as conn:
                    loaded = self.service.load(conn, link.owner_id)
            # The policy rides with the state: a witness never judges a new state by an old policy.
            answer = self._send(link, "heartbeat", seq, {"version": loaded.version, "state": _state(loaded),
                                                         "policy": self.service.get_policy(link.owner_id),
                                                         "siblings": self.siblings(link.owner_id, link_id)})
            self._note(link_id, beat_at=self.service.clock.now(), problem=None, problem_at=None)
            outcome = answer.body.get("outcome")
            if outcome:
                if heard is not None:
                    heard.append((transport.host(link.url), outcome))
                self.take_in(link.owner_id, link_id, outcome)
                return 1  # the witness hands the switch back on the next heartbeat; changes follow then
            if not sync:
                return 1
            with reading(self.service.engine) as conn:
                data = mirror.export(conn, self.store, link.owner_id)
            policy = self.service.get_policy(link.owner_id)
            digest = hashlib.sha256(json.dumps([data, policy, link.silence_seconds], sort_keys=True,
                                               default=str).encode()).hexdigest()
            if self.sent.get(link_id) != digest:
                link, seq = self._next_seq(link_id)
                body = {"version": seq, "data": data, "policy": policy, "silence_seconds": link.silence_seconds}
                self._send(link, "sync", seq, body)
                self._note(link_id, synced_version=seq)
                self.sent[link_id] = digest
            return 1
        except (WitnessUnreachable, Conflict, BadRequest) as exc:
            self._note(link_id, problem=str(exc)[:500], problem_at=self.service.clock.now())
            log.warning("witness link %s: %s", link_id, exc)
            return 0
        except (ValueError, TypeError, KeyError) as exc:  # a signed answer whose content we cannot read
            problem = f"its answer could not be read ({type(exc).__name__}: {str(exc)[:200]})"
            self._note(link_id, problem=problem, problem_at=self.service.clock.now())
            log.warning("witness link %s: %s", link_id, problem)
            return 0

    def _send(self, link: Any, kind: str, seq: int, body: dict[str, Any]) -> wire.Message:
        now = self.service.clock.now()
        if self.down is not None and link.url in self.down:
            raise WitnessUnreachable(f"the witness at {transport.host(link.url)} did not answer earlier in this round")
        try:
            status, answer = transport.post(self.service.settings, f"{link.url}/witness/{kind}",
                                            wire.seal(self.service.signer, kind, link.owner_id, seq, now, body))
        except WitnessUnreachable:
            if self.down is not None:
                self.down.add(link.url)
            raise
        if status == 507:
            raise Conflict(f"refuses new versions: {answer.get('detail', 'out of disk')}")
        if status != 200:
            detail = answer.get("detail") if isinstance(answer, dict) else None
            raise BadRequest(f"refused the {kind}: {detail or f'HTTP {status}'}")
        try:
            return wire.open_message(answer, expect_kind="answer", expect_key=link.witness_public)
        except wire.WireError as exc:
            raise BadRequest(f"its answer to the {kind}: {exc}") from None

    def _note(self, link_id: int, **values: Any) -> None:
        with self.service.engine.begin() as conn:
            conn.execute(update(witness_links).where(witness_links.c.id == link_id).values(**values))

    def take_in(self, owner_id: int, link_id: int, outcome: dict[str, Any]) -> bool:
        """Fold in what a witness did while it held the switch; whether anything changed. An outcome that
        cannot be read is refused (``BadRequest``, recorded on the link by ``push_link``)."""
        done = read_outcome(outcome)
        now = self.service.clock.now()
        with self.service.engine.begin() as conn:
            loaded = self.service.load(conn, owner_id, lock=True)
            merged = rule.merge(loaded.policy, loaded.state, done)
            if merged == loaded.state:
                return False
            events: tuple[Event, ...] = ()
            if done.checked_in_at is not None and merged.armed_at == done.checked_in_at:
                step = core.check_in(loaded.policy, loaded.state, done.checked_in_at, via="witness")
                events = tuple(e for e in step.events if e.kind in (Kind.CHECKIN, Kind.CANCELLED))
            if not self.service._store(conn, loaded, loaded.policy, Step(merged, events), now):
                raise Conflict("the switch changed at the same moment")
            auditlog.append(conn, self.service.signer, owner_id, now, "witness.taken_in",
                            {"link": link_id, **{k: v for k, v in outcome.items() if v is not None}})
        self.service.on_change(now)
        return True


def read_outcome(outcome: Any) -> rule.WitnessOutcome:
    """A witness's outcome as it sent it: ``checked_in_at`` (an ISO moment with its offset, or null),
    ``stages_run`` and ``cycle`` (integers)."""
    try:
        if not isinstance(outcome, dict):
            raise TypeError(f"expected an object, got {type(outcome).__name__}")
        checked = outcome.get("checked_in_at")
        moment = datetime.fromisoformat(checked) if checked else None
        if moment is not None and moment.utcoffset() is None:
            raise ValueError(f"checked_in_at {checked!r} has no time zone offset")
        stages, cycle = outcome.get("stages_run", 0), outcome.get("cycle", 0)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (stages, cycle)):
            raise ValueError(f"stages_run and cycle: expected integers from 0, got {stages!r} and {cycle!r}")
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"its outcome: expected checked_in_at (an ISO moment or null), stages_run and cycle "
                         f"(integers), but {str(exc)[:200]}") from None
    return rule.WitnessOutcome(moment, stages, cycle)


def _covers(outcome: Any, state: Any) -> bool:
    """Whether a witness's outcome covers the messages held for ``state``: see ``Linking.settle``."""
    try:
        done = read_outcome(outcome)
    except BadRequest:
        return True
    if done.checked_in_at is not None:
        return True
    return bool(done.cycle == state.cycle and done.stages_run >= max(state.stages_run, 1))


def _state(loaded: Any) -> dict[str, Any]:
    from switch import state_to_dict
    return state_to_dict(loaded.state)


def push_pending(service: Any) -> int:
    """After a commit that held messages (``hold``): tell each waiting owner's witnesses the new state, then
    settle the messages; how many owners. The worker calls it after each batch, the witness loop each round;
    a switch without witnesses never gets here. Owners not pushed because the push broke off are put back
    (the next call, or the heartbeat round, pushes them)."""
    owners = hold.take_pending(service)
    if not owners:
        return 0
    linking = Linking(service, down=set())
    left = sorted(owners)
    try:
        while left:
            linking.push_owner(left[0], sync=False)
            left.pop(0)
    finally:
        hold.put_back(service, left)
    return len(owners)
