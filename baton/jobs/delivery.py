"""Delivery: the loop that drains the outbox through the channels.

A message is claimed, sent, then marked sent — in that order — so a crash between send
and mark repeats that one message (at least once) and never loses it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import timedelta

from sqlalchemy import Engine

from baton.jobs import outbox
from baton.jobs.channels import Sender, message_id
from baton.jobs.outbox import Channel, Message
from baton.settings import Settings
from baton.store import auditlog, links
from baton.store.keyfile import DeploymentKey
from baton.store.signing import Ed25519Signer
from baton.timeutil import Clock

log = logging.getLogger("baton.delivery")


@dataclass
class Deliverer:
    """Drains the outbox for one worker identity."""

    engine: Engine
    settings: Settings
    clock: Clock
    signer: Ed25519Signer
    key: DeploymentKey  # link tokens are put into a message only as it is sent
    worker: str
    senders: dict[Channel, Sender]
    stopping: threading.Event = field(default_factory=threading.Event)

    def run_once(self) -> int:
        """Deliver every message due now, or until ``stopping`` is set; the number sent."""
        sent = 0
        lease = timedelta(seconds=self.settings.claim_seconds)
        try:
            while not self.stopping.is_set() and (batch := outbox.claim(
                    self.engine, self.worker, self.clock.now(), lease, self.settings.batch_size)):
                for message in batch:
                    if self.stopping.is_set():
                        break  # the rest of the batch stays claimed; others take it when the lease ends
                    sent += self._deliver(message)
                if len(batch) < self.settings.batch_size:
                    break
        finally:
            for sender in self.senders.values():
                sender.close()
        return sent

    def _with_links(self, message: Message) -> Message:
        """The message as sent: an e-mail gets its links' tokens; a chat or push channel gets no link."""
        if message.channel is Channel.EMAIL:
            return replace(message, body_text=links.expand(self.key, message.body_text),
                           body_html=links.expand(self.key, message.body_html) if message.body_html else None)
        return replace(message, body_text=links.without_links(message.body_text, "[the link is in your e-mail]"))

    def _deliver(self, message: Message) -> int:
        # Renew the claim just before sending: a batch sent slowly must not outlive its lease
        # and be sent again by another worker that took it over.
        lease = timedelta(seconds=self.settings.claim_seconds)
        with self.engine.begin() as conn:
            if not outbox.renew(conn, message, self.worker, self.clock.now(), lease):
                return 0
        try:
            self.senders[message.channel].send(self._with_links(message))
        except Exception as exc:  # noqa: BLE001 - any failure is retried later
            now = self.clock.now()
            error = f"{type(exc).__name__}: {exc}"
            if message.channel is Channel.APPRISE:
                error = type(exc).__name__  # an Apprise error may quote the URL and its secret
            give_up = message.attempts + 1 >= self.settings.max_attempts
            retry = now + outbox.backoff(message.attempts, self.settings.retry_base_seconds,
                                         self.settings.retry_max_seconds)
            with self.engine.begin() as conn:
                if outbox.mark_failed(conn, message, self.worker, now, error, retry, give_up) and give_up:
                    auditlog.append(conn, self.signer, message.owner_id, now, "delivery.failed",
                                    {"message": message.id, "purpose": message.purpose,
                                     "channel": str(message.channel), "attempts": message.attempts + 1})
            log.warning("delivery of message %s (%s) failed: %s", message.id, message.purpose, error)
            return 0
        now = self.clock.now()
        with self.engine.begin() as conn:
            if not outbox.mark_sent(conn, message, self.worker, now):
                return 0
            auditlog.append(conn, self.signer, message.owner_id, now, "delivery.sent",
                            {"message": message.id, "purpose": message.purpose, "channel": str(message.channel),
                             "recipient": outbox.recipient_tag(message.recipient),
                             "message_id": message_id(message)})
        return 1
