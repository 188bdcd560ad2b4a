"""Recording a step: each event becomes a transition, an audit entry, outbox messages and stage actions.

Runs inside the transaction that stored the new state, so what it writes stands or falls
with the transition that caused it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from baton.jobs.outbox import Channel
from baton.services import accounts, actions, holderview, verifiers
from baton.services.messages import render_email
from baton.services.writes import Direct, Gathered
from baton.settings import Settings
from baton.store import auditlog, links
from baton.store.links import Purpose
from baton.store.signing import DeploymentSigner
from baton.store.tables import transitions
from baton.timeutil import local
from switch import Event, Kind, Policy, SwitchState, iso


class Recorder:
    """Turns a step's events into transitions, audit entries, outbox messages and stage actions."""

    def __init__(self, conn: Connection, settings: Settings, signer: DeploymentSigner, switch_id: int,
                 owner: accounts.Owner, audit_head: tuple[int, str | None] | None, policy: Policy, state: SwitchState,
                 now: datetime, requester: links.Link | None = None, start_cycle: int | None = None,
                 out: Direct | Gathered | None = None) -> None:
        """``owner`` and ``audit_head`` were read, locked, in this transaction; ``state`` is the
        state after the step and ``start_cycle`` the cycle before it. ``out`` takes the rows
        (``writes``: at once by default, or gathered for a batch)."""
        self.out = out or Direct(conn, signer)
        self.conn, self.settings, self.signer, self.switch_id = conn, settings, signer, switch_id
        self.owner, self.audit_head = owner, audit_head
        self.policy, self.state, self.now, self.requester = policy, state, now, requester
        self.start_cycle = state.cycle if start_cycle is None else start_cycle
        self._checkin_url: str | None = None
        self._channels: list[str] | None = None
        self._fired_reason = ""
        self._verifiers: dict[str, verifiers.Contact] | None = None
        self._fired_cause: dict[str, Any] | None = None

    # Notifier protocol, for stage actions.
    def email(self, recipient: str, key: str, purpose: str, template: str, **context: Any) -> None:
        rendered = render_email(template, **context)
        self.out.message(owner_id=self.owner.id, key=f"s{self.switch_id}/{key}", channel=Channel.EMAIL,
                         recipient=recipient, purpose=purpose, subject=rendered.subject, body_text=rendered.text,
                         body_html=rendered.html, now=self.now)

    def address_of(self, member: str) -> str | None:
        if member == "owner":
            return self.owner.email
        if "@" in member:
            return member
        for verifier in self.policy.confirm.verifiers if self.policy.confirm else ():
            if verifier.name == member:
                found = self.verifiers().get(member)
                return verifier.email or (found.email if found else None)
        return None

    def verifiers(self) -> dict[str, verifiers.Contact]:
        """The owner's verifiers as People knows them (read once per step)."""
        if self._verifiers is None:
            self._verifiers = verifiers.contacts(self.conn, self.owner.id)
        return self._verifiers

    def alert(self, key: str, purpose: str, template: str, **context: Any) -> None:
        """The owner on every channel: e-mail and each Apprise URL."""
        rendered = render_email(template, **context)
        self.out.message(owner_id=self.owner.id, key=f"s{self.switch_id}/{key}", channel=Channel.EMAIL,
                         recipient=self.owner.email, purpose=purpose, subject=rendered.subject,
                         body_text=rendered.text, body_html=rendered.html, now=self.now)
        if self._channels is None:
            self._channels = self.out.channel_urls(self.owner.id)
        # Chat and push channels may be read by others (a public ntfy topic): no check-in link there.
        text = links.without_links(rendered.text, "[the check-in link is in your e-mail]")
        for url in self._channels:
            self.out.message(owner_id=self.owner.id, key=f"s{self.switch_id}/{key}", channel=Channel.APPRISE,
                             recipient=url, purpose=purpose, subject=rendered.subject, body_text=text,
                             body_html=None, now=self.now)

    def checkin_url(self) -> str:
        if self._checkin_url is None:
            expires = self.now + timedelta(days=self.settings.link_ttl_days)
            self._checkin_url = self.out.link_url(self.settings.base_url, Purpose.CHECKIN, self.owner.id, self.now,
                                                  expires_at=expires, cycle=self.state.cycle)
        return self._checkin_url

    def tz(self, moment: datetime | None) -> str | None:
        return local(moment, self.policy.timezone)

    def record(self, events: tuple[Event, ...]) -> None:
        cycle = self.start_cycle
        for event in events:
            if event.kind in (Kind.CHECKIN, Kind.PAUSED):
                cycle += 1  # an owner's act starts a new cycle; what came before belongs to the old one
            self.out.transition(dict(
                switch_id=self.switch_id, owner_id=self.owner.id, cycle=cycle, kind=str(event.kind),
                stage=event.stage, who=event.who, reason=event.reason, due_at=event.at, recorded_at=self.now,
                data=event.data))
            self.audit_head = self.out.audit(self.owner.id, self.now, f"switch.{event.kind}",
                                             {"switch": self.switch_id, **event.to_dict(),
                                              "recorded_at": iso(self.now)}, self.audit_head)
            self._messages(event, cycle)

    def _messages(self, event: Event, cycle: int) -> None:
        key = f"{event.kind}/{iso(event.at)}/{event.stage or event.who or ''}/" \
              f"{event.data.get('index', event.data.get('level', ''))}"
        state = self.state
        if event.kind is Kind.REMINDER:
            expires = self.now + timedelta(days=self.settings.link_ttl_days)
            self.email(self.owner.email, key, "reminder", "reminder",
                       deadline_local=self.tz(datetime.fromisoformat(event.data["deadline"])),
                       checkin_url=self.checkin_url(), link_expires_local=self.tz(expires))
        elif event.kind in (Kind.DEADLINE, Kind.GRACE_REMINDER):
            deadline = datetime.fromisoformat(event.data["deadline"])
            fires = deadline + self.policy.grace + (self.policy.confirm.window if self.policy.confirm
                                                    else timedelta())
            if "silent_since" in event.data:  # a witness took the switch over from a silent primary
                self.alert(key, "witness", "witness_takeover", fires_local=self.tz(fires),
                           silent_since_local=self.tz(datetime.fromisoformat(event.data["silent_since"])),
                           fires_in=_human(fires - self.now), confirm=self.policy.confirm is not None,
                           checkin_url=self.checkin_url())
                return
            self.alert(key, str(event.kind), "deadline", level=event.data.get("level", 0) + 1,
                       deadline_local=self.tz(deadline), fires_local=self.tz(fires),
                       fires_in=_human(fires - event.at), confirm=self.policy.confirm is not None,
                       checkin_url=self.checkin_url())
        elif event.kind is Kind.CONFIRM_REQUESTED:
            assert event.who is not None
            address = self.address_of(event.who)
            if address is None:
                return  # a verifier without an address: the transition records the question
            self._ask(event.who, address, key, datetime.fromisoformat(event.data["closes"]), cycle)
        elif event.kind is Kind.VOTE:
            self.alert(key, "vote", "vote", who=event.who, answer=event.data["answer"], reason=event.reason,
                       checkin_url=self.checkin_url())
        elif event.kind is Kind.FIRED:
            self._fired_reason = event.reason
            self._fired_cause = dict(event.data) if event.data else None
            stages = [{"name": s.name, "when_local": self.tz(event.at + s.after)} for s in self.policy.stages]
            self.alert(key, "fired", "fired", at_local=self.tz(event.at), reason=event.reason, stages=stages,
                       checkin_url=self.checkin_url())
        elif event.kind is Kind.STAGE:
            self._run_stage(event, cycle)
        elif event.kind is Kind.CANCELLED:
            what = "checked in" if "checked in" in event.reason else "paused the switch"
            self.email(self.owner.email, key, "cancelled", "cancelled", what=what, at_local=self.tz(event.at),
                       stages=event.data["stages"], deadline_local=self.tz(state.deadline))
        elif event.kind in (Kind.PAUSED, Kind.RESUMED):
            self.email(self.owner.email, key, str(event.kind), "paused", resumed=event.kind is Kind.RESUMED,
                       reason=event.reason, until_local=self.tz(state.paused_until),
                       deadline_local=self.tz(state.deadline))
        elif event.kind is Kind.RELEASE_REQUESTED:
            completes = datetime.fromisoformat(event.data["completes"])
            self.alert(key, "release_requested", "release_requested", who=event.who,
                       completes_local=self.tz(completes), checkin_url=self.checkin_url())
            if self.requester is not None and self.requester.email:
                self.email(self.requester.email, key + "/ack", "request_update", "request_update", who=event.who,
                           owner_email=self.owner.email, refused=False, completes_local=self.tz(completes))
        elif event.kind is Kind.REFUSED:
            address = self._requester_address(event.who)
            if address:
                self.email(address, key, "request_update", "request_update", who=event.who,
                           owner_email=self.owner.email, refused=True, completes_local="")

    def _ask(self, who: str, address: str, key: str, closes: datetime, cycle: int) -> None:
        """The question to a verifier, in their language and time zone, greeted by their People name."""
        contact = self.verifiers().get(who)
        language = contact.language if contact else "en"
        zone = (contact.timezone if contact else None) or self.policy.timezone
        verify_url = self.out.link_url(self.settings.base_url, Purpose.VERIFY, self.owner.id, self.now,
                                       expires_at=closes, who=who, cycle=cycle)
        self.email(address, key, "verify", "confirm_requested", language=language,
                   who=contact.display_name if contact else who,
                   owner=holderview.owner_face(self.conn, self.owner.id).name,
                   armed_local=verifiers.moment(self.state.armed_at, language, zone),
                   closes_local=verifiers.moment(closes, language, zone),
                   verify_url=verify_url)

    def _requester_address(self, who: str | None) -> str | None:
        from baton.store.tables import links as link_table
        row = self.conn.execute(select(link_table.c.email).where(
            link_table.c.owner_id == self.owner.id, link_table.c.purpose == str(Purpose.REQUEST),
            link_table.c.who == who, link_table.c.revoked_at.is_(None))).first()
        return None if row is None else row.email

    def _run_stage(self, event: Event, cycle: int) -> None:
        index = event.data["index"]
        stage = self.policy.stages[index]
        action = actions.get(stage.action)
        if action is None:  # validated at policy time; a removed plugin must not lose the stage silently
            self.alert(f"stage-missing/{index}/{iso(event.at)}", "stage", "fired", at_local=self.tz(event.at),
                       reason=f"stage {stage.name}: no action named {stage.action!r} is installed", stages=[],
                       checkin_url=self.checkin_url())
            return
        reason, cause = (self._fired_reason, self._fired_cause) if self._fired_reason else self._last_fired()
        action(actions.StageRun(self.owner.id, self.owner.email, self.policy.timezone, self.policy, stage,
                                event, reason, cycle, self.now, self, cause))
        # An action may append to the audit log itself (a release does): the next event follows it. A
        # gathered batch runs only actions that do not (``wakeup``), and chains its entries as it writes them.
        if self.out.direct:
            self.audit_head = auditlog.head(self.conn, self.owner.id)

    def _last_fired(self) -> tuple[str, dict[str, Any] | None]:
        """The reason (and its data) of the last firing, for a stage that runs in a later step than it."""
        row = self.conn.execute(select(transitions.c.reason, transitions.c.data).where(
            transitions.c.switch_id == self.switch_id, transitions.c.kind == str(Kind.FIRED))
            .order_by(transitions.c.id.desc()).limit(1)).first()
        if row is None:
            return "the switch fired", None
        return row.reason, (dict(row.data) if row.data and "cause" in row.data else None)


def _human(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 1:
        return f"{hours} hours"
    return "less than an hour"
