"""The switch service: every use-case that reads or changes a switch, in one transaction each.

Each operation reads the clock once, loads the switch, asks the pure core for the next
state and its events, stores the state with a conditional update on its version, and in
the same transaction records each event as a transition and an audit entry and writes
the messages it causes to the outbox. Losing the race for a version changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, insert, select, update

from baton.errors import BadRequest, Conflict, LinkError, NotFound
from baton.services import accounts, actions, changes, channels, checkin, verifiers
from baton.services import notices as _notices  # noqa: F401 - registers the "notify_customers" stage action
from baton.services import releases as _releases  # noqa: F401 - registers the "release" stage action
from baton.services import switchrows as rows
from baton.services.recorder import Recorder
from baton.services.switchrows import LoadedSwitch
from baton.services.switchview import SwitchView, timeline, view
from baton.services.witness import hold as witness_hold
from baton.settings import Settings
from baton.store import auditlog, links
from baton.store.engine import reading
from baton.store.groupcommit import GroupCommit
from baton.store.keyfile import DeploymentKey
from baton.store.links import Purpose
from baton.store.signing import DeploymentSigner
from baton.store.tables import switches
from baton.timeutil import Clock
from switch import (
    Event,
    Policy,
    PolicyError,
    Status,
    Step,
    SwitchState,
    hash_token,
    iso,
    next_timer,
    policy_from_dict,
    policy_to_dict,
    policy_warnings,
    state_to_dict,
)
from switch import machine as core
from switch.hastening import hastens

log = logging.getLogger("baton.service")
RETRY_FAILED = timedelta(minutes=1)
DEFAULT_POLICY: dict[str, Any] = {
    "interval": "30d", "reminders": ["7d", "1d"], "grace": "7d", "grace_reminder_every": "1d",
    "stages": [{"name": "notify", "after": "0d", "audience": ["owner"], "action": "notify"}],
}


@dataclass
class SwitchService:
    """The use-cases. ``on_change`` is told the next due moment after every change (wakes workers)."""

    engine: Engine
    settings: Settings
    clock: Clock
    signer: DeploymentSigner
    key: DeploymentKey  # the key file's secret: link tokens and sealed secrets
    on_change: Callable[[datetime | None], None] = field(default=lambda due: None)
    witness_pending: set[int] = field(default_factory=set, init=False, repr=False)  # owners held for a push
    _group: GroupCommit | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.engine.dialect.name == "sqlite":
            self._group = GroupCommit(self.engine)

    # -- owners -----------------------------------------------------------------------------
    def create_owner(self, email: str, password: str, timezone: str, *, totp: bool = False,
                     policy: dict[str, Any] | None = None) -> accounts.NewOwner:
        """A new owner with an armed switch (the default policy unless one is given)."""
        now = self.clock.now()
        data = dict(policy or DEFAULT_POLICY)
        data.setdefault("timezone", timezone)
        with self.engine.begin() as conn:
            made = accounts.create_owner(conn, self.key, email, password, timezone, now, totp=totp)
            checked = self.check_policy(data)
            resolved, _notes = verifiers.resolve(conn, made.owner.id, made.owner.language, policy_to_dict(checked),
                                                 now)
            checked = self.check_policy(resolved)
            state = core.arm(checked, now)
            timer = next_timer(checked, state)
            switch_id = conn.execute(insert(switches).values(
                owner_id=made.owner.id, policy=policy_to_dict(checked), state=state_to_dict(state),
                status=str(state.status), next_due_at=timer.due if timer else None, version=0,
                updated_at=now)).inserted_primary_key[0]  # type: ignore[index]
            self._audit(conn, made.owner.id, now, "owner.created",
                        {"switch": switch_id, "email": made.owner.email, "timezone": timezone})
        self.on_change(timer.due if timer else None)
        return made

    def authenticate(self, token: str) -> int | None:
        """The owner behind an API token (its last use noted now and then), or None."""
        with reading(self.engine) as conn:
            row = accounts.token_row(conn, token)
        if row is None:
            return None
        now = self.clock.now()
        if row.last_used_at is None or now - row.last_used_at >= accounts.USE_GRANULARITY:
            with self.engine.begin() as conn:
                accounts.touch_token(conn, row.id, row.last_used_at, now)
        return int(row.owner_id)

    # -- owner acts -------------------------------------------------------------------------
    def check_in(self, owner_id: int, via: str = "api") -> SwitchView:
        return self._act(owner_id, lambda p, s, now: core.check_in(p, s, now, via=via))

    def check_in_with_token(self, token: str, via: str = "api") -> SwitchView | None:
        """Authenticate and check in within one transaction (the API's hot path); None: unknown token."""
        digest = hash_token(token)

        def work(conn: Connection) -> tuple[Policy, SwitchState, bool] | None:
            now = self.clock.now()
            row = conn.execute(rows.SWITCH_FOR_TOKEN, {"digest": digest}).first()
            if row is None:
                return None
            accounts.touch_token(conn, row.token_id, row.token_used_at, now)
            return self._apply(conn, rows.loaded(row), lambda p, s, at: core.check_in(p, s, at, via=via), now)
        done = self._write(work)
        return None if done is None else self._changed(done[0], done[1], tell=done[2])

    def _write(self, work: Callable[[Connection], Any]) -> Any:
        """``work`` in a transaction of its own, committed on return; on SQLite it may share the transaction
        (and its fsync) with other writes of this process arriving at the same time (``store.groupcommit``)."""
        if self._group is not None:
            return self._group.run(work)
        with self.engine.begin() as conn:
            return work(conn)

    def pause(self, owner_id: int, until: datetime) -> SwitchView:
        """Pause until ``until`` (any time zone offset; stored in UTC)."""
        if until.tzinfo is None:
            raise BadRequest(f"until: expected a moment with a time zone, got {until.isoformat()}")
        try:
            moment = until.astimezone(UTC)
        except OverflowError:  # 9999-12-31T23:00-14:00 is past the last day a datetime can hold in UTC
            raise BadRequest(f"until: expected a moment between the years 1 and 9999 in UTC, got "
                             f"{until.isoformat()}") from None
        return self._act(owner_id, lambda p, s, now: core.pause(p, s, now, moment))

    def set_policy(self, owner_id: int, data: Any, via: str = "api") -> SwitchView:
        """Replace the policy (JSON as it arrived: the validator names what is wrong, a body that is not
        an object included). Its verifiers are resolved to People entries (``services.verifiers``), new
        ones made and said in the view's notes. An owner's change counts as a check-in. A change that only
        delays a release re-arms the switch under the new policy at once; one that could hasten it
        (``switch.hastening``) is held for the cooling-off and announced on every channel
        (``services.changes``), while the switch re-arms under the policy it has. A newer policy replaces
        one still held."""
        with reading(self.engine) as conn:
            owner = accounts.get_owner(conn, owner_id)
        if isinstance(data, Mapping):
            data = {"timezone": owner.timezone, **data}
        policy = self.check_policy(data)
        now = self.clock.now()
        with self.engine.begin() as conn:
            resolved, notes = verifiers.resolve(conn, owner_id, owner.language, policy_to_dict(policy), now)
            policy = self.check_policy(resolved)
            shown, wake = self.replace_policy(conn, owner_id, policy, via, now)
            warned = policy_warnings(verifiers.addressed(policy, verifiers.contacts(conn, owner_id)))
        self.on_change(wake)  # after the commit: a worker woken now sees the change
        return replace(shown, notes=list(notes), warnings=list(warned))

    def replace_policy(self, conn: Connection, owner_id: int, policy: Policy, via: str,
                       now: datetime) -> tuple[SwitchView, datetime | None]:
        """``set_policy``'s work in the caller's transaction (its verifiers already People ids); the view and the
        moment to wake the worker at, after the commit."""
        loaded = self.load(conn, owner_id, lock=True)
        audits: list[tuple[str, dict[str, Any]]] = []  # written after the step's own entries
        for held in changes.pending(conn, owner_id):
            if held.kind is changes.Kind.POLICY:
                changes.settle(conn, held, changes.Outcome.REPLACED, now)
                audits.append(("change.replaced", {"change": held.id}))
        reasons = hastens(loaded.policy, policy) if self.settings.cooling_off_hours > 0 else ()
        if not reasons:
            step = core.check_in(loaded.policy, loaded.state, now, via="policy change", new_policy=policy)
            shown, wake = self._store_change(conn, loaded, policy, step, now)
        else:
            step = core.check_in(loaded.policy, loaded.state, now, via="policy change (the new policy waits)")
            held = changes.hold(conn, self.settings, owner_id=owner_id, owner_email=loaded.owner.email,
                                timezone=loaded.policy.timezone, kind=changes.Kind.POLICY,
                                payload=policy_to_dict(policy), reasons=reasons, via=via, now=now,
                                effect=changes.takes_effect(self.settings, now, step.state.deadline))
            audits.append(("change.held", {"change": held.id, "kind": "policy", "via": via,
                                           "reasons": list(reasons), "takes_effect_at": iso(held.takes_effect_at)}))
            shown, wake = self._store_change(conn, loaded, loaded.policy, step, now)
        for kind, data in audits:
            self._audit(conn, owner_id, now, kind, data)
        return shown, wake

    def hastening(self, owner_id: int, data: Any) -> tuple[str, ...]:
        """Why replacing the policy with ``data`` would wait a cooling-off (empty: it would not)."""
        if self.settings.cooling_off_hours <= 0:
            return ()
        with reading(self.engine) as conn:
            loaded = self.load(conn, owner_id)
        if isinstance(data, Mapping):
            data = {"timezone": loaded.owner.timezone, **data}
        policy = self.check_policy(data)
        with self.engine.connect() as conn, conn.begin() as looking:  # resolved as set_policy would, then undone
            resolved, _notes = verifiers.resolve(conn, owner_id, loaded.owner.language, policy_to_dict(policy),
                                                 self.clock.now())
            looking.rollback()
        return hastens(loaded.policy, self.check_policy(resolved))

    def _store_change(self, conn: Connection, loaded: LoadedSwitch, policy: Policy, step: Step,
                      now: datetime) -> tuple[SwitchView, datetime | None]:
        """Store a step made beside changes held or settled in this transaction; the view after it and
        when the worker must next look at the switch."""
        loaded = replace(loaded, change_due=changes.next_due(conn, loaded.owner_id))
        if not self._store(conn, loaded, policy, step, now):
            raise Conflict("the switch changed at the same moment; try again")
        held = [c.to_dict(policy.timezone) for c in changes.pending(conn, loaded.owner_id)]
        return view(policy, step.state, held), rows.next_due(policy, step.state, loaded.change_due)

    def _settle_changes(self, conn: Connection, loaded: LoadedSwitch, now: datetime) -> int:
        """The held changes whose cooling-off has ended take effect, in order. A policy takes effect as the
        owner's policy change (a check-in at its moment), provided the switch is still before its deadline
        then; otherwise it is dropped and the owner told, since applying it would delay the release."""
        policy, state = loaded.policy, loaded.state
        events: list[Event] = []
        settled: list[tuple[changes.Change, changes.Outcome]] = []
        for change in changes.due(conn, loaded.owner_id, now):
            at = change.takes_effect_at
            outcome = changes.Outcome.APPLIED
            if change.kind is changes.Kind.POLICY:
                before = core.run_due(policy, state, at, strictly_before=True)
                if before.state.status in (Status.ARMED, Status.PAUSED):
                    new = self.check_policy(change.payload)
                    step = core.check_in(policy, state, at, via="policy change (its cooling-off ended)",
                                         new_policy=new)
                    state, policy = step.state, new
                    events.extend(step.events)
                else:
                    outcome = changes.Outcome.DROPPED
            changes.settle(conn, change, outcome, now)
            settled.append((change, outcome))
        self._store_change(conn, loaded, policy if events else loaded.policy, Step(state, tuple(events)), now)
        for change, outcome in settled:  # after the step's own audit entries, which follow the chain's head
            self._audit(conn, loaded.owner_id, now, f"change.{outcome}", {"change": change.id,
                                                                          "kind": str(change.kind)})
        return len(events)

    def get_policy(self, owner_id: int) -> dict[str, Any]:
        with reading(self.engine) as conn:
            row = conn.execute(select(switches.c.policy).where(switches.c.owner_id == owner_id)).first()
        if row is None:
            raise NotFound(f"owner {owner_id} has no switch")
        return dict(row.policy)

    def status(self, owner_id: int) -> SwitchView:
        with reading(self.engine) as conn:
            loaded = self.load(conn, owner_id)
            return view(loaded.policy, loaded.state, self._held(conn, loaded))

    def timeline(self, owner_id: int, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` transitions, oldest first."""
        with reading(self.engine) as conn:
            return timeline(conn, owner_id, limit)

    def overview(self, owner_id: int, recent: int = 5) -> tuple[SwitchView, list[dict[str, Any]]]:
        """The status and the newest transitions in one read (the dashboard's every load)."""
        with reading(self.engine) as conn:
            loaded = self.load(conn, owner_id)
            return view(loaded.policy, loaded.state, self._held(conn, loaded)), timeline(conn, owner_id, recent)

    def add_channel(self, owner_id: int, url: str, label: str = "") -> int:
        """Add an Apprise URL (chat, push, webhook) for the owner's alerts, if it keeps the outbound rules."""
        return channels.add(self.engine, self.settings, self.signer, owner_id, url, label, self.clock.now())

    def list_channels(self, owner_id: int) -> list[dict[str, Any]]:
        """The owner's channels: id, label, scheme and host, never the URL (it may hold a secret)."""
        return channels.listed(self.engine, owner_id)

    def remove_channel(self, owner_id: int, channel_id: int) -> None:
        """Remove one of the owner's channels at once (NotFound for anyone else's); ``OwnerAccess`` holds
        the removal for a cooling-off first."""
        channels.remove(self.engine, self.signer, owner_id, channel_id, self.clock.now())

    # -- link pages -------------------------------------------------------------------------
    def open_link(self, token: str, purpose: Purpose) -> tuple[links.Link, SwitchView, str]:
        """Look at a link without acting: the link, the switch, the owner's address."""
        now = self.clock.now()
        with reading(self.engine) as conn:
            link = links.resolve(conn, self.key, token, purpose, now)
            loaded = self.load(conn, link.owner_id)
            owner = accounts.get_owner(conn, link.owner_id)
        if purpose is Purpose.VERIFY and (loaded.state.status is not Status.CONFIRMING
                                          or loaded.state.cycle != link.cycle):
            raise LinkError("closed", "This question is closed: the owner checked in, or the switch "
                            "has already decided. Thank you.")
        return link, view(loaded.policy, loaded.state), owner.email

    def check_in_by_link(self, token: str) -> SwitchView:
        return self._act_by_link(token, Purpose.CHECKIN,
                                 lambda link, p, s, now: core.check_in(p, s, now, via="link"))

    def vote_by_link(self, token: str, answer: str) -> SwitchView:
        def step(link: links.Link, p: Policy, s: SwitchState, now: datetime) -> Step:
            if s.status is not Status.CONFIRMING or s.cycle != link.cycle:
                raise LinkError("closed", "This question is closed: the owner checked in, or the switch "
                                "has already decided. Thank you.")
            return core.vote(p, s, now, link.who or "", answer)
        return self._act_by_link(token, Purpose.VERIFY, step)

    def request_by_link(self, token: str) -> SwitchView:
        return self._act_by_link(token, Purpose.REQUEST,
                                 lambda link, p, s, now: core.request_release(p, s, now, link.who or ""))

    # -- worker -----------------------------------------------------------------------------
    def due_switches(self, now: datetime, limit: int) -> list[int]:
        with reading(self.engine) as conn:
            return [r.id for r in conn.execute(
                select(switches.c.id).where(switches.c.next_due_at.isnot(None), switches.c.next_due_at <= now)
                .order_by(switches.c.next_due_at).limit(limit))]

    def next_due(self) -> datetime | None:
        with reading(self.engine) as conn:
            due: datetime | None = conn.execute(select(func.min(switches.c.next_due_at))
                                                .where(switches.c.next_due_at.isnot(None))).scalar()
        return due

    def advance(self, switch_id: int) -> int:
        """Run a switch's due timers; the number of events recorded (0 if another worker had it)."""
        now = self.clock.now()
        with self.engine.begin() as conn:
            query = rows.SWITCH_BY_ID_SKIP if conn.dialect.name == "postgresql" else rows.SWITCH_BY_ID
            row = conn.execute(query, {"switch_id": switch_id}).first()
            return self._advance_row(conn, row, now)

    def advance_next(self) -> int | None:
        """Run the timers of the most overdue switch no other worker holds.

        The number of events recorded, or None when no switch is due. Each call claims a
        different switch (``SKIP LOCKED`` on PostgreSQL; SQLite has one writer at a time),
        so several workers share the due switches instead of queueing on the same ones.
        """
        now = self.clock.now()
        with self.engine.begin() as conn:
            row = conn.execute(rows.NEXT_DUE, {"now": now}).first()
            if row is None:
                return None
            switch_id, version = row.id, row.version
            try:
                with conn.begin_nested():
                    return self._advance_row(conn, row, now)
            except Exception as exc:  # noqa: BLE001 - one broken switch must not hold back the others
                self._defer(conn, switch_id, version, now, exc)
                return 0

    def _defer(self, conn: Connection, switch_id: int, version: int, now: datetime, exc: Exception) -> None:
        """A switch whose step failed is retried a minute later; the failure is logged and audited."""
        log.error("advancing switch %s failed (%s); retrying in %s", switch_id, type(exc).__name__, RETRY_FAILED,
                  exc_info=exc)
        moved = conn.execute(update(switches).where(switches.c.id == switch_id, switches.c.version == version)
                             .values(next_due_at=now + RETRY_FAILED, updated_at=now))
        if moved.rowcount == 1:
            owner_id = conn.execute(select(switches.c.owner_id).where(switches.c.id == switch_id)).scalar_one()
            self._audit(conn, owner_id, now, "switch.error",
                        {"switch": switch_id, "error": type(exc).__name__, "retry_at": iso(now + RETRY_FAILED)})

    def _advance_row(self, conn: Connection, row: Row[Any] | None, now: datetime) -> int:
        if row is None or row.next_due_at is None or row.next_due_at > now:
            return 0
        loaded = rows.loaded(row)
        if loaded.change_due is not None and loaded.change_due <= now:
            return self._settle_changes(conn, loaded, now)
        step = core.run_due(loaded.policy, loaded.state, now)
        if not self._store(conn, loaded, loaded.policy, step, now):
            return 0
        return len(step.events)

    # -- internals --------------------------------------------------------------------------
    def check_policy(self, data: Any) -> Policy:
        """Validate a policy as ``set_policy`` would: the core's checks, then actions and audiences."""
        policy = policy_from_dict(data)
        verifiers = {v.name for v in policy.confirm.verifiers} if policy.confirm else set()
        for i, stage in enumerate(policy.stages):
            if actions.get(stage.action) is None:
                raise PolicyError(f"stages[{i}].action", f"expected one of {', '.join(actions.names())}, "
                                  f"got {stage.action!r}")
            for j, member in enumerate(stage.audience):
                if member != "owner" and member not in verifiers and "@" not in member:
                    raise PolicyError(f"stages[{i}].audience[{j}]", "expected owner, a verifier's name or "
                                      f"an e-mail address, got {member!r}")
        return policy

    @staticmethod
    def _held(conn: Connection, loaded: LoadedSwitch) -> list[dict[str, Any]]:
        """The changes waiting; no query unless the switch says one waits."""
        if loaded.change_due is None:
            return []
        return [c.to_dict(loaded.policy.timezone) for c in changes.pending(conn, loaded.owner_id)]

    def load(self, conn: Connection, owner_id: int, lock: bool = False) -> LoadedSwitch:
        """The owner's switch as read in ``conn`` (locked with its owner's row when ``lock``)."""
        row = conn.execute(rows.SWITCH_LOCKED if lock else rows.SWITCH, {"owner_id": owner_id}).first()
        if row is None:
            raise NotFound(f"owner {owner_id} has no switch")
        return rows.loaded(row)

    def _act(self, owner_id: int, fn: Callable[[Policy, SwitchState, datetime], Step],
             new_policy: Policy | None = None) -> SwitchView:
        now = self.clock.now()
        with self.engine.begin() as conn:
            loaded = self.load(conn, owner_id, lock=True)
            policy, state, tell = self._apply(conn, loaded, fn, now, new_policy)
        return self._changed(policy, state, tell=tell)

    def _apply(self, conn: Connection, loaded: LoadedSwitch, fn: Callable[[Policy, SwitchState, datetime], Step],
               now: datetime, new_policy: Policy | None = None,
               requester: links.Link | None = None) -> tuple[Policy, SwitchState, bool]:
        """Step a switch read (locked) in this transaction, and store it; the policy and state after, and
        whether the worker needs telling: not after a plain check-in (no message to send) that moved the
        next due moment later, since whatever would have woken the worker for the old one still does, and
        that wake-up finds the new one."""
        step = fn(loaded.policy, loaded.state, now)
        policy = new_policy or loaded.policy
        if not self._store(conn, loaded, policy, step, now, requester=requester):
            raise Conflict("the switch changed at the same moment; try again")
        due = rows.next_due(policy, step.state, loaded.change_due)
        quiet = (new_policy is None and checkin.plain(step, loaded.audit_key, self.signer)
                 and loaded.next_due is not None and due is not None and due >= loaded.next_due)
        return policy, step.state, not quiet

    def _act_by_link(self, token: str, purpose: Purpose,
                     fn: Callable[[links.Link, Policy, SwitchState, datetime], Step]) -> SwitchView:
        """Use a one-time link and act on its owner's switch, in one transaction."""
        def work(conn: Connection) -> tuple[Policy, SwitchState, bool]:
            now = self.clock.now()
            link = links.resolve(conn, self.key, token, purpose, now)
            links.consume(conn, link, now)
            loaded = self.load(conn, link.owner_id, lock=True)
            requester = link if purpose is Purpose.REQUEST else None
            return self._apply(conn, loaded, lambda p, s, at: fn(link, p, s, at), now, requester=requester)
        policy, state, tell = self._write(work)
        return self._changed(policy, state, tell=tell)

    def _changed(self, policy: Policy, state: SwitchState, change_due: datetime | None = None,
                 held: list[dict[str, Any]] | None = None, tell: bool = True) -> SwitchView:
        """After a committed change: wake the worker at the next due moment (if ``tell``); the new view."""
        if tell:
            self.on_change(rows.next_due(policy, state, change_due))
        return view(policy, state, held)

    def _store(self, conn: Connection, loaded: LoadedSwitch, policy: Policy, step: Step, now: datetime,
               requester: links.Link | None = None) -> bool:
        """Conditionally store the new state; then record its events in the same transaction."""
        values: dict[str, Any] = dict(state=state_to_dict(step.state), status=str(step.state.status),
                                      next_due_at=rows.next_due(policy, step.state, loaded.change_due),
                                      version=loaded.version + 1, updated_at=now)
        if policy is not loaded.policy:
            values["policy"] = policy_to_dict(policy)
        if requester is None and "policy" not in values and checkin.plain(step, loaded.audit_key, self.signer):
            return checkin.store(conn, self.signer, switch_id=loaded.id, owner_id=loaded.owner_id, seen=loaded.version,
                                 audit_head=loaded.audit_head, start_cycle=loaded.state.cycle, step=step,
                                 values=values, now=now)
        moved = conn.execute(checkin.MOVE_SWITCH, {**values, "switch_id": loaded.id, "seen": loaded.version})
        if moved.rowcount != 1:
            return False
        if step.events:
            # The events ran under the policy the state was built with (a new policy only
            # re-arms the switch), so they are recorded under it.
            Recorder(conn, self.settings, self.signer, loaded.id, loaded.owner, loaded.audit_head, loaded.policy,
                     step.state, now, requester, start_cycle=loaded.state.cycle).record(step.events)
            if witness_hold.fires(step.events):  # its witnesses hear of it before its messages go
                witness_hold.hold(conn, self, (loaded.owner_id,), now)
        return True

    def record(self, conn: Connection, owner_id: int, kind: str, data: dict[str, Any]) -> None:
        """Append an entry to the owner's audit log, now, in the caller's transaction."""
        self._audit(conn, owner_id, self.clock.now(), kind, data)

    def _audit(self, conn: Connection, owner_id: int, at: datetime, kind: str, data: dict[str, Any]) -> None:
        auditlog.append(conn, self.signer, owner_id, at, kind, data)
