"""Delivery: the senders (SMTP, Apprise) and the loop that drains the outbox.

A message is claimed, sent, then marked sent — in that order — so a crash between send
and mark repeats that one message (at least once) and never loses it. Every message
carries a Message-ID derived from its outbox key, so a repeat is recognisable.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

from sqlalchemy import Engine

from baton import auditlog, outbox
from baton.outbox import Channel, Message
from baton.settings import Settings
from baton.signing import Ed25519Signer
from baton.timeutil import Clock

log = logging.getLogger("baton.delivery")


class Sender(Protocol):
    def send(self, message: Message) -> None: ...

    def close(self) -> None: ...


def message_id(message: Message) -> str:
    digest = hashlib.sha256(message.dedup_key.encode()).hexdigest()[:32]
    return f"<{digest}@baton>"


class SmtpSender:
    """E-mail over SMTP; one connection reused for a batch, reopened after an error."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP
        if s.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            if s.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if s.smtp_username:
            smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
        return smtp

    def send(self, message: Message) -> None:
        mail = EmailMessage()
        mail["From"] = self.settings.mail_from
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id(message)
        mail["X-Baton-Purpose"] = message.purpose
        mail.set_content(message.body_text)
        if message.body_html:
            mail.add_alternative(message.body_html, subtype="html")
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(mail)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(Exception):  # closing a connection that may be broken
                self._smtp.quit()
            self._smtp = None


class AppriseSender:
    """Any Apprise URL: chat, push, webhooks."""

    def send(self, message: Message) -> None:
        import apprise

        app = apprise.Apprise()
        if not app.add(message.recipient):
            raise ValueError("the Apprise URL was not accepted")
        if not app.notify(title=message.subject, body=message.body_text):
            raise ConnectionError("the Apprise service did not accept the notification")

    def close(self) -> None:
        pass



@dataclass
class Deliverer:
    """Drains the outbox for one worker identity."""

    engine: Engine
    settings: Settings
    clock: Clock
    signer: Ed25519Signer
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

    def _deliver(self, message: Message) -> int:
        # Renew the claim just before sending: a batch sent slowly must not outlive its lease
        # and be sent again by another worker that took it over.
        lease = timedelta(seconds=self.settings.claim_seconds)
        with self.engine.begin() as conn:
            if not outbox.renew(conn, message, self.worker, self.clock.now(), lease):
                return 0
        try:
            self.senders[message.channel].send(message)
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


def default_senders(settings: Settings) -> dict[Channel, Sender]:
    return {Channel.EMAIL: SmtpSender(settings), Channel.APPRISE: AppriseSender()}
