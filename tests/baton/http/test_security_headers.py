"""Every response carries the security headers; pages get a policy that allows no script at all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

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


def test_no_template_needs_a_script_the_policy_would_block() -> None:
    """Pages and mails hold no <script>, no javascript: URL and no inline event handler."""
    offending = []
    for path in Path(TEMPLATE_DIR).rglob("*"):
        if path.suffix not in (".html", ".j2"):
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"<script|javascript:|\son[a-z]+\s*=", text, re.IGNORECASE):
            offending.append(path.name)
    assert offending == []
