"""The outbound guard: no channel reaches the server's own network, and no URL shapes the request.

Listeners on 127.0.0.1 (TCP, and UDP on the same port for the schemes that would use it; TCP on ::1
too) must receive nothing from any channel when the guard is at its defaults: every allowed scheme
pointed at loopback, link-local, private addresses, a name for loopback and IPv4 inside IPv6, when the
channel is added (422, nothing saved) and when a channel stored around the API is sent to (refused,
failed for good, audited). A name that resolves to a public address when added and to 127.0.0.1 when
sent to (DNS rebinding) is refused at the connection: the resolver the guard asks is replaced for
that, the guard itself is the real one.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from listeners import Traps, traps, webhook
from sqlalchemy import insert, select

from baton import channelrules, netguard
from baton.http.app import create_app
from baton.jobs.channels import AppriseSender
from baton.jobs.outbox import Channel, enqueue
from baton.netguard import Guard, kind_of
from baton.runtime import Runtime, build
from baton.store.tables import audit_entries, channels, outbox
from baton.testing import FakeClock, RecordingSender
from tests_support import settings_for

PUBLIC = "93.184.216.34"  # what a public name resolves to; never connected to (nothing here connects out)
# Where an owner might point a channel: the host (with the listener's port) and the kind of address it is.
INSIDE = {
    "127.0.0.1:{port}": "loopback",
    "[::1]:{port}": "loopback",
    "169.254.169.254": "link-local",
    "10.0.0.1:{port}": "private",
    "localhost:{port}": "loopback",
    "[::ffff:7f00:1]:{port}": "loopback",  # IPv4-mapped IPv6
    "2130706433:{port}": "loopback",  # 127.0.0.1 as one number
}
# Every allowed scheme whose URL names its server, written to point at {host}.
NAMED = {
    "apprise": "{s}://{h}/token", "form": "{s}://{h}/path", "json": "{s}://{h}/path", "xml": "{s}://{h}/path",
    "gotify": "{s}://{h}/tokenabc", "hassio": "{s}://{h}/accesstoken", "matrix": "{s}://user:pass@{h}/#room",
    "mmost": "{s}://{h}/token", "ncloud": "{s}://user:pass@{h}/admin", "nctalk": "{s}://user:pass@{h}/roomid",
    "ntfy": "{s}://{h}/topic", "rocket": "{s}://user:pass@{h}/#channel", "signal": "{s}://{h}/12345678901",
    "workflow": "{s}://{h}/workflowid/signature",
}
# The allowed schemes that send to their service's own servers: what stands in the host's place is a token.
OWN_SERVERS = {
    "discord": "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
    "gchat": "gchat://workspace/webhookkey/webhooktoken",
    "opsgenie": "opsgenie://apikey123?action=new",  # (its default maps an info alert to nothing, sending none)
    "pagerduty": "pagerduty://integrationkey@apikey",
    "pbul": "pbul://accesstoken",
    "pover": f"pover://{'u' * 30}@{'a' * 30}",
    "slack": "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
    "tgram": "tgram://123456789:ABCdefGhIJKlmNoPQRsTUVwxyZ/12345",
    "webex": f"webex://{'a' * 80}", "wxteams": f"wxteams://{'a' * 80}",
    "zulip": f"zulip://bot@apprise/{'a' * 32}",
}
# …but a Zulip organisation may be written with its own host: zulip://bot@127.0.0.1/… reaches 127.0.0.1.
ZULIP_INSIDE = {f"zulip://bot@{host}/{'a' * 32}": kind for host, kind in (
    ("127.0.0.1", "loopback"), ("10.0.0.1", "private"), ("169.254.169.254", "link-local"))}
# Schemes that are not allowed, pointed at the listeners: raw TCP and UDP, mail, local services.
NOT_ALLOWED = ["rsyslog://127.0.0.1:{port}", "rsyslog://127.0.0.1:{port}/?mode=tcp", "syslog://",
               "mailto://user:pw@127.0.0.1:{port}?to=a@example.org", "mqtt://127.0.0.1:{port}/topic",
               "growl://127.0.0.1:{port}", "irc://127.0.0.1:{port}/#room", "xmpp://user:pw@127.0.0.1:{port}",
               "windows://", "dbus://"]


def _base(scheme: str) -> str:
    return scheme[:-1] if scheme.endswith("s") and scheme[:-1] in NAMED else scheme


def _schemes() -> tuple[str, ...]:
    return settings_for("sqlite://").apprise_schemes


def _inside_urls(port: int) -> list[tuple[str, str]]:
    """(url, kind) for every allowed scheme that names its server, pointed at every inside address."""
    return [(NAMED[_base(s)].format(s=s, h=host.format(port=port)), kind)
            for s in _schemes() if _base(s) in NAMED for host, kind in INSIDE.items()] + list(ZULIP_INSIDE.items())


def test_every_allowed_scheme_is_pointed_inside_by_these_tests() -> None:
    """Each allowed scheme is either one that names its server (pointed at every inside address below)
    or one that sends to its service's own servers; each template is a valid URL with a public host."""
    schemes = _schemes()
    assert {_base(s) for s in schemes} == set(NAMED) | set(OWN_SERVERS)
    for scheme in schemes:
        url = NAMED[_base(scheme)].format(s=scheme, h=PUBLIC) if _base(scheme) in NAMED else OWN_SERVERS[scheme]
        described = channelrules.check(url, schemes, Guard())
        assert (described.scheme, described.host) == (scheme, PUBLIC if _base(scheme) in NAMED else None)


