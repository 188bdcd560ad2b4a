"""A loopback SMTP server for tests: aiosmtpd on 127.0.0.1 that keeps every message it accepts.

The server keeps its port across ``stop`` and ``start``, so a test can take it down and
bring it back at the same address, the way a real relay goes away and returns.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests_support import free_port

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Received:
    """One message the server accepted, parsed."""

    envelope_to: tuple[str, ...]
    to: str
    subject: str
    message_id: str
    purpose: str
    text: str | None
    html: str | None
    mail: EmailMessage
    at: float = field(default_factory=time.time, compare=False)  # when it was accepted (``time.time()``)
    peer: tuple[str, int] = field(default=("", 0), compare=False)  # the client's end of the connection


def _part(mail: EmailMessage, subtype: str) -> str | None:
    body = mail.get_body(preferencelist=(subtype,))
    if body is None or body.get_content_subtype() != subtype:
        return None
    return str(body.get_content())


def parse(raw: bytes, envelope_to: list[str], peer: tuple[str, int] = ("", 0)) -> Received:
    """A message as the server got it: envelope recipients and the raw bytes of DATA."""
    # CRLF is how SMTP carries lines, not part of the text: read it as a mail client would.
    mail = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    return Received(envelope_to=tuple(envelope_to), to=str(mail["To"]), subject=str(mail["Subject"]),
                    message_id=str(mail["Message-ID"]), purpose=str(mail["X-Baton-Purpose"]),
                    text=_part(mail, "plain"), html=_part(mail, "html"), mail=mail, peer=peer)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, _smtp: Any, _session: Any, envelope: Any, address: str, _options: Any) -> str:
        if address in self.server.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _smtp: Any, session: Any, envelope: Any) -> str:
        if self.server.delay:
            await asyncio.sleep(self.server.delay)  # a slow relay, so a crash can land mid-batch
        self.server._keep(parse(envelope.original_content or envelope.content, envelope.rcpt_tos,
                                tuple(session.peer)))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on a fixed loopback port; ``stop`` then ``start`` is an outage and a recovery."""

    def __init__(self, port: int | None = None, delay: float = 0.0) -> None:
        self.host = HOST
        self.port = port or free_port()
        self.delay = delay  # seconds the server takes to accept each message
        self.refuse: set[str] = set()  # recipients refused at RCPT (a mailbox that does not exist)
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        """Listen on the same port as before (a fresh controller: a stopped one cannot restart)."""
        if self._controller is not None:
            raise ValueError(f"the SMTP server on port {self.port} is already running")
        controller = Controller(_Handler(self), hostname=self.host, port=self.port, ready_timeout=10)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Close the port and drop open sessions; clients now get 'connection refused'."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _keep(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)

    @property
    def received(self) -> list[Received]:
        """Every accepted message so far, in the order accepted (a copy)."""
        with self._lock:
            return list(self._received)

    def connections(self) -> int:
        """How many client connections delivered at least one of the accepted messages."""
        return len({r.peer for r in self.received})

    def message_ids(self) -> Counter[str]:
        """How many times each Message-ID arrived."""
        return Counter(r.message_id for r in self.received)


@contextmanager
def running_smtp_server(delay: float = 0.0) -> Iterator[SmtpServer]:
    """A started server, stopped on the way out whatever happened."""
    server = SmtpServer(delay=delay)
    server.start()
    try:
        yield server
    finally:
        server.stop()
