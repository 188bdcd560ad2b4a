"""The owner's API keeps the promises of its OpenAPI document: schemathesis calls every operation with
generated input, valid and invalid, and no answer is a server error or strays from the document.

The app runs in-process on SQLite (and on PostgreSQL, which refuses what SQLite takes), on a fake
clock, with a real owner and API token, and with a vault, people, a split, a register, a profile and
a drill behind it, so the answers have something in them. The run is bounded and seeded (a fixed
seed, deterministic generation, no example database), so it finds the same things on every machine.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

import pyrage
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from baton.http import handover_models, switch_models, vault_models
from baton.http.app import create_app
from baton.http.models import Language
from baton.runtime import Runtime, build
from baton.services.vault import LANGUAGES, ROLES
from baton.testing import FakeClock
from handover.model import Event, Settlement
from handover.rows import COLUMNS
from switch import Kind, Status
from tests_support import scratch_database, settings_for

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MAX_EXAMPLES = 20
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance")
POLICY = {"interval": "30d", "reminders": ["7d", "1d"], "grace": "2d", "grace_reminder_every": "1d",
          "confirm": {"window": "3d", "verifiers": [{"name": "vera", "email": "vera@example.org"}], "quorum": 1},
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"},
                     {"name": "customers", "after": "21d", "audience": [], "action": "notify_customers"}]}
REGISTER = {
    "registrars.csv": "id,name,ticket_email,reseller_move,epp,reseller_account\n"
                      "domainregister,DomainRegister,support@domainregister.example,yes,no,DR-1001\n",
    "customers.csv": "id,name,email,language,country\n"
                     "c1,Budi Santoso,budi@example.co.id,id,ID\n"
                     "c2,Ana Souza,,pt,BR\n",
    "domains.csv": "domain,customer,registrar,expires,created,statuses,registrant\n"
                   "straße.de,c1,domainregister,2027-05-01,2018-04-01,clientTransferProhibited,reseller\n"
                   "loja-ana.com.br,c2,domainregister,2026-03-20,2019-01-01,,customer\n",
    "hosting.csv": "id,customer,provider,paid_until,price,currency,cycle,packaging\n"
                   "h1,c1,hostinger,2027-01-31,150000,IDR,monthly,individual\n",
}
PROFILE = {"business": "Budi Hosting", "owner_name": "Budi", "successor": {"name": "Sari", "email": "sari@example.org"},
           "support_can": ["answer questions"]}


def _document_app() -> FastAPI:
    """An app only to read the document from (the document does not depend on the database)."""
    runtime = build(settings_for("sqlite://"), clock=FakeClock(NOW))
    runtime.engine.dispose()
    return create_app(runtime.service)


# Every phase but the stateful one (the document declares no links): the schema's examples, the coverage
# phase's boundary and invalid values, unexpected methods, and MAX_EXAMPLES generated cases per operation.
CONFIG = schemathesis.Config.from_dict({
    "seed": 20260302,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "phases": {"stateful": {"enabled": False}},
    "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
})
# Loaded at import, from an app of its own: the cases then go to the module's app (``app=``) with its token.
# (``schemathesis.pytest.from_fixture`` would load it from the fixture, but fails under pytest 9.2:
# it sets ``request.node._nodeid``, which pytest no longer has.)
schema = schemathesis.openapi.from_asgi("/openapi.json", _document_app(), config=CONFIG)
# Revoking a token may revoke the run's own (the API allows it, as for a lost phone): every later case would
# get 401. Revocation is tested on its own (tests/baton/services/test_cooling_off.py, the authorization matrix).
RUN = schema.exclude(method="DELETE", path="/api/tokens/{token_id}")


@dataclass
class Served:
    app: FastAPI
    token: str
    runtime: Runtime


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _seed(client: TestClient) -> None:
    """A vault with a split compartment, a heir with a key, a verifier, a register, a profile and a drill."""
    def ok(response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    owner = pyrage.x25519.Identity.generate().to_public()
    release = pyrage.x25519.Identity.generate()
    ana = pyrage.x25519.Identity.generate().to_public()
    ok(client.put("/api/vault/key", json={"recipient": str(owner)}))
    ok(client.post("/api/vault/compartments", json={
        "name": "operations", "release_recipient": str(release.to_public()),
        "release_key_owner": _b64(pyrage.encrypt(str(release).encode(), [owner]))}), 201)
    ok(client.put("/api/vault/compartments/operations/file", headers={"If-Match": '"0"'},
                  content=pyrage.encrypt(b'{"entries": []}', [owner, release.to_public()])))
    ok(client.post("/api/people", json={"name": "ana", "email": "ana@example.org", "role": "heir"}), 201)
    ok(client.put("/api/people/ana/key", json={"recipient": str(ana)}))
    # vera, the policy's verifier, is in People already (the policy's verifiers are People entries).
    assert [p["name"] for p in client.get("/api/people").json()] == ["ana", "vera"]
    ok(client.put("/api/vault/compartments/operations/split", json={
        "split_id": 1234, "policy": {"threshold": 1, "holders": ["ana"]},
        "protected_release_key": _b64(b"\x00" * 32),
        "sealed": {"ana": {"recipient": str(ana), "sealed": _b64(pyrage.encrypt(b"share words", [ana]))}}}))
    ok(client.post("/api/register/import", files=[("files", (name, text.encode(), "text/csv"))
                                                  for name, text in REGISTER.items()]))
    ok(client.put("/api/handover/profile", json=PROFILE))
    ok(client.post("/api/drill", json={}))


# PostgreSQL too: it refuses what SQLite takes (a NUL in text, an id past 32 bits).
@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app on a fresh database (files in a temporary folder), with a real owner, token and data."""
    folder = tmp_path_factory.mktemp(f"contract-{request.param}")
    with scratch_database(request.param, folder) as url:
        # The lock-out after failed tokens is out of reach: generated requests may carry odd headers.
        runtime = build(settings_for(url, data_dir=folder, token_failures_per_minute=10**6), clock=FakeClock(NOW))
        try:
            made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Asia/Jakarta",
                                                policy=POLICY)
            app = create_app(runtime.service)
            with TestClient(app, base_url=runtime.settings.base_url,
                            headers={"Authorization": f"Bearer {made.api_token}"}) as client:
                _seed(client)
            yield Served(app, made.api_token, runtime)
        finally:
            runtime.engine.dispose()