def test_the_kinds_of_address_the_guard_refuses() -> None:
    """IPv4 and IPv6; an IPv6 address carrying an IPv4 one (mapped, 6to4, NAT64) is judged by the latter."""
    expected = {"127.0.0.1": "loopback", "127.8.9.10": "loopback", "::1": "loopback",
                "10.1.2.3": "private", "172.16.0.1": "private", "192.168.1.1": "private",
                "169.254.169.254": "link-local", "fe80::1": "link-local", "fd00::1": "unique-local",
                "fc00::1": "unique-local", "224.0.0.1": "multicast", "ff02::1": "multicast",
                "0.0.0.0": "unspecified", "::": "unspecified", "240.0.0.1": "private",
                "100.64.0.1": "not public", "192.0.2.1": "private", "::127.0.0.1": "reserved",
                "::ffff:127.0.0.1": "loopback", "::ffff:10.0.0.1": "private", "::ffff:169.254.169.254": "link-local",
                "2002:7f00:1::": "loopback", "64:ff9b::a00:1": "private", "2001:db8::1": "private",
                "1.1.1.1": None, "93.184.216.34": None, "2606:4700::1111": None, "::ffff:1.1.1.1": None,
                "64:ff9b::101:101": None}
    assert {a: kind_of(ipaddress.ip_address(a)) for a in expected} == expected
    allowing = Guard(netguard.parse_networks(["127.0.0.0/8", "fd00::/8"]))
    assert allowing.problem(ipaddress.ip_address("127.0.0.1")) is None
    assert allowing.problem(ipaddress.ip_address("::ffff:127.0.0.1")) is None  # the range covers it mapped too
    assert allowing.problem(ipaddress.ip_address("fd12::1")) is None
    assert allowing.problem(ipaddress.ip_address("10.0.0.1")) == "private"


@pytest.fixture
def trap() -> Iterator[Traps]:
    with traps() as found:
        yield found


@pytest.fixture
def guarded_runtime(db_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """The service with the guard at its defaults (nothing allowed), a fast read timeout."""
    rt = build(settings_for(db_url, outbound_connect_timeout=1.0, outbound_read_timeout=1.0), clock=clock)
    yield rt
    rt.engine.dispose()


def _stored(rt: Runtime) -> list[str]:
    with rt.engine.connect() as conn:
        return list(conn.execute(select(channels.c.url)).scalars())


def test_adding_a_channel_that_points_inside_is_refused_and_nothing_is_saved(
        guarded_runtime: Runtime, trap: Traps) -> None:
    """POST /api/channels: 422 naming the address and its kind, for every scheme and address; nothing saved,
    nothing received. Schemes that are not allowed are refused by name."""
    rt = guarded_runtime
    made = rt.service.create_owner("owner@baton.test", "correct horse battery", "UTC")
    with TestClient(create_app(rt.service), base_url=rt.settings.base_url,
                    headers={"Authorization": f"Bearer {made.api_token}"}) as client:
        for url, kind in _inside_urls(trap.port):
            answer = client.post("/api/channels", json={"url": url})
            assert answer.status_code == 422, (url, answer.text)
            detail = answer.json()["detail"]
            assert detail.startswith("url: ") and f"which is {kind} (" in detail or f" is {kind} (" in detail, \
                (url, detail)
        for url in NOT_ALLOWED:
            answer = client.post("/api/channels", json={"url": url.format(port=trap.port)})
            assert answer.status_code == 422, (url, answer.text)
            detail = answer.json()["detail"]
            assert "expected a scheme the operator allows (apprise, apprises, discord" in detail or \
                "expected an Apprise URL such as ntfy://topic" in detail, (url, detail)
        assert client.get("/api/channels").json() == []
    assert _stored(rt) == []
    assert trap.anything() == []


def _alerts(rt: Runtime, clock: FakeClock, urls: list[str]) -> int:
    """An owner whose stored channels are ``urls`` (written around the API), alerted at its deadline."""
    owner = rt.service.create_owner("owner@baton.test", "correct horse battery", "UTC", policy={
        "interval": "1d", "reminders": [], "grace": "1d"}).owner
    with rt.engine.begin() as conn:
        conn.execute(insert(channels), [dict(owner_id=owner.id, url=url, label="stored", created_at=clock.now())
                                        for url in urls])
    clock.advance(days=1)
    return owner.id


def _names_resolve_to(monkeypatch: pytest.MonkeyPatch, address: Callable[[str], str]) -> list[str]:
    """Every name the guard resolves resolves to ``address(name)``; addresses stay themselves. The names asked."""
    asked: list[str] = []
    real = netguard.getaddrinfo

    def resolve(host: str, port: int | None) -> list[tuple[Any, ...]]:
        asked.append(host)
        try:
            ipaddress.ip_address(host)
            return real(host, port)
        except ValueError:
            to = address(host)
            family = socket.AF_INET6 if ":" in to else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (to, port or 0, 0, 0) if ":" in to else (to, port or 0))]
    monkeypatch.setattr(netguard, "getaddrinfo", resolve)
    return asked


