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
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
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


_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP  # readable in the raw message, safe for any line length


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def _part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, _UTF8)
    return part


def mime(sender: str, message: Message) -> MIMEMultipart | MIMENonMultipart | EmailMessage:
    """The e-mail as sent: text, and HTML as its alternative when there is one. Built with the
    ``email.mime`` classes, a tenth of the CPU of ``EmailMessage`` (a mass wake-up sends thousands);
    an address that is not ASCII takes ``EmailMessage``, which knows how to write it."""
    if not (sender.isascii() and message.recipient.isascii()):
        return _rich(sender, message)
    text = _part(message.body_text, "plain")
    mail: MIMEMultipart | MIMENonMultipart = text
    if message.body_html:
        mail = MIMEMultipart("alternative")
        mail.attach(text)
        mail.attach(_part(message.body_html, "html"))
    mail["From"] = sender
    mail["To"] = message.recipient
    mail["Subject"] = _header(message.subject)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id(message)
    mail["X-Baton-Purpose"] = message.purpose
    return mail


def _rich(sender: str, message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id(message)
    mail["X-Baton-Purpose"] = message.purpose
    mail.set_content(message.body_text)
    if message.body_html:
        mail.add_alternative(message.body_html, subtype="html")
    return mail


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
        mail = mime(self.settings.mail_from, message)
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
