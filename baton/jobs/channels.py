"""The channels a message leaves by: e-mail over SMTP and Apprise (chat, push, webhooks).

Every e-mail carries a Message-ID derived from its outbox key, so a repeat is recognisable.
Apprise messages go to addresses owners chose, so they leave under the outbound guard
(``baton.netguard``) and the channel rules (``baton.channelrules``).
"""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

from baton import channelrules
from baton.jobs.outbox import Channel, Message
from baton.netguard import Refused, guarded
from baton.services.channels import guard_of
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
    """Apprise URLs (chat, push, webhooks), each checked against the rules and sent under the guard.

    A URL that breaks a rule now (stored before the rule, or written around the API) raises
    ``Refused`` and is not sent; so does a connection the guard refuses (a name that resolves to a
    private address now). Every request waits no longer than the settings' timeouts, whatever the
    URL or the service's plugin asks, and runs in the calling thread (no Apprise pool of its own,
    where a hanging service would hold a thread the delivery cannot see).
    """

    def __init__(self, settings: Settings) -> None:
        self.schemes = settings.apprise_schemes
        self.guard = guard_of(settings)

    def send(self, message: Message) -> None:
        import apprise

        try:
            channelrules.check(message.recipient, self.schemes, None)
        except channelrules.ChannelRefused as exc:
            raise Refused(f"the channel breaks the rule on its {exc.rule}: {exc}") from None
        app = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False, service_timeout=0))
        if not app.add(message.recipient):
            raise ValueError("the Apprise URL was not accepted")
        for service in app:
            service.socket_connect_timeout = self.guard.connect_timeout
            service.socket_read_timeout = self.guard.read_timeout
        with guarded(self.guard) as session:
            done = app.notify(title=message.subject, body=message.body_text)
        if session.refused:
            raise Refused(session.refused[0])
        if not done:
            raise ConnectionError("the Apprise service did not accept the notification")

    def close(self) -> None:
        pass


class PerThread:
    """A sender made afresh for each sending thread (an SMTP connection belongs to one thread)."""

    def __init__(self, make: Callable[[], Sender]) -> None:
        self.make = make


def default_senders(settings: Settings) -> dict[Channel, Sender | PerThread]:
    return {Channel.EMAIL: PerThread(lambda: SmtpSender(settings)), Channel.APPRISE: AppriseSender(settings)}