def test_a_stored_channel_that_points_inside_is_refused_at_send_time(
        guarded_runtime: Runtime, clock: FakeClock, trap: Traps, monkeypatch: pytest.MonkeyPatch) -> None:
    """Channels written around the API — every allowed scheme at every inside address, the services that
    use their own servers (whose names resolve to 127.0.0.1 here) and schemes that are not allowed — are
    refused when the alert is sent: failed for good, audited with the reason; the listeners get nothing."""
    rt = guarded_runtime
    asked = _names_resolve_to(monkeypatch, lambda name: "127.0.0.1")
    urls = [url for url, _kind in _inside_urls(trap.port)]
    urls += list(OWN_SERVERS.values())
    urls += [url.format(port=trap.port) for url in NOT_ALLOWED]
    owner_id = _alerts(rt, clock, urls)
    mail = RecordingSender()
    worker = rt.worker({Channel.EMAIL: mail, Channel.APPRISE: AppriseSender(rt.settings)})
    assert worker.run_once() == (1, 1)  # the deadline: its e-mail goes, no alert to any channel does
    assert trap.anything() == []
    with rt.engine.connect() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.channel == "apprise")).all()
        reasons = [e["reason"] for e in conn.execute(select(audit_entries.c.data).where(
            audit_entries.c.owner_id == owner_id, audit_entries.c.kind == "delivery.failed")).scalars()]
    assert sorted(r.recipient for r in rows) == sorted(urls)
    for row in rows:
        assert row.failed and row.sent_at is None and row.attempts == 1, row.recipient
        assert row.last_error.startswith("Refused: "), (row.recipient, row.last_error)
    assert len(reasons) == len(rows)
    assert sum("which is loopback" in r or " is loopback (" in r for r in reasons) >= len(_schemes())
    assert any("discord.com resolves to 127.0.0.1, which is loopback" in r for r in reasons), reasons
    assert "discord.com" in asked or "discordapp.com" in asked


def test_a_name_that_rebinds_to_loopback_after_it_was_added_is_refused_at_the_connection(
        guarded_runtime: Runtime, clock: FakeClock, trap: Traps, monkeypatch: pytest.MonkeyPatch) -> None:
    """rebind.example resolves to a public address when the channel is added, to 127.0.0.1 from then on:
    the connection is refused, nothing reaches the listener."""
    rt = guarded_runtime
    answers = iter([PUBLIC])
    asked = _names_resolve_to(monkeypatch, lambda name: next(answers, "127.0.0.1"))
    owner = rt.service.create_owner("owner@baton.test", "correct horse battery", "UTC").owner
    url = f"json://rebind.example:{trap.port}/hook"
    rt.service.add_channel(owner.id, url, "rebinding")
    assert asked == ["rebind.example"]
    with rt.engine.begin() as conn:
        enqueue(conn, owner_id=owner.id, key="alert", channel=Channel.APPRISE, recipient=url, purpose="deadline",
                subject="Baton: alert", body_text="An alert.\n", body_html=None, now=clock.now())
    worker = rt.worker({Channel.EMAIL: RecordingSender(), Channel.APPRISE: AppriseSender(rt.settings)})
    assert worker.run_once() == (0, 0)
    assert asked == ["rebind.example", "rebind.example"], "resolved again at the connection, by the guard"
    assert trap.anything() == []
    with rt.engine.connect() as conn:
        row = conn.execute(select(outbox)).one()
    assert row.failed and row.last_error == (
        "Refused: rebind.example resolves to 127.0.0.1, which is loopback (outbound connections reach public "
        "addresses only)")