@RUN.parametrize()
def test_every_operation_keeps_the_documents_promises(case: schemathesis.Case[Any], served: Served) -> None:
    """No server error, and every status, content type, body and header is one the document shows."""
    case.call_and_validate(app=served.app, headers={"Authorization": f"Bearer {served.token}"})


# -- the document itself ------------------------------------------------------------------------------
DOCUMENT = schema.raw_schema
OPERATIONS = [(method.upper(), path, operation) for path, item in DOCUMENT["paths"].items()
              if path.startswith("/api/") for method, operation in item.items()]


def test_the_document_covers_the_owner_api() -> None:
    """Every route under /api is in the document, and nothing but them."""
    assert len(OPERATIONS) >= 37
    assert all(path.startswith("/api/") for path in DOCUMENT["paths"])


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_each_operation_documents_its_success_and_its_refusals(method: str, path: str,
                                                               operation: dict[str, Any]) -> None:
    """A summary, a description, a 2xx answer with a real schema, and 401/413/429/503 as a Problem."""
    assert operation.get("summary") and operation.get("description"), (method, path)
    success = [r for code, r in operation["responses"].items() if code.startswith("2")]
    assert len(success) == 1, (method, path)
    contents = success[0].get("content") or {}
    assert contents, (method, path)
    for media, content in contents.items():
        assert content.get("schema") not in (None, {}), (method, path, media)
    for code in ("401", "413", "429", "503"):
        assert operation["responses"][code]["content"]["application/json"]["schema"] == \
            {"$ref": "#/components/schemas/Problem"}, (method, path, code)
    assert "HTTPValidationError" not in str(operation), (method, path)


