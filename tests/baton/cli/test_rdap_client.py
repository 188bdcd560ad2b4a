"""The RDAP adapter against a real HTTP server on 127.0.0.1: bootstrap, errors, retries, cache, concurrency."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from baton.cli.rdap import RdapClient, Result, retry_after
from handover.names import DomainName, domain_name

NOW = datetime(2026, 2, 19, 12, 0, tzinfo=UTC)
JSON = "application/rdap+json"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stall: bool = False  # wait (bounded) before answering, for timeouts


def answer(ldh: str, expires: str = "2027-03-02T17:40:11Z", status: tuple[str, ...] = ("active",),
           registrar: str = "Example Registrar, Inc.") -> Reply:
    body = {"objectClassName": "domain", "ldhName": ldh, "status": list(status),
            "events": [{"eventAction": "expiration", "eventDate": expires}],
            "entities": [{"objectClassName": "entity", "roles": ["registrar"],
                          "publicIds": [{"type": "IANA Registrar ID", "identifier": "9999"}],
                          "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", registrar]]]}]}
    return Reply(200, json.dumps(body).encode(), {"Content-Type": JSON})


class State:
    """What the server answers and what it saw; shared by its handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.replies: dict[str, list[Reply]] = {}
        self.requests: list[tuple[str, str]] = []  # (path, Accept)
        self.active = 0
        self.peak = 0
        self.gather = 0  # hold domain requests until this many were in flight at once (bounded in time)
        self.release = threading.Event()

    def set(self, path: str, *replies: Reply) -> None:
        self.replies[path] = list(replies)

    def next_reply(self, path: str) -> Reply:
        with self.lock:
            queue = self.replies.get(path)
            if not queue:
                if path.startswith("/auto/domain/"):
                    return answer(path.rsplit("/", 1)[-1])
                return Reply(404, b'{"errorCode": 404, "title": "Not Found"}', {"Content-Type": JSON})
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def hits(self, prefix: str) -> list[str]:
        with self.lock:
            return [p for p, _ in self.requests if p.startswith(prefix)]

    def enter(self) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.lock.notify_all()
            self.lock.wait_for(lambda: self.peak >= self.gather, timeout=3)
            self.active -= 1  # before answering: the client may ask again as soon as it has the answer


class Handler(BaseHTTPRequestHandler):
    server: RdapServer

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        state = self.server.state
        with state.lock:
            state.requests.append((self.path, self.headers.get("Accept", "")))
        if "/domain/" in self.path and state.gather:
            state.enter()
        reply = state.next_reply(self.path)
        if reply.stall:
            state.release.wait(timeout=3)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value.replace("{base}", self.server.base))
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the signature of http.server
        pass


class RdapServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = State()
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.services: list[list[list[str]]] = [
            [["com", "net"], [f"{self.base}/com/"]],
            [["id"], [f"{self.base}/id/"]],
            [["co.id"], [f"{self.base}/coid"]],  # no trailing slash: still a base
            [["redir"], [f"{self.base}/old/"]],
        ]
        self.serve_bootstrap()

    def serve_bootstrap(self) -> None:
        body = json.dumps({"version": "1.0", "publication": "2026-02-18T20:00:01Z", "services": self.services})
        self.state.set("/dns.json", Reply(200, body.encode(), {"Content-Type": "application/json"}))


@pytest.fixture
def server() -> Iterator[RdapServer]:
    httpd = RdapServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


class FakeSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(server: RdapServer, **options: Any) -> RdapClient:
    options.setdefault("timeout", 2)
    options.setdefault("sleep", FakeSleep())
    return RdapClient(bootstrap_url=f"{server.base}/dns.json", **options)


def names(*texts: str) -> list[DomainName]:
    return [domain_name(t) for t in texts]


def errors(results: list[Result]) -> dict[str, str | None]:
    return {r.domain.ascii: r.error for r in results}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- lookups through the bootstrap -----------------------------------------------------------------------------
def test_each_domain_gets_its_own_result_in_order(server: RdapServer) -> None:
    state = server.state
    state.set("/com/domain/shop.com", answer("SHOP.COM", status=("client transfer prohibited",)))
    state.set("/com/domain/broken.com", Reply(200, b"<html>maintenance</html>", {"Content-Type": "text/html"}))
    state.set("/com/domain/wrong.com", answer("other.com"))
    state.set("/id/domain/xn--mnchen-3ya.id", answer("xn--mnchen-3ya.id", expires="2027-01-16T06:30:00+07:00"))
    state.set("/coid/domain/tokobuku.co.id", answer("tokobuku.co.id", registrar="PT Digital Registra Indonesia"))
    asked = names("shop.com", "missing.com", "broken.com", "wrong.com", "münchen.id", "tokobuku.co.id",
                  "example.xyz", "пример.рф")

    results = client(server).lookup_all(asked, NOW)

    assert [r.domain for r in results] == asked
    assert errors(results) == {
        "shop.com": None,
        "missing.com": "not found at the registry (RDAP 404)",
        "broken.com": "expected a JSON answer from 127.0.0.1, got text/html that is not JSON",
        "wrong.com": "expected the RDAP answer for wrong.com, got one for 'other.com'",
        "xn--mnchen-3ya.id": None,
        "tokobuku.co.id": None,
        "example.xyz": "no RDAP service is known for .xyz",
        "xn--e1afmkfd.xn--p1ai": "no RDAP service is known for .рф",
    }
    shop, idn, coid = results[0].observed, results[4].observed, results[5].observed
    assert shop and shop.statuses == ("clientTransferProhibited",) and shop.registrar_iana_id == "9999"
    assert idn and idn.expires == date(2027, 1, 15)
    assert coid and coid.registrar_name == "PT Digital Registra Indonesia"


