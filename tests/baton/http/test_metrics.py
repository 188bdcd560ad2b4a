"""/metrics (issue 15): Prometheus' text format with the backlog, the detection lag, the outbox by channel,
delivery failures, check-ins and releases, all read from the database; for loopback clients that did not
come through a proxy, or with the bearer token in BATON_METRICS_TOKEN; 404 or 403 to anyone else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.store.tables import outbox
from baton.testing import FakeClock
from tests_support import settings_for

NAMES = {"baton_switches_due", "baton_detection_lag_seconds", "baton_switches", "baton_outbox_waiting",
         "baton_outbox_oldest_age_seconds", "baton_outbox_due", "baton_outbox_retrying", "baton_outbox_given_up",
         "baton_outbox_held", "baton_outbox_superseded",
         "baton_checkins", "baton_releases", "baton_workers_running", "baton_worker_heartbeat_age_seconds"}
TOKEN = "metrics-token-0123456789abcdef"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(runtime: Runtime, client: tuple[str, int] = ("127.0.0.1", 40000), **headers: str) -> tuple[int, str]:
    with TestClient(create_app(runtime.service), client=client) as browser:
        answer = browser.get("/metrics", headers=headers)
    return answer.status_code, answer.text


def test_the_metrics_are_named_and_typed_for_prometheus(runtime: Runtime) -> None:
    status, text = scrape(runtime)
    assert status == 200
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert set(families) == NAMES
    assert families["baton_checkins"] == families["baton_releases"] == "counter"
    assert {t for n, t in families.items() if n not in ("baton_checkins", "baton_releases")} == {"gauge"}
    values = samples(text)
    assert values[("baton_outbox_waiting", (("channel", "email"),))] == 0
    assert values[("baton_outbox_waiting", (("channel", "apprise"),))] == 0
    assert values[("baton_releases_total", (("drill", "true"),))] == 0
    assert values[("baton_worker_heartbeat_age_seconds", ())] == float("inf")  # no worker ever ran


def test_the_figures_follow_the_database(runtime: Runtime, clock: FakeClock) -> None:
    service = runtime.service
    made = service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    service.check_in(made.owner.id)
    worker = runtime.worker()
    worker.heartbeat.beat()
    clock.advance(days=40)  # well past the 30-day deadline: reminders and the deadline are due
    due = service.next_due()
    assert due is not None
    values = samples(scrape(runtime)[1])
    assert values[("baton_switches_due", ())] == 1
    assert values[("baton_detection_lag_seconds", ())] == (clock.now() - due).total_seconds()
    assert values[("baton_checkins_total", ())] == 1
    assert values[("baton_workers_running", ())] == 0  # its beat is 40 days old
    assert values[("baton_worker_heartbeat_age_seconds", ())] == 40 * 86400

    worker.run_switches()  # the deadline recorded; its messages wait in the outbox (no mail server here)
    worker.heartbeat.beat()
    clock.advance(minutes=1)  # within the 90 s a heartbeat stays fresh
    with runtime.engine.begin() as conn:
        waiting = conn.execute(update(outbox).where(outbox.c.id == 1).values(attempts=1)).rowcount
        given_up = conn.execute(update(outbox).where(outbox.c.id == 2).values(failed=True)).rowcount
    assert waiting == given_up == 1
    values = samples(scrape(runtime)[1])
    assert values[("baton_switches_due", ())] == 0 and values[("baton_detection_lag_seconds", ())] == 0
    now_status = service.status(made.owner.id).status
    assert values[("baton_switches", (("status", now_status),))] == 1
    assert sum(v for (name, _), v in values.items() if name == "baton_switches") == 1
    email = (("channel", "email"),)
    assert values[("baton_outbox_waiting", email)] >= 1
    assert values[("baton_outbox_due", email)] == values[("baton_outbox_waiting", email)]
    assert values[("baton_outbox_oldest_age_seconds", email)] == 60
    assert values[("baton_outbox_retrying", email)] == 1 and values[("baton_outbox_given_up", email)] == 1
    assert values[("baton_workers_running", ())] == 1
    assert values[("baton_worker_heartbeat_age_seconds", ())] == 60


@pytest.mark.parametrize(("client", "headers", "status"), [
    (("127.0.0.1", 40000), {}, 200),
    (("::1", 40000), {}, 200),
    (("127.0.0.1", 40000), {"X-Forwarded-For": "203.0.113.7"}, 404),  # through a proxy on this machine
    (("127.0.0.1", 40000), {"Forwarded": "for=203.0.113.7"}, 404),
    (("203.0.113.7", 40000), {}, 404),
    (("10.0.0.5", 40000), {"Authorization": f"Bearer {TOKEN}"}, 404),  # no token set: none is accepted
], ids=["loopback", "loopback-v6", "proxied", "forwarded", "remote", "token-unset"])
def test_without_a_token_only_loopback_clients_read_the_metrics(runtime: Runtime, client: tuple[str, int],
                                                                 headers: dict[str, str], status: int) -> None:
    got, text = scrape(runtime, client, **headers)
    assert got == status
    if status == 404:
        assert text == '{"detail":"Not Found"}'


@pytest.mark.parametrize(("client", "headers", "status"), [
    (("203.0.113.7", 40000), {"Authorization": f"Bearer {TOKEN}"}, 200),
    (("203.0.113.7", 40000), {}, 403),
    (("203.0.113.7", 40000), {"Authorization": f"Bearer {TOKEN}x"}, 403),
    (("203.0.113.7", 40000), {"Authorization": TOKEN}, 403),
    (("127.0.0.1", 40000), {}, 200),
], ids=["token", "none", "wrong", "not-bearer", "loopback"])
def test_with_a_token_anyone_showing_it_reads_the_metrics(db_url: str, clock: FakeClock, client: tuple[str, int],
                                                          headers: dict[str, str], status: int) -> None:
    runtime = build(settings_for(db_url, metrics_token=TOKEN), clock=clock)
    try:
        got, text = scrape(runtime, client, **headers)
    finally:
        runtime.engine.dispose()
    assert got == status
    if status == 403:
        assert text == ('{"detail":"the metrics need the bearer token in BATON_METRICS_TOKEN (or a request from '
                        'the loopback)"}')
    else:
        assert "baton_switches_due 0.0" in text


def test_the_detection_lag_counts_from_the_oldest_due_switch(runtime: Runtime, clock: FakeClock) -> None:
    service = runtime.service
    service.create_owner("first@example.org", "correct horse battery", "Europe/Rome")
    clock.advance(days=1)
    service.create_owner("second@example.org", "correct horse battery", "Europe/Rome")
    first_due = service.next_due()
    assert first_due is not None
    clock.advance(days=60)
    values = samples(scrape(runtime)[1])
    assert values[("baton_switches_due", ())] == 2
    assert values[("baton_detection_lag_seconds", ())] == (clock.now() - first_due).total_seconds()
    assert (clock.now() - first_due) > timedelta(days=30)