def test_the_models_follow_the_register_columns_and_the_domain_vocabularies() -> None:
    """Columns, languages, roles and states are written out in the models; they are the domain's own."""
    rows: dict[str, type[BaseModel]] = {"registrars": handover_models.RegistrarRow,
                                         "customers": handover_models.CustomerRow,
                                         "domains": handover_models.DomainRow, "hosting": handover_models.HostingRow}
    for kind, model in rows.items():
        assert list(model.model_fields) == [column.name for column in COLUMNS[kind]], kind

    def values(model: type[BaseModel], field: str) -> set[str]:
        return {v for arg in get_args(model.model_fields[field].annotation) for v in (get_args(arg) or (arg,))
                if isinstance(v, str)}

    assert get_args(Language) == LANGUAGES
    assert values(vault_models.PersonView, "role") == set(ROLES)
    assert set(get_args(switch_models.SwitchStatus.model_fields["status"].annotation)) == {str(s) for s in Status}
    assert set(get_args(switch_models.TimelineEntry.model_fields["event"].annotation)) == {str(k) for k in Kind}
    assert values(handover_models.HandoverProfile, "event") == {str(e) for e in Event}
    assert values(handover_models.HandoverProfile, "settlement") == {str(s) for s in Settlement}


# -- what the run found, kept as fixed cases ----------------------------------------------------------
FOUND = [
    ("body-not-utf8", "PUT", "/api/handover/profile",
     {"content": b'{"business": "\xff"}', "headers": {"Content-Type": "application/json"}},
     "body: expected JSON in UTF-8, got the byte 0xff at position 14, which is not UTF-8"),
    ("policy-not-an-object", "PUT", "/api/policy", {"json": [None, None]},
     "policy field `policy`: expected an object (interval, reminders, grace, stages…), got a list"),
    ("profile-not-an-object", "PUT", "/api/handover/profile", {"json": "AAA"},
     "profile: expected an object with business, owner_name, …, got text"),
    ("pause-past-year-9999", "POST", "/api/pause", {"json": {"until": "9999-12-31T23:59:59-14:00"}},
     "until: expected a moment between the years 1 and 9999 in UTC, got 9999-12-31T23:59:59-14:00"),
    ("version-past-32-bits", "PUT", "/api/vault/compartments/operations/file",
     {"content": b"age", "headers": {"If-Match": '"99999999999"'}},
     "If-Match: expected the version you read, like \"3\", got '\"99999999999\"'"),
    ("id-past-32-bits", "GET", "/api/notices?release=2147483648", {},
     'query.release: expected less than or equal to 2147483647, got "2147483648"'),
    ("nul-in-path", "GET", "/api/vault/compartments/a%00b/file", {},
     "path.name: expected text without NUL characters (U+0000), got one"),
    ("nul-in-body", "POST", "/api/requesters", {"json": {"name": "Ana\x00", "email": "ana@example.org"}},
     "name: expected text without NUL characters (U+0000), got one"),
    ("expiry-not-a-date", "POST", "/api/register/domains/observed",
     {"json": {"domains": [{"domain": "straße.de", "expires": "99999-01-01"}]}},
     "domains[0].expires: expected a date like 2027-05-01, got '99999-01-01'"),
    ("text-field-for-a-file", "POST", "/api/register/import", {"data": {"files": "customers.csv"}},
     "files.0: expected a file (a part with a file name), got a plain form field"),
]


@pytest.mark.parametrize(("method", "url", "request_args", "detail"), [case[1:] for case in FOUND],
                         ids=[case[0] for case in FOUND])
def test_bad_input_the_run_found_is_refused_with_what_was_expected(
        served: Served, method: str, url: str, request_args: dict[str, Any], detail: str) -> None:
    """Each of these once made a server error (or a bare 400); now a 422 that says what was expected."""
    args = dict(request_args)
    headers = {"Authorization": f"Bearer {served.token}", **args.pop("headers", {})}
    with TestClient(served.app, base_url=served.runtime.settings.base_url) as client:
        response = client.request(method, url, headers=headers, **args)
    assert (response.status_code, response.json()) == (422, {"detail": detail})


def test_a_nul_in_an_imported_cell_is_a_row_error(served: Served) -> None:
    """A NUL in a CSV cell is named with its file, row and column (PostgreSQL cannot store it)."""
    with TestClient(served.app, base_url=served.runtime.settings.base_url) as client:
        response = client.post("/api/register/import", headers={"Authorization": f"Bearer {served.token}"},
                               files=[("files", ("customers.csv", b"id,name\nc9,Bu\x00di\n", "text/csv"))])
    assert response.status_code == 422
    assert response.json()["errors"] == [{"file": "customers.csv", "row": 1, "column": "name",
                                          "expected": "text without NUL characters", "got": "a NUL (U+0000)"}]
