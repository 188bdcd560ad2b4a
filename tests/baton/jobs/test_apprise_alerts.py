"""The owner's alerts go to every channel: e-mail and each Apprise URL (here a webhook on loopback)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from baton.jobs.channels import AppriseSender
from baton.jobs.outbox import Channel
from baton.runtime import Runtime, build
from baton.testing import FakeClock, RecordingSender
from tests_support import settings_for

LOOPBACK = ["127.0.0.0/8"]  # the guard refuses loopback unless the operator allows it


@pytest.fixture
def loopback_runtime(db_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """The service on a fresh database, its outbound guard letting 127.0.0.0/8 through."""
    rt = build(settings_for(db_url, outbound_allow=LOOPBACK), clock=clock)
    yield rt
    rt.engine.dispose()


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, object]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length", 0))
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, object]]]]:
    """A JSON webhook on 127.0.0.1 that records what it receives."""
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"json://127.0.0.1:{server.server_address[1]}/hook", _Hook.received
    server.shutdown()
    server.server_close()


def test_grace_alerts_reach_the_webhook_and_the_mailbox(loopback_runtime: Runtime, clock: FakeClock,
                                                        webhook: tuple[str, list[dict[str, object]]]) -> None:
    """At the deadline the owner is alerted by e-mail and through the Apprise URL; reminders stay e-mail only."""
    runtime = loopback_runtime
    url, received = webhook
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome", policy={
        "interval": "10d", "reminders": ["1d"], "grace": "3d", "grace_reminder_every": "1d"})
    runtime.service.add_channel(made.owner.id, url, "phone")
    mail = RecordingSender()
    worker = runtime.worker({Channel.EMAIL: mail, Channel.APPRISE: AppriseSender(runtime.settings)})
    clock.advance(days=9, hours=1)
    worker.run_once()
    assert received == []
    clock.advance(days=1)
    worker.run_once()
    assert [m.purpose for m in mail.sent] == ["reminder", "deadline"]
    assert len(received) == 1
    assert "you missed your check-in" in str(received[0]["title"])
    # A chat or push channel may be public: it never carries a live check-in link.
    assert "/l/" not in str(received[0]["message"])
    assert "[the check-in link is in your e-mail]" in str(received[0]["message"])
    assert "http://baton.test/l/" in mail.sent[1].body_text


def test_an_unknown_apprise_url_is_refused(runtime: Runtime) -> None:
    """A URL Apprise cannot use is refused with a message that does not echo it whole."""
    from baton.errors import BadRequest

    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    with pytest.raises(BadRequest) as caught:
        runtime.service.add_channel(made.owner.id, "nosuchscheme://secret-token@host")
    assert str(caught.value) == ("url: expected an Apprise URL such as ntfy://topic or json://host/path, "
                                 "got one starting 'nosuchscheme'")