def test_the_longest_bootstrap_suffix_wins(server: RdapServer) -> None:
    client(server).lookup_all(names("tokobuku.co.id", "pandi.id"), NOW)
    assert sorted(server.state.hits("/coid/") + server.state.hits("/id/")) == [
        "/coid/domain/tokobuku.co.id", "/id/domain/pandi.id"]


def test_queries_ask_for_rdap_json(server: RdapServer) -> None:
    client(server).lookup_all(names("a.com", "b.com"), NOW)
    accepts = {accept for path, accept in server.state.requests if "/domain/" in path}
    assert accepts == {JSON}


def test_redirects_are_followed_up_to_three(server: RdapServer) -> None:
    state = server.state
    state.set("/old/domain/moved.redir", Reply(301, headers={"Location": "{base}/new/domain/moved.redir"}))
    state.set("/new/domain/moved.redir", answer("moved.redir"))
    state.set("/old/domain/loop.redir", Reply(302, headers={"Location": "/old/domain/loop.redir"}))

    moved, loop = client(server).lookup_all(names("moved.redir", "loop.redir"), NOW)

    assert moved.error is None and moved.observed and moved.observed.expires == date(2027, 3, 2)
    assert loop.error == "more than 3 redirects from 127.0.0.1"
    assert len(state.hits("/old/domain/loop.redir")) == 4


def test_an_unreachable_registry_is_named_with_the_error_type(server: RdapServer) -> None:
    server.services.append([["gone"], [f"http://127.0.0.1:{closed_port()}/"]])
    server.serve_bootstrap()
    server.state.set("/com/domain/fine.com", answer("fine.com"))
    gone, fine = client(server).lookup_all(names("shop.gone", "fine.com"), NOW)
    assert gone.error == "cannot reach 127.0.0.1: ConnectError"
    assert fine.error is None


def test_a_slow_registry_times_out(server: RdapServer) -> None:
    server.state.set("/com/domain/slow.com", Reply(stall=True))
    (slow,) = client(server, timeout=0.2).lookup_all(names("slow.com"), NOW)
    assert slow.error == "cannot reach 127.0.0.1: ReadTimeout"


def test_a_server_error_is_reported_with_its_status(server: RdapServer) -> None:
    server.state.set("/com/domain/busy.com", Reply(503))
    assert client(server).lookup(domain_name("busy.com"), NOW).error == "unexpected answer from 127.0.0.1: HTTP 503"


# -- rate limits -----------------------------------------------------------------------------------------------
def test_a_short_retry_after_is_waited_for_once(server: RdapServer) -> None:
    sleep = FakeSleep()
    server.state.set("/com/domain/busy.com", Reply(429, headers={"Retry-After": "1"}), answer("busy.com"))
    result = client(server, sleep=sleep).lookup(domain_name("busy.com"), NOW)
    assert result.error is None and result.observed is not None
    assert sleep.waits == [1.0]
    assert len(server.state.hits("/com/domain/busy.com")) == 2


def test_a_second_429_is_reported(server: RdapServer) -> None:
    sleep = FakeSleep()
    server.state.set("/com/domain/busy.com", Reply(429, headers={"Retry-After": "2"}))
    result = client(server, sleep=sleep).lookup(domain_name("busy.com"), NOW)
    assert result.error == "rate limited by 127.0.0.1 (RDAP 429, again after waiting 2 s)"
    assert sleep.waits == [2.0]
    assert len(server.state.hits("/com/domain/busy.com")) == 2


def test_a_long_retry_after_is_not_waited_for(server: RdapServer) -> None:
    sleep = FakeSleep()
    server.state.set("/com/domain/busy.com", Reply(429, headers={"Retry-After": "30"}))
    result = client(server, sleep=sleep).lookup(domain_name("busy.com"), NOW)
    assert result.error == "rate limited by 127.0.0.1 (RDAP 429, retry after 30 s)"
    assert sleep.waits == []
    assert len(server.state.hits("/com/domain/busy.com")) == 1


