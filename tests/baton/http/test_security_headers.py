"""Every response carries the security headers; pages get a policy that allows no script at all."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from baton.http import scripts
from baton.http.app import create_app
from baton.http.headers import DOCS_CSP, PAGES_CSP
from baton.runtime import Runtime, build
from baton.testing import FakeClock
from templates import TEMPLATE_DIR
from tests_support import settings_for

EXPECTED = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer",
            "cross-origin-opener-policy": "same-origin"}


@pytest.fixture
def client(sqlite_url: str, clock: FakeClock) -> Iterator[TestClient]:
    runtime: Runtime = build(settings_for(sqlite_url), clock=clock)
    with TestClient(create_app(runtime.service), base_url=runtime.settings.base_url) as client:
        yield client
    runtime.engine.dispose()


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/healthz", 503),  # no worker has run yet against this database
    ("GET", "/api/status", 401),  # no credentials: JSON error
    ("POST", "/api/checkin", 401),
    ("GET", "/l/not-a-real-token-123456", 404),  # a link page that explains itself
    ("GET", "/n/not-a-real-token-123456", 404),  # a customer's notice page
    ("POST", "/n/not-a-real-token-123456", 404),
    ("GET", "/d/not-a-real-token-123456", 404),
    ("GET", "/openapi.json", 200),
    ("GET", "/nowhere", 404),
])
def test_every_response_carries_the_security_headers(client: TestClient, method: str, path: str,
                                                      status: int) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    for name, value in EXPECTED.items():
        assert response.headers[name] == value, name
    assert response.headers["content-security-policy"] == PAGES_CSP
    assert "strict-transport-security" not in response.headers  # the test service is on http


def test_pages_allow_no_script_and_post_only_to_this_origin() -> None:
    directives = dict(d.strip().split(" ", 1) for d in PAGES_CSP.split(";"))
    assert directives["default-src"] == "'none'" and "script-src" not in directives
    assert directives["form-action"] == "'self'" and directives["frame-ancestors"] == "'none'"


def test_the_api_documentation_has_its_own_policy(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == DOCS_CSP
    assert response.headers["x-frame-options"] == "DENY"


def test_https_deployments_get_strict_transport_security(sqlite_url: str, clock: FakeClock) -> None:
    runtime = build(settings_for(sqlite_url, base_url="https://baton.example"), clock=clock)
    with TestClient(create_app(runtime.service), base_url="https://baton.example") as client:
        assert client.get("/healthz").headers["strict-transport-security"] == "max-age=31536000"
    runtime.engine.dispose()


SCRIPT_TAG = '<script src="{{ script.src }}" integrity="{{ script.integrity }}" defer></script>'
WORDS_BLOCK = re.compile(r'<script type="application/json" class="baton-words">\{\{ said\|tojson \}\}</script>')


OFFLINE_SCRIPT = '<script type="application/json" id="texts">{{ texts|tojson }}</script>\n<script>{{ script }}</script>'


def test_no_template_needs_a_script_the_policy_would_block() -> None:
    """Pages and mails hold no <script> but the pinned bundle's tag (in the base page, for the pages that name
    one), the offline page's pinned inline bundle, and JSON data blocks of translated words (never run); no
    javascript: URL, no inline event handler."""
    offending = []
    for path in Path(TEMPLATE_DIR).rglob("*"):
        if path.suffix not in (".html", ".j2"):
            continue
        text = WORDS_BLOCK.sub("", path.read_text(encoding="utf-8"))
        if path.name == "_base.html":
            text = text.replace(SCRIPT_TAG, "", 1)
        if path.name == "_open.html.j2":  # the package's offline page: its one inline script is pinned by hash in
            text = text.replace(OFFLINE_SCRIPT, "", 1)  # its own policy (tests/baton/services/test_offline_page_texts)
        if re.search(r"<script|javascript:|\son[a-z]+\s*=", text, re.IGNORECASE):
            offending.append(path.name)
    assert offending == []


def _holder_pages(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """The enrolment page of a new holder, its address, and once she enrolled, her key check's page."""
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    headers = {"Authorization": f"Bearer {made.api_token}"}
    added = client.post("/api/people", headers=headers, json={"name": "ana", "email": "ana@example.org",
                                                              "role": "heir"})
    enrol = added.json()["enrol_url"].removeprefix(runtime.settings.base_url)
    page = client.get(enrol)
    done = client.post(enrol, data={"recipient": "age1fshylh4x5vjsq0nvhx4zz5s902eap7pp9d5ss8rsr3hl968sjevq2q5w6s"})
    [check] = re.findall(r'<a href="[^"]*(/k/[^"]+)">', done.text)
    assert page.status_code == 200
    return {"enrol": page, "keycheck": client.get(check), "enrol_path": enrol}


@pytest.mark.parametrize("name", ["enrol", "keycheck"])
def test_a_page_that_runs_a_script_pins_its_hash(sqlite_url: str, clock: FakeClock, name: str) -> None:
    """Its policy allows exactly the served bundle's SHA-256, the tag carries the same as integrity; no
    other script, no inline script, no connection; every other directive as on every page."""
    runtime = build(settings_for(sqlite_url), clock=clock)
    with TestClient(create_app(runtime.service), base_url=runtime.settings.base_url) as client:
        page = _holder_pages(client, runtime)[name]
        bundle = client.get(f"/static/{name}.js")
    runtime.engine.dispose()
    assert bundle.status_code == 200 and bundle.headers["content-type"].startswith("text/javascript")
    assert bundle.content == (TEMPLATE_DIR / "static" / f"{name}.js").read_bytes()
    pinned = "sha256-" + base64.b64encode(hashlib.sha256(bundle.content).digest()).decode()
    policy = page.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives.pop("script-src") == f"'{pinned}'"
    assert directives == dict(d.strip().split(" ", 1) for d in PAGES_CSP.split(";"))
    assert f'<script src="/static/{name}.js" integrity="{pinned}" defer></script>' in page.text
    assert len(re.findall(r"<script(?![^>]*application/json)", page.text)) == 1


def test_the_collectors_page_may_fetch_from_this_origin_only() -> None:
    """The one script that fetches (the compartment's ciphertext) gets connect-src 'self'; no other does."""
    assert "connect-src 'self';" in scripts.script("collector").csp
    for name in sorted(scripts.NAMES - {"collector"}):
        assert "connect-src" not in scripts.script(name).csp


def test_the_pages_without_a_script_keep_the_script_free_policy(sqlite_url: str, clock: FakeClock) -> None:
    """A used enrolment link's page, the sign-in page, an unknown link, an unknown script: no script-src at all."""
    runtime = build(settings_for(sqlite_url), clock=clock)
    with TestClient(create_app(runtime.service), base_url=runtime.settings.base_url) as client:
        enrol = _holder_pages(client, runtime)["enrol_path"]
        again = {"recipient": "age1v6lnld6rnugrl7mwerw33zmsf9gtx9l86zj47n8gxk2k2ngpdgwsnwzkxg"}
        answers = [client.post(enrol, data=again), client.get("/signin"), client.get("/e/not-a-real-token-123456"),
                   client.get("/static/other.js")]
    runtime.engine.dispose()
    for answer in answers:
        assert answer.headers["content-security-policy"] == PAGES_CSP
        assert "<script" not in answer.text
