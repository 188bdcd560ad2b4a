"""A policy past its bounds is refused with one line naming the field, and nothing of it is saved.

Before the bounds, ``{"interval": "1d", "grace": "999999999d"}`` was saved and from then on every
status and check-in of that owner answered 500 (the deadline plus grace is past the year 9999);
on the owner's policy page an interval of ``9999999d`` gave "Internal Server Error". Both run
here through the real application, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from baton.http.app import create_app
from baton.runtime import Runtime
from baton.store.tables import transitions
from baton.testing import FakeClock

PASSWORD = "correct horse battery"


def _transitions(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(transitions)).scalar_one())


def test_an_endless_grace_is_refused_and_the_switch_keeps_answering(runtime: Runtime, clock: FakeClock) -> None:
    made = runtime.service.create_owner("owner@example.org", PASSWORD, "Europe/Rome")
    client = TestClient(create_app(runtime.service), raise_server_exceptions=False)
    auth = {"Authorization": f"Bearer {made.api_token}"}
    policy, status, recorded = client.get("/api/policy", headers=auth).json(), \
        client.get("/api/status", headers=auth).json(), _transitions(runtime)

    for body, detail in (({"interval": "1d", "grace": "999999999d"},
                          "policy field `grace`: expected at most 3650d, got '999999999d'"),
                         ({"interval": "9999999d"}, "policy field `interval`: expected at most 3650d, got '9999999d'"),
                         ({"interval": "30d", "stages": [{"name": "late", "after": "1000000000w"}]},
                          "policy field `stages[0].after`: expected at most 3650d, got '1000000000w'")):
        refused = client.put("/api/policy", json=body, headers=auth)
        assert (refused.status_code, refused.json()) == (422, {"detail": detail})

    assert client.get("/api/policy", headers=auth).json() == policy
    assert client.get("/api/status", headers=auth).json() == status
    assert _transitions(runtime) == recorded  # no check-in was recorded for a refused policy
    clock.advance(hours=1)
    assert client.get("/api/status", headers=auth).status_code == 200
    assert client.post("/api/checkin", headers=auth).status_code == 200
    assert client.put("/api/policy", json={"interval": "3650d", "grace": "3650d"}, headers=auth).status_code == 200
    assert client.get("/api/status", headers=auth).status_code == 200


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_the_policy_page_shows_the_bound_next_to_the_interval_and_saves_nothing(runtime: Runtime) -> None:
    made = runtime.service.create_owner("owner@example.org", PASSWORD, "Europe/Rome")
    client = TestClient(create_app(runtime.service), raise_server_exceptions=False)
    signed = client.post("/signin", data={"email": "owner@example.org", "password": PASSWORD,
                                          "csrf": _csrf(client.get("/signin").text)}, follow_redirects=False)
    assert signed.status_code == 303  # no authenticator app set up: the password alone signs in
    before, recorded = runtime.service.get_policy(made.owner.id), _transitions(runtime)
    form = {"csrf": _csrf(client.get("/policy").text), "mode": "interval", "interval": "9999999d", "grace": "7d",
            "timezone": "Europe/Rome", "max_pause": "90d", "request_wait": "7d"}
    for action in ("save", "preview"):
        answer = client.post("/policy", data={**form, "action": action})
        assert answer.status_code == 422
        shown = re.search(r'<p class="error" id="interval-error">([^<]*)</p>', answer.text)
        assert shown and shown.group(1) == \
            "Interval (9999999d) is too long: the most Baton accepts is 3650d (ten years)."
        assert 'value="9999999d"' in answer.text and "nothing was saved" in answer.text
    grace = client.post("/policy", data={**form, "interval": "1d", "grace": "999999999d", "action": "save"})
    shown = re.search(r'<p class="error" id="grace-error">([^<]*)</p>', grace.text)
    assert grace.status_code == 422 and shown and shown.group(1) == \
        "Grace after the deadline (999999999d) is too long: the most Baton accepts is 3650d (ten years)."
    assert runtime.service.get_policy(made.owner.id) == before and _transitions(runtime) == recorded
    assert client.get("/").status_code == 200
    auth = {"Authorization": f"Bearer {made.api_token}"}
    assert client.get("/api/status", headers=auth).status_code == 200
    assert client.post("/api/checkin", headers=auth).status_code == 200
