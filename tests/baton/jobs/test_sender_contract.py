"""One contract for every sender: the fake (``RecordingSender``) and the real one (``SmtpSender`` on aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import pytest
from smtp_server import SmtpServer

from baton.jobs.channels import Sender, SmtpSender
from baton.jobs.outbox import Channel, Message
from baton.testing import RecordingSender
from tests_support import settings_for


def _message(n: int, recipient: str = "holder@baton.test") -> Message:
    return Message(id=n, owner_id=1, channel=Channel.EMAIL, recipient=recipient, purpose="reminder",
                   subject=f"Baton: please check in — n° {n}",
                   body_text=f"Hello,\n\ncheck in here: http://baton.test/l/token{n}\nÀ bientôt.\n",
                   body_html=f'<p>Hello, <a href="http://baton.test/l/token{n}">check in</a></p>',
                   dedup_key=f"s1/reminder/{n}:email:tag", attempts=0)


class Side(Protocol):
    """A sender and a view of what reached the other end."""

    sender: Sender

    def delivered(self) -> list[tuple[str, str, str]]: ...

    def go_down(self) -> None: ...

    def come_back(self) -> None: ...


class RecordingSide:
    def __init__(self) -> None:
        self.recording = RecordingSender()
        self.sender: Sender = self.recording

    def delivered(self) -> list[tuple[str, str, str]]:
        return [(m.recipient, m.subject, m.body_text) for m in self.recording.sent]

    def go_down(self) -> None:
        self.recording.failing = True

    def come_back(self) -> None:
        self.recording.failing = False


class SmtpSide:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self.sender: Sender = SmtpSender(settings_for("sqlite://", smtp_port=server.port, smtp_timeout=5.0))

    def delivered(self) -> list[tuple[str, str, str]]:
        return [(r.envelope_to[0], r.subject, r.text or "") for r in self.server.received]

    def go_down(self) -> None:
        self.server.stop()

    def come_back(self) -> None:
        self.server.start()


@pytest.fixture(params=["recording", "smtp"])
def side(request: pytest.FixtureRequest) -> Iterator[Side]:
    """The same checks against the fake sender and the real SMTP sender."""
    made: Side = RecordingSide() if request.param == "recording" else SmtpSide(request.getfixturevalue("smtp"))
    yield made
    made.sender.close()


def test_a_sent_message_is_delivered_with_its_recipient_subject_and_body(side: Side) -> None:
    """Each message sent is observable once, in order, with the recipient, subject and text it was given."""
    messages = [_message(1), _message(2, "verifier@baton.test"), _message(3)]
    for message in messages:
        side.sender.send(message)
    assert side.delivered() == [(m.recipient, m.subject, m.body_text) for m in messages]


def test_a_sender_whose_server_is_down_raises_so_the_deliverer_retries(side: Side) -> None:
    """``send`` raises while the far end is down, and nothing is delivered."""
    side.go_down()
    with pytest.raises(ConnectionRefusedError):
        side.sender.send(_message(1))
    assert side.delivered() == []


def test_a_sender_delivers_again_once_its_server_is_back(side: Side) -> None:
    """A sender that failed mid-run (even holding an open connection) delivers the retry after recovery."""
    side.sender.send(_message(1))
    side.go_down()
    with pytest.raises(Exception):  # noqa: B017 - refused or disconnected, depending on the connection
        side.sender.send(_message(2))
    side.come_back()
    side.sender.send(_message(2))
    assert [subject for _, subject, _ in side.delivered()] == [_message(1).subject, _message(2).subject]
