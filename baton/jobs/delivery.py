"""Delivery: the outbox drained through the channels, each channel by its own bounded pool of senders.

A message is claimed, sent, then marked sent — in that order — so a crash between send and mark
repeats it (at least once) and never loses it. An e-mail sender takes a batch (``send_batch``) and
sends it over its one SMTP connection, then marks the batch sent, with its audit entries, in one
transaction; a crash mid-batch repeats that batch. Claims are made only for free
senders, most overdue first, per channel (``lanes``): e-mail and Apprise never wait for each
other, and one owner's messages hold at most ``sends_per_owner`` senders of a channel, so an
owner whose channels hang delays nobody else. While a message is in hand its lease is renewed,
so no other worker takes it over mid-send. An Apprise destination that keeps failing rests
alone (``destinations``); one that breaks the outbound rules is refused, never sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import Engine

from baton.jobs import outbox
from baton.jobs.channels import PerThread, Sender, message_id
from baton.jobs.destinations import Destinations
from baton.jobs.lanes import Lane
from baton.jobs.outbox import Channel, Message
from baton.netguard import Refused
from baton.services.channels import still_listed
from baton.settings import Settings
from baton.store import auditlog, links
from baton.store.engine import reading
from baton.store.keyfile import DeploymentKey
from baton.store.signing import DeploymentSigner
from baton.timeutil import Clock

log = logging.getLogger("baton.delivery")


@dataclass
class Deliverer:
    """Drains the outbox for one worker identity.

    ``run_once`` sends everything due and returns when it is done (tests, ``baton worker --once``
    style runs); a started worker calls ``open``, then ``dispatch`` on every wake (it hands due
    messages to free senders and returns at once; ``on_done`` is told when a sender frees up),
    and ``close`` on stop.
    """

    engine: Engine
    settings: Settings
    clock: Clock
    signer: DeploymentSigner
    key: DeploymentKey  # link tokens are put into a message only as it is sent
    worker: str
    senders: Mapping[Channel, Sender | PerThread]
    stopping: threading.Event = field(default_factory=threading.Event)
    on_done: Callable[[], None] = field(default=lambda: None)
    hold: Callable[[], bool] = field(default=lambda: False)  # while true, nothing new is claimed (``catchup``)

    def __post_init__(self) -> None:
        s = self.settings
        sizes = {Channel.EMAIL: s.email_senders, Channel.APPRISE: s.apprise_senders}
        # An SMTP sender delivers a batch over its one connection; an Apprise URL is a request of its own.
        batches = {Channel.EMAIL: s.send_batch, Channel.APPRISE: 1}
        self.lanes = {channel: Lane(channel, source, sizes[channel], s.sends_per_owner, self._freed,
                                    self._settled, batch=batches[channel])
                      for channel, source in self.senders.items()}
        self.destinations = Destinations(s.channel_backoff_base_seconds, s.channel_backoff_max_seconds)
        self._progress = threading.Condition()
        self._finished_count = 0
        self._sent_count = 0
        self._open = False
        self._keeper: threading.Thread | None = None
        self._keeper_stop = threading.Event()

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.claim_seconds)

    # -- running ----------------------------------------------------------------------------------
    def open(self) -> None:
        """Start the senders and the lease keeper."""
        if self._open:
            return
        self._open = True
        for lane in self.lanes.values():
            lane.open()
        self._keeper_stop.clear()
        self._keeper = threading.Thread(target=self._keep_leases, name="baton-leases", daemon=True)
        self._keeper.start()

    def close(self) -> None:
        """Stop: no new claims; the sends in hand end (or are left to their lease after a bounded wait)."""
        if not self._open:
            return
        self._open = False
        # A send under way ends within its timeouts; one that does not (an answer dribbled in) is left
        # to its lease, like a crash's.
        until = time.monotonic() + max(self.settings.smtp_timeout,
                                       self.settings.outbound_connect_timeout + self.settings.outbound_read_timeout)
        unstarted = [message.id for lane in self.lanes.values()
                     for message in lane.close(until - time.monotonic())]
        if unstarted:  # taken back before a thread started on them: other workers may have them at once
            with self.engine.begin() as conn:
                outbox.release(conn, unstarted, self.worker)
        self._keeper_stop.set()
        if self._keeper is not None:
            self._keeper.join(10)
            self._keeper = None

    def run_once(self) -> int:
        """Deliver every message due now, or until ``stopping`` is set; the number sent."""
        opened_here = not self._open
        self.open()
        sent_before = self._sent_count
        try:
            while not self.stopping.is_set():
                with self._progress:
                    seen = self._finished_count
                handed = self.dispatch()
                if not handed and not self.in_hand():
                    break
                with self._progress:  # a sender is free again (or the stop came)
                    if self._finished_count == seen:
                        self._progress.wait(0.5)
            with self._progress:  # the sends in hand end; a stop leaves the rest to ``close``
                while self.in_hand() and not self.stopping.is_set():
                    self._progress.wait(0.5)
        finally:
            if opened_here:
                self.close()
            else:
                for lane in self.lanes.values():
                    lane.rest()
        return self._sent_count - sent_before

    @property
    def sent_count(self) -> int:
        """Messages sent by this deliverer since it was made (the worker's heartbeat reports the increase)."""
        return self._sent_count

    def dispatch(self) -> int:
        """Claim due messages for the free senders, most overdue first, and hand them over; how many.
        Returns at once: the senders work in their own threads."""
        handed = sum(self._fill(lane) for lane in self.lanes.values())
        if not self.in_hand():
            for lane in self.lanes.values():
                lane.rest()
        return handed

    def _fill(self, lane: Lane) -> int:
        """Claim for ``lane``'s free senders and hand the messages over; how many were handed."""
        handed = 0
        if self.hold():
            return 0
        with lane.claiming:
            while not self.stopping.is_set() and (free := lane.free()) > 0:
                now = self.clock.now()
                # An owner may hold ``per_owner`` senders: for e-mail, that many batches of its messages.
                batch = outbox.claim(self.engine, self.worker, now, self.lease, free, channel=lane.channel,
                                     per_owner=lane.per_owner * lane.batch, in_hand=lane.owners())
                if not batch:
                    break
                ready = sorted((message for message in batch if not self._resting(message, now)),
                               key=lambda m: m.owner_id)  # stable: one owner's go out together, in order
                for start in range(0, len(ready), lane.batch):
                    lane.hand(ready[start:start + lane.batch], self._send)
                handed += len(ready)
        return handed

    def in_hand(self) -> int:
        """Messages handed to senders and not yet done with (the claim that follows each included)."""
        return sum(lane.busy() for lane in self.lanes.values())

    def next_due(self, after: datetime | None = None) -> datetime | None:
        """When a message is next due, later than ``after`` (what is due already waits for a sender,
        which says so when it frees up)."""
        with reading(self.engine) as conn:
            return outbox.next_attempt(conn, after)

    # -- one message ------------------------------------------------------------------------------
    def _deliver(self, message: Message) -> int:
        """Send one message claimed earlier, in the calling thread: renew the claim first (a claim
        that ran out may have been taken over and sent by another worker)."""
        with self.engine.begin() as conn:
            if not outbox.renew(conn, message, self.worker, self.clock.now(), self.lease):
                return 0
        return self._send_counted([message], self.lanes[message.channel].sender_here())

    def _send(self, messages: list[Message], sender: Sender) -> None:
        self._send_counted(messages, sender)

    def _send_counted(self, messages: list[Message], sender: Sender) -> int:
        """Send a batch over one sender, then record the sends together (one transaction). A message
        that fails is recorded as failed at once and the others go on; a stop leaves the rest unsent,
        their claims given up. A crash before the record sends the batch again (at least once; each
        e-mail's Message-ID lets a repeat be recognised)."""
        sent: list[Message] = []
        for i, message in enumerate(messages):
            if self.stopping.is_set():
                with self.engine.begin() as conn:
                    outbox.release(conn, [m.id for m in messages[i:]], self.worker)
                break
            if self._send_one(message, sender):
                sent.append(message)
        recorded = self._record_sent(sent)
        with self._progress:
            self._sent_count += recorded
        return recorded

    def _record_sent(self, messages: list[Message]) -> int:
        """Mark sent the messages still claimed by this worker, each with its audit entry; how many."""
        if not messages:
            return 0
        now = self.clock.now()
        with self.engine.begin() as conn:
            marked = outbox.mark_sent_many(conn, messages, self.worker, now)
            auditlog.append_many(conn, self.signer, [
                (m.owner_id, now, "delivery.sent", {"message": m.id, "purpose": m.purpose, "channel": str(m.channel),
                                                    "recipient": outbox.recipient_tag(m.recipient),
                                                    "message_id": message_id(m)}) for m in marked])
        return len(marked)

    def _with_links(self, message: Message) -> Message:
        """The message as sent: an e-mail gets its links' tokens; a chat or push channel gets no link."""
        if message.channel is Channel.EMAIL:
            return replace(message, body_text=links.expand(self.key, message.body_text),
                           body_html=links.expand(self.key, message.body_html) if message.body_html else None)
        return replace(message, body_text=links.without_links(message.body_text, "[the link is in your e-mail]"))

    def _send_one(self, message: Message, sender: Sender) -> bool:
        """Send one message; whether it went (a failure is recorded here, a send by the caller)."""
        destination = outbox.recipient_tag(message.recipient)
        if message.channel is Channel.APPRISE:
            with reading(self.engine) as conn:
                listed = still_listed(conn, message.owner_id, message.recipient)
            if not listed:
                self._failed(message, "the channel was removed", give_up=True, reason="channel removed")
                return False
        try:
            sender.send(self._with_links(message))
        except Refused as exc:  # a rule, not an outage: trying again would be refused again
            self._failed(message, f"Refused: {exc}", give_up=True, reason=str(exc))
            self._rest(message, destination)
            return False
        except Exception as exc:  # noqa: BLE001 - any failure is retried later
            error = f"{type(exc).__name__}: {exc}"
            if message.channel is Channel.APPRISE:
                error = type(exc).__name__  # an Apprise error may quote the URL and its secret
            self._failed(message, error, give_up=message.attempts + 1 >= self.settings.max_attempts)
            self._rest(message, destination)
            return False
        if message.channel is Channel.APPRISE:
            self.destinations.succeeded(destination)
        return True

    def _failed(self, message: Message, error: str, give_up: bool, reason: str | None = None) -> None:
        now = self.clock.now()
        retry = now + outbox.backoff(message.attempts, self.settings.retry_base_seconds,
                                     self.settings.retry_max_seconds)
        with self.engine.begin() as conn:
            if outbox.mark_failed(conn, message, self.worker, now, error, retry, give_up) and give_up:
                data = {"message": message.id, "purpose": message.purpose, "channel": str(message.channel),
                        "attempts": message.attempts + 1}
                auditlog.append(conn, self.signer, message.owner_id, now, "delivery.failed",
                                data if reason is None else {**data, "reason": reason})
        log.warning("delivery of message %s (%s) failed: %s", message.id, message.purpose, error)
        self.on_done()  # its retry is a new due moment for the worker's wake

    # -- destinations and leases ------------------------------------------------------------------
    def _rest(self, message: Message, destination: str) -> None:
        if message.channel is Channel.APPRISE:
            until = self.destinations.failed(destination, self.clock.now())
            log.info("Apprise destination %s rests until %s", destination, until.isoformat())

    def _resting(self, message: Message, now: datetime) -> bool:
        """A claimed message to a resting destination is put back, untried, until the rest ends."""
        if message.channel is not Channel.APPRISE:
            return False
        until = self.destinations.resting_until(outbox.recipient_tag(message.recipient), now)
        if until is None:
            return False
        with self.engine.begin() as conn:
            outbox.put_back(conn, message, self.worker, until)
        return True

    def _freed(self, lane: Lane) -> None:
        """A sender of ``lane`` is free: it claims the lane's next due message itself. When there is
        none and it was the lane's last busy sender, the worker is told (to wake at the next due
        moment); while others are busy, the last of them tells it."""
        handed = 0
        try:
            if self._open:
                handed = self._fill(lane)
        finally:
            if not handed and lane.busy() <= 1:
                self.on_done()

    def _settled(self) -> None:
        with self._progress:
            self._finished_count += 1
            self._progress.notify_all()

    def _keep_leases(self) -> None:
        """While messages are in hand, renew their claims every third of the lease."""
        every = max(0.5, self.settings.claim_seconds / 3)
        while not self._keeper_stop.wait(every):
            held = [m.id for lane in self.lanes.values() for m in lane.in_hand()]
            if not held:
                continue
            try:
                with self.engine.begin() as conn:
                    lost = outbox.renew_all(conn, held, self.worker, self.clock.now(), self.lease)
            except Exception:  # noqa: BLE001 - the next round tries again; the lease still runs meanwhile
                log.exception("renewing the claims of the messages in hand failed")
                continue
            if lost:
                log.warning("the claims on message(s) %s were lost while sending; they may go twice",
                            sorted(lost))