@pytest.mark.parametrize(("answer", "kind"), [(["::ffff:127.0.0.1"], "loopback"),
                                              ([PUBLIC, "127.0.0.1"], "loopback"), (["fd00::1"], "unique-local")])
def test_a_name_with_any_inside_address_is_refused(guarded_runtime: Runtime, trap: Traps,
                                                   monkeypatch: pytest.MonkeyPatch, answer: list[str],
                                                   kind: str) -> None:
    """A name that resolves to an IPv4-mapped loopback, or to a public and a loopback address, or to a
    unique-local one, is refused when added and at the connection (where no address of it is tried)."""
    def resolve(host: str, port: int | None) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port or 0, 0, 0)) if ":" in a
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port or 0)) for a in answer]
    monkeypatch.setattr(netguard, "getaddrinfo", resolve)
    rt = guarded_runtime
    owner = rt.service.create_owner("owner@baton.test", "correct horse battery", "UTC").owner
    url = f"json://inside.example:{trap.port}/hook"
    with pytest.raises(Exception, match=f"url: inside.example resolves to .*, which is {kind}"):
        rt.service.add_channel(owner.id, url)
    with pytest.raises(netguard.Refused, match=f"which is {kind}"):
        Guard().connect(("inside.example", trap.port))
    assert trap.anything() == []


@pytest.mark.parametrize(("query", "named"), [
    ("+Authorization=Bearer%20x", "'+Authorization', which sets an HTTP header"),
    ("+Metadata-Flavor=Google", "'+Metadata-Flavor', which sets an HTTP header"),
    ("-token=x", "'-token', which sets a query parameter"),
    (":message=x", "':message', which sets a payload field"),
    ("method=DELETE", "'method', which sets the HTTP method"),
    ("rto=60", "'rto', which sets a read timeout"),
    ("cto=60", "'cto', which sets a connect timeout"),
    ("retry=100", "'retry', which sets retries"),
    ("wait=60", "'wait', which sets the wait between retries"),
])
def test_a_parameter_that_shapes_the_request_is_refused_by_name(db_url: str, clock: FakeClock, query: str,
                                                                 named: str) -> None:
    """Even where the address is allowed: 422 naming the parameter, nothing saved."""
    with webhook() as hook:
        rt = build(settings_for(db_url, outbound_allow=["127.0.0.0/8"]), clock=clock)
        try:
            made = rt.service.create_owner("owner@baton.test", "correct horse battery", "UTC")
            with TestClient(create_app(rt.service), base_url=rt.settings.base_url,
                            headers={"Authorization": f"Bearer {made.api_token}"}) as client:
                answer = client.post("/api/channels", json={"url": f"{hook.url(path='admin/shutdown')}?{query}"})
                assert answer.status_code == 422, answer.text
                key, what = named.split(", which sets ")
                assert answer.json() == {"detail": f"url: expected no parameter that sets {what}, got {key}"}
                plain = client.post("/api/channels", json={"url": hook.url()})
                assert plain.status_code == 201, plain.text
            assert _stored(rt) == [hook.url()]
            assert hook.received() == []
        finally:
            rt.engine.dispose()


def test_the_guards_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Comma-separated lists; a range that is not one is refused by name when the settings load."""
    from pydantic import ValidationError

    from baton.settings import Settings

    monkeypatch.setenv("BATON_OUTBOUND_ALLOW", "10.8.0.0/16, fd00::/8,192.168.1.7")
    monkeypatch.setenv("BATON_APPRISE_SCHEMES", "ntfys,JSONS")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.outbound_allow == ("10.8.0.0/16", "fd00::/8", "192.168.1.7/32")
    assert settings.apprise_schemes == ("ntfys", "jsons")
    monkeypatch.setenv("BATON_OUTBOUND_ALLOW", "10.8.0.0/16,intranet")
    with pytest.raises(ValidationError, match="expected address ranges like 10.0.0.0/8 or fd00::/8, got 'intranet'"):
        Settings(_env_file=None)  # type: ignore[call-arg]
