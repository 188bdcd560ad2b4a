"""Every route of the owner's API refuses a caller without credentials, or with a wrong token."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from baton.http.app import create_app
from baton.runtime import build
from baton.testing import FakeClock
from tests_support import settings_for

# Public by design: the health check only.
PUBLIC = {("GET", "/healthz")}


def _routes() -> list[tuple[str, str]]:
    runtime = build(settings_for("sqlite://"), clock=FakeClock())
    try:
        app = create_app(runtime.service)
        found = sorted({(method, route.path) for route in app.routes if isinstance(route, APIRoute)
                        and route.path.startswith("/api/") for method in route.methods})
    finally:
        runtime.engine.dispose()
    return found


ROUTES = _routes()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("creds")
    # The lock-out after failed tokens is set out of reach here: each route must answer 401 itself.
    runtime = build(settings_for(f"sqlite:///{folder}/baton.db", data_dir=folder, token_failures_per_minute=10**6),
                    clock=FakeClock())
    runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    with TestClient(create_app(runtime.service), base_url=runtime.settings.base_url) as client:
        yield client
    runtime.engine.dispose()


def test_the_api_has_routes_to_check() -> None:
    assert len(ROUTES) > 30 and ("POST", "/api/checkin") in ROUTES and ("GET", "/api/handover/data") in ROUTES


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token-of-anyone", "Basic b3duZXI6cGFzc3dvcmQ="])
def test_a_route_without_valid_credentials_is_refused(client: TestClient, method: str, path: str,
                                                      authorization: str | None) -> None:
    url = re.sub(r"\{[^}]+\}", "1", path)  # "1" fits every path parameter, names and numbers alike
    headers = {"Authorization": authorization} if authorization else {}
    response = client.request(method, url, headers=headers, json={})
    assert response.status_code == 401, (method, path, response.status_code, response.text[:200])
    assert "detail" in response.json()