@pytest.mark.parametrize(("header", "seconds"), [
    (None, 1.0), ("", 1.0), ("0", 0.0), ("4", 4.0), ("soon", 1.0),
    ("Thu, 19 Feb 2026 12:00:03 GMT", 3.0), ("Thu, 19 Feb 2026 11:00:00 GMT", 0.0),
])
def test_retry_after_in_seconds_or_as_a_date(header: str | None, seconds: float) -> None:
    assert retry_after(header, NOW) == seconds


# -- base_url --------------------------------------------------------------------------------------------------
def test_base_url_sends_every_query_there_without_a_bootstrap(server: RdapServer) -> None:
    results = client(server, base_url=f"{server.base}/auto/").lookup_all(names("a.com", "b.xyz", "c.co.id"), NOW)
    assert errors(results) == {"a.com": None, "b.xyz": None, "c.co.id": None}
    assert server.state.hits("/dns.json") == []
    assert sorted(server.state.hits("/auto/")) == ["/auto/domain/a.com", "/auto/domain/b.xyz", "/auto/domain/c.co.id"]


def test_no_names_no_requests(server: RdapServer) -> None:
    assert client(server).lookup_all([], NOW) == []
    assert server.state.requests == []


# -- the bootstrap cache ---------------------------------------------------------------------------------------
def test_the_bootstrap_is_cached_on_disk_for_a_day(server: RdapServer, tmp_path: Path) -> None:
    client(server, cache_dir=tmp_path).lookup_all(names("a.com"), NOW)
    client(server, cache_dir=tmp_path).lookup_all(names("b.com"), NOW + timedelta(hours=23))
    assert len(server.state.hits("/dns.json")) == 1
    client(server, cache_dir=tmp_path).lookup_all(names("c.com"), NOW + timedelta(hours=24, seconds=1))
    assert len(server.state.hits("/dns.json")) == 2
    client(server, cache_dir=tmp_path).lookup_all(names("d.com"), NOW + timedelta(hours=30))
    assert len(server.state.hits("/dns.json")) == 2
    assert len(server.state.hits("/com/domain/")) == 4


def test_the_bootstrap_is_kept_in_memory_without_a_cache_dir(server: RdapServer) -> None:
    rdap = client(server)
    rdap.lookup_all(names("a.com"), NOW)
    rdap.lookup_all(names("b.com"), NOW + timedelta(hours=1))
    assert len(server.state.hits("/dns.json")) == 1
    rdap.lookup_all(names("c.com"), NOW + timedelta(days=2))
    assert len(server.state.hits("/dns.json")) == 2


def test_a_damaged_or_foreign_cache_is_fetched_again(server: RdapServer, tmp_path: Path) -> None:
    client(server, cache_dir=tmp_path).lookup_all(names("a.com"), NOW)
    (cache,) = tmp_path.iterdir()
    cache.write_text("{not json", encoding="utf-8")
    client(server, cache_dir=tmp_path).lookup_all(names("a.com"), NOW)
    assert len(server.state.hits("/dns.json")) == 2
    other = RdapClient(bootstrap_url=f"{server.base}/dns.json?v=2", cache_dir=tmp_path, timeout=2)
    other.lookup_all(names("a.com"), NOW)
    assert len(server.state.hits("/dns.json")) == 3


def test_a_stale_bootstrap_serves_when_iana_cannot_be_reached(server: RdapServer, tmp_path: Path) -> None:
    client(server, cache_dir=tmp_path).lookup_all(names("a.com"), NOW)
    server.state.set("/dns.json", Reply(500))
    server.state.set("/com/domain/b.com", answer("b.com"))
    (later,) = client(server, cache_dir=tmp_path).lookup_all(names("b.com"), NOW + timedelta(days=3))
    assert later.error is None
    assert len(server.state.hits("/dns.json")) == 2


def test_without_a_bootstrap_every_domain_says_why(server: RdapServer) -> None:
    server.state.set("/dns.json", Reply(200, b'{"services": "none"}'))
    results = client(server).lookup_all(names("a.com", "b.id"), NOW)
    assert set(errors(results).values()) == {
        "cannot load the RDAP bootstrap: expected the bootstrap's 'services' to be a list, got 'none'"}
    assert server.state.hits("/com/") == []


def test_an_unreachable_bootstrap_is_named(server: RdapServer) -> None:
    rdap = RdapClient(bootstrap_url=f"http://127.0.0.1:{closed_port()}/dns.json", timeout=2)
    (result,) = rdap.lookup_all(names("a.com"), NOW)
    assert result.error == "cannot load the RDAP bootstrap: cannot reach 127.0.0.1: ConnectError"


# -- concurrency -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [1, 3])
def test_concurrency_is_bounded_by_max_workers(server: RdapServer, workers: int) -> None:
    server.state.gather = workers  # requests wait (at most 3 s) until this many were in flight together
    asked = names(*(f"site{i}.com" for i in range(12)))
    results = client(server, base_url=f"{server.base}/auto", max_workers=workers).lookup_all(asked, NOW)
    assert all(r.error is None for r in results)
    assert server.state.peak == workers


def test_max_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RdapClient(max_workers=0)
