"""The channels a message leaves by: e-mail over SMTP and Apprise (chat, push, webhooks).

Every e-mail carries a Message-ID derived from its outbox key, so a repeat is recognisable.
"""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

from baton.jobs.outbox import Channel, Message
from baton.settings import Settings


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


def default_senders(settings: Settings) -> dict[Channel, Sender]:
    return {Channel.EMAIL: SmtpSender(settings), Channel.APPRISE: AppriseSender()}
