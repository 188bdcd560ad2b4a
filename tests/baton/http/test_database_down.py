"""The database out of reach: 503 saying that the check-in (or whatever was asked) was NOT recorded and to
try again, as problem JSON on the API and as a page in the link's language on link pages (issue 12: it
was a bare "Internal Server Error" that did not say whether the check-in counted). On PostgreSQL: a
server whose database port is closed, connections cut by the database (``pg_terminate_backend``), and
a connection cut in the middle of its COMMIT, whose outcome nobody can know."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.engine import make_url

from baton.http.app import create_app
from baton.http.pagelanguage import CHECKIN_MAYBE_RECORDED, CHECKIN_NOT_RECORDED, NOT_RECORDED
from baton.runtime import Runtime, build
from baton.services.switch import SwitchService
from baton.store import links
from baton.store.engine import make_engine
from baton.store.links import Purpose
from baton.store.tables import links as link_rows
from baton.testing import FakeClock
from tests_support import free_port, settings_for

pytestmark = pytest.mark.postgres


@dataclass
class Deployment:
    runtime: Runtime
    token: str  # the owner's API token
    link: str  # a check-in link's token
    dsn: str  # the database, for psycopg

    def checkins(self) -> int:
        return sum(e["event"] == "checkin" for e in self.runtime.service.timeline(1, 1000))

    def link_used(self) -> bool:
        with self.runtime.engine.connect() as conn:
            return conn.execute(select(link_rows.c.used_at)).scalar_one() is not None

    def terminate_others(self) -> int:
        """Cut every other connection to the database, as a restart or an administrator would."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                                    "current_database() AND pid <> pg_backend_pid()").fetchall())


@pytest.fixture
def deployment(pg_url: str, clock: FakeClock) -> Iterator[Deployment]:
    runtime = build(settings_for(pg_url), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    assert made.owner.id == 1
    now = clock.now()
    with runtime.engine.begin() as conn:
        link = links.token(runtime.service.key, links.create(conn, 1, Purpose.CHECKIN, now,
                                                             expires_at=now + timedelta(days=14)))
    clock.advance(days=1)
    dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    yield Deployment(runtime, made.api_token, link, dsn)
    runtime.engine.dispose()


def _unreachable(runtime: Runtime) -> SwitchService:
    """The same service, its engine pointed at a port where no database listens."""
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/baton")
    return SwitchService(engine, runtime.settings, runtime.service.clock, runtime.service.signer,
                         runtime.service.key)


def test_a_database_out_of_reach_is_503_saying_nothing_was_recorded(
        deployment: Deployment, caplog: pytest.LogCaptureFixture) -> None:
    """The API says the check-in was NOT recorded (problem JSON); the check-in link says it in the browser's
    language, since the link's person cannot be looked up; the owner's check-in button in English. The
    logs name the route, never the link."""
    down = _unreachable(deployment.runtime)
    api = {"Authorization": f"Bearer {deployment.token}"}
    with TestClient(create_app(down), base_url=deployment.runtime.settings.base_url) as client, \
            caplog.at_level(logging.WARNING, logger="baton.http"):
        checkin = client.post("/api/checkin", headers=api)
        assert checkin.status_code == 503
        assert checkin.json() == {"detail": CHECKIN_NOT_RECORDED}
        assert checkin.json()["detail"] == ("Baton's database cannot be reached right now: your check-in was NOT "
                                            "recorded. Try again in a few minutes.")
        assert checkin.headers["retry-after"] == "120"
        paused = client.post("/api/pause", headers=api, json={"until": "2026-02-01T00:00:00Z"})
        assert (paused.status_code, paused.json()) == (503, {"detail": NOT_RECORDED})
        status = client.get("/api/status", headers=api)
        assert status.status_code == 503 and "nothing could be read" in status.json()["detail"]

        page = client.post(f"/l/{deployment.link}", headers={"Accept-Language": "it-IT,it;q=0.9,en;q=0.5"})
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert 'lang="it"' in page.text
        assert "la Sua conferma di presenza (check-in) NON è stata registrata. Riprovi tra qualche minuto." \
            in page.text
        shown = client.get(f"/l/{deployment.link}", headers={"Accept-Language": "pt-BR"})
        assert shown.status_code == 503 and "esta página não pode ser exibida" in shown.text
        answered = client.post("/v/some-verifier-link", data={"answer": "reachable"},
                               headers={"Accept-Language": "id"})
        assert answered.status_code == 503 and "tidak ada yang dicatat" in answered.text
        client.cookies.set("baton_session", "a-session-cookie")
        button = client.post("/checkin", headers={"Accept-Language": "it"})
        assert button.status_code == 503 and escape(CHECKIN_NOT_RECORDED) in button.text  # the owner's: English
    down.engine.dispose()
    assert deployment.checkins() == 0 and not deployment.link_used()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /l/{token}" in logged and "POST /api/checkin" in logged
    assert deployment.link not in logged and deployment.token not in logged


def test_connections_cut_by_the_database_fail_one_request_then_recover(deployment: Deployment) -> None:
    """The database drops every connection (a restart): the next check-in meets a dead connection and is
    told it was NOT recorded, and nothing of it was; the one after works on fresh connections."""
    with TestClient(create_app(deployment.runtime.service), base_url=deployment.runtime.settings.base_url) as client:
        api = {"Authorization": f"Bearer {deployment.token}"}
        assert client.post("/api/checkin", headers=api).status_code == 200
        assert deployment.terminate_others() >= 1
        cut = client.post("/api/checkin", headers=api)
        assert (cut.status_code, cut.json()) == (503, {"detail": CHECKIN_NOT_RECORDED})
        assert deployment.checkins() == 1
        assert client.post("/api/checkin", headers=api).status_code == 200
        assert deployment.checkins() == 2
        assert deployment.terminate_others() >= 1
        page = client.post(f"/l/{deployment.link}", headers={"Accept-Language": "pt"})
        assert page.status_code == 503 and "NÃO foi registrada" in page.text
        assert not deployment.link_used()
        assert client.post(f"/l/{deployment.link}").status_code == 200 and deployment.link_used()


def test_a_connection_cut_while_committing_says_the_check_in_may_not_have_been_recorded(
        deployment: Deployment) -> None:
    """If the connection goes while COMMIT is on its way, nobody knows whether it was recorded: the answer
    says so, and that checking in again does no harm. (A deferred trigger holds the COMMIT open.)"""
    with psycopg.connect(deployment.dsn, autocommit=True) as admin:
        admin.execute("CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
                      "$$ BEGIN PERFORM pg_sleep(20); RETURN NULL; END $$")
        admin.execute("CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON audit_entries DEFERRABLE INITIALLY "
                      "DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()")
        url = deployment.runtime.settings.base_url
        with TestClient(create_app(deployment.runtime.service), base_url=url) as client:
            answer: dict[str, httpx.Response] = {}
            thread = threading.Thread(target=lambda: answer.update(response=client.post(
                "/api/checkin", headers={"Authorization": f"Bearer {deployment.token}"})))
            thread.start()
            deadline = time.monotonic() + 15
            while not admin.execute("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = "
                                    "current_database()").fetchall():
                assert time.monotonic() < deadline, "the check-in never reached its COMMIT"
                time.sleep(0.02)
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                          "AND datname = current_database()")
            thread.join(timeout=15)
        admin.execute("DROP TRIGGER slow_commit ON audit_entries")
    response = answer["response"]
    assert (response.status_code, response.json()) == (503, {"detail": CHECKIN_MAYBE_RECORDED})
    assert deployment.checkins() == 0  # here it was not; the answer could not know that
