"""Nobody reaches another's data: owner A's token against every one of owner B's resources, links
used against the wrong holder, switch or customer, and every link token at every other link route.

Two complete owners share one deployment (SQLite and PostgreSQL): each has a policy with a
verifier, holders with enrolled keys, compartments with files and a split, a register with
customers, domains and hosting, a handover profile, a requester link, a drill with packages,
and a real release whose holders and customers were sent their links. The matrix is built from
``app.routes``: a route that takes an id or a name and is in no cell fails the coverage test.
"""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import ColumnElement, Table, select

from baton.cli.ownervault import OwnerVault
from baton.http.app import create_app
from baton.jobs.outbox import Channel
from baton.runtime import Runtime, build
from baton.services import changes
from baton.services.access import OwnerAccess
from baton.store.tables import key_checks, links, metadata, notices, owners, packages, people, releases
from baton.testing import FakeClock, RecordingSender
from tests_support import scratch_database, settings_for
from vault import agecrypt, keys
from vault.entries import entry_from_dict
from vault.errors import WrongKey
from vault.shares import policy_from_dict
from vault.signature import signer_fingerprint

LINK = re.compile(r"http://baton\.test(/([lvqekdnxc])/[A-Za-z0-9_\-]{20,})")
LINK_PURPOSES = {"l": "checkin", "v": "verify", "q": "request", "e": "enrol", "k": "keycheck", "d": "download",
                 "n": "notice", "x": "cancel", "c": "collect"}


# -- the two owners ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    """What one owner sets up. A's names hold "alpha", B's "bravo" (except the shared ones on purpose:
    the compartment ``operations``, the customer ids ``c1`` and ``c2``, the verifier ``vera``)."""

    email: str
    verifier_email: str
    holders: dict[str, tuple[str, str, str]]  # name -> (display name, e-mail, role); the first enrols by link
    compartments: tuple[str, ...]  # the first is split between the holders
    stages: list[dict[str, Any]]
    register: dict[str, str]
    profile: dict[str, Any]
    requester: tuple[str, str]
    channel: tuple[str, str]  # (label, Apprise URL): the server stays out of the public DNS on purpose


def _policy(spec: Spec) -> dict[str, Any]:
    return {"interval": "30d", "reminders": ["1d"], "grace": "1d",
            "confirm": {"window": "1d", "verifiers": [{"name": "vera", "email": spec.verifier_email}], "quorum": 1},
            "stages": spec.stages}


ALPHA = Spec(
    email="owner@alpha-hosting.example",
    verifier_email="vera@alpha-friends.example",
    holders={"ana": ("Ana Alpha", "ana@alpha-family.example", "heir"),
             "arlo": ("Arlo Alpha", "arlo@alpha-staff.example", "staff")},
    compartments=("operations", "alpha-estate"),
    stages=[{"name": "release", "after": "0d", "audience": [], "action": "release"},
            {"name": "customers", "after": "1h", "audience": [], "action": "notify_customers"}],
    register={
        "registrars.csv": "id,name,ticket_email,reseller_move\n"
                          "alphareg,AlphaReg,support@alphareg.example,yes\n"
                          "alphaother,AlphaOther Registrar,help@alphaother.example,yes\n",
        "customers.csv": "id,name,email,language\n"
                         "c1,Paula Alpha,paula@alpha-customers.example,en\n"
                         "c2,Quentin Alpha,quentin@alpha-customers.example,it\n",
        "domains.csv": "domain,customer,registrar,expires\n"
                       "paula-alpha.com,c1,alphareg,2027-03-01\n"
                       "quentin-alpha.com,c2,alphaother,2027-04-01\n",
        "hosting.csv": "id,customer,provider,paid_until,panel,price,currency,cycle,packaging\n"
                       "h-alpha-quentin,c2,alphahost,2026-12-31,cPanel,9.90,EUR,monthly,individual\n"},
    profile={"business": "Alpha Hosting", "owner_name": "Alan Alpha", "event": "passed_away",
             "successor": {"name": "Sam Alpha", "email": "sam@alpha-family.example", "role": "executor"}},
    requester=("Rita Alpha", "rita@alpha-family.example"),
    channel=("alpha-phone", "ntfys://ntfy.alpha-hosting.example/alpha-alerts"),
)
# B releases to its staff at once and to its family 30 days later: at the time of the tests the
# family's release has not happened.
BRAVO = Spec(
    email="owner@bravo-hosting.example",
    verifier_email="vera@bravo-friends.example",
    holders={"wilma": ("Wilma Bravo", "wilma@bravo-family.example", "heir"),
             "xavier": ("Xavier Bravo", "xavier@bravo-staff.example", "staff")},
    compartments=("operations", "bravo-vault"),
    stages=[{"name": "staff", "after": "0d", "audience": ["xavier@bravo-staff.example"], "action": "release"},
            {"name": "customers", "after": "1h", "audience": [], "action": "notify_customers"},
            {"name": "family", "after": "30d", "audience": ["wilma@bravo-family.example"], "action": "release"}],
    register={
        "registrars.csv": "id,name,ticket_email,reseller_move\n"
                          "bravoreg,BravoReg,support@bravoreg.example,yes\n",
        "customers.csv": "id,name,email,language\n"
                         "c1,Wendy Bravo,wendy@bravo-customers.example,pt\n"
                         "c2,Yusuf Bravo,yusuf@bravo-customers.example,id\n"
                         "bravo-c3,Zed Bravo,zed@bravo-customers.example,en\n",
        "domains.csv": "domain,customer,registrar,expires\n"
                       "wendy-bravo.com,c1,bravoreg,2027-05-01\n"
                       "yusuf-bravo.com,c2,bravoreg,2027-06-01\n"
                       "zed-bravo.com,bravo-c3,bravoreg,2027-07-01\n",
        "hosting.csv": "id,customer,provider,paid_until,panel,price,currency,cycle,packaging\n"
                       "h-bravo-yusuf,c2,bravohost,2026-12-31,Plesk,150000,IDR,monthly,individual\n"},
    profile={"business": "Bravo Hosting", "owner_name": "Bob Bravo", "event": "passed_away",
             "successor": {"name": "Sue Bravo", "email": "sue@bravo-family.example", "role": "executor"}},
    requester=("Ruth Bravo", "ruth@bravo-family.example"),
    channel=("bravo-phone", "ntfys://ntfy.bravo-hosting.example/bravo-alerts"),
)


@dataclass
class Side:
    """One owner as set up: ids, keys, what the server holds, and the links its people were sent."""

    spec: Spec
    id: int
    token: str
    client: TestClient
    identities: dict[str, Any] = field(default_factory=dict)  # holder -> age identity (their own machine)
    files: dict[str, bytes] = field(default_factory=dict)  # compartment -> its age file on the server
    kept: dict[str, bytes] = field(default_factory=dict)  # compartment -> release key encrypted to the owner
    recipients: list[str] = field(default_factory=list)  # every public key of this side
    drill: int = 0
    drill_packages: list[int] = field(default_factory=list)
    channel: int = 0
    mail: list[tuple[str, str, str]] = field(default_factory=list)  # (recipient, link letter, path) as sent
    request_path: str = ""
    request_id: int = 0
    token_id: int = 0
    change_id: int = 0  # a change held for a cooling-off that outlasts the test (its cancel link is mailed)
    enrol_paths: dict[str, str] = field(default_factory=dict)
    check_paths: dict[str, str] = field(default_factory=dict)

    def links(self, letter: str, recipient: str | None = None) -> list[str]:
        return [path for to, kind, path in self.mail if kind == letter and (recipient is None or to == recipient)]


@dataclass
class World:
    runtime: Runtime
    clock: FakeClock
    client: TestClient  # no credentials: a browser following links
    a: Side
    b: Side
    web: TestClient | None = None  # A signed in to the web pages (a session cookie)

    @property
    def engine(self) -> Any:
        return self.runtime.engine

    def rows_of(self, side: Side) -> dict[str, list[str]]:
        """Every row that belongs to ``side`` in every table (found through the foreign keys)."""
        found: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for table in metadata.sorted_tables:
                condition = _owned_by(table, side.id)
                query = select(table) if condition is None else select(table).where(condition)
                found[table.name] = sorted(repr(tuple(row)) for row in conn.execute(query))
        return found

    def everything(self) -> dict[str, list[str]]:
        with self.engine.connect() as conn:
            return {t.name: sorted(repr(tuple(r)) for r in conn.execute(select(t))) for t in metadata.sorted_tables}

    def markers(self, side: Side) -> list[str]:
        """Text that belongs to ``side`` alone: its names, addresses, domains and public keys."""
        names = [*side.spec.holders, "bravo" if side is self.b else "alpha"]
        return sorted({n.lower() for n in names} | {r.lower() for r in side.recipients})

    def byte_markers(self, side: Side) -> list[bytes]:
        """Slices of the ciphertext only ``side``'s server rows hold (each age file's stanza is unique)."""
        return [blob[25:85] for blob in (*side.files.values(), *side.kept.values())]


def _owned_by(table: Table, owner_id: int) -> ColumnElement[bool] | None:
    """The condition selecting ``owner_id``'s rows of ``table``; None when the table belongs to nobody."""
    if table is owners:
        return owners.c.id == owner_id
    if "owner_id" in table.c:
        return table.c.owner_id == owner_id
    for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
        parent = _owned_by(fk.column.table, owner_id)
        if parent is not None:
            return fk.parent.in_(select(fk.column).where(parent))
    return None


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp(f"authz-{request.param}")
    with scratch_database(request.param, folder) as url:
        clock = FakeClock()
        # Wrong links are tried on purpose, many times from one address: the lock-out is set out of reach.
        runtime = build(settings_for(url, data_dir=folder / "server", token_failures_per_minute=10**6), clock=clock)
        app = create_app(runtime.service)
        try:
            sides = [_set_up(runtime, app, spec, folder) for spec in (ALPHA, BRAVO)]
            world = World(runtime, clock, TestClient(app, base_url=runtime.settings.base_url), *sides)
            _live_a_life(world)
            world.web = _signed_in(TestClient(app, base_url=runtime.settings.base_url), ALPHA.email)
            yield world
            for client in (world.client, world.web, world.a.client, world.b.client):
                client.close()
        finally:
            runtime.engine.dispose()


def _signed_in(client: TestClient, email: str, password: str = "correct horse battery", totp: str = "") -> TestClient:
    """``client`` signed in to the owner's web pages (the session cookie kept in its jar)."""
    form = client.get("/signin")
    [csrf] = re.findall(r'name="csrf" value="([^"]+)"', form.text)
    done = client.post("/signin", data={"email": email, "password": password, "totp": totp, "csrf": csrf,
                                        "next": "/"}, follow_redirects=False)
    assert done.status_code == 303, done.text[:300]
    return client


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.status_code,
                                            response.text[:300])
    return response.json() if response.headers.get("content-type", "").startswith("application/json") else None


def _set_up(runtime: Runtime, app: Any, spec: Spec, folder: Path) -> Side:
    made = runtime.service.create_owner(spec.email, "correct horse battery", "Europe/Rome", policy=_policy(spec))
    client = TestClient(app, base_url=runtime.settings.base_url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"
    side = Side(spec, made.owner.id, made.api_token, client)
    base = runtime.settings.base_url

    # The vault: the owner's key (kept in memory: no passphrase file, no scrypt), files in every compartment.
    owner_key = keys.generate_identity()
    side.recipients.append(keys.public_of(owner_key).text)
    _ok(client.put("/api/vault/key", json={"recipient": side.recipients[0]}))
    owner = OwnerVault(client, folder / "unused.age", lambda: "", _identity=owner_key)  # type: ignore[arg-type]
    for name in spec.compartments:
        side.recipients.append(owner.ensure_compartment(name)["release_recipient"])
        version, opened = owner.open(name)
        opened.put(entry_from_dict({"id": "registrar", "kind": "registrar", "title": f"{spec.profile['business']} "
                                    "registrar", "fields": {"registrar": "X", "username": spec.email,
                                                            "password": f"pw-{name}-{spec.email}"},
                                    "updated_at": "2026-01-01"}))
        owner.save(name, version, opened)

    # Holders: the first enrols through the link's page, the second's key is set by the owner.
    for index, (name, (display, email, role)) in enumerate(spec.holders.items()):
        added = _ok(client.post("/api/people", json={"name": name, "display_name": display, "email": email,
                                                     "role": role}), 201)
        side.enrol_paths[name] = added["enrol_url"].removeprefix(base)
        side.identities[name] = keys.generate_identity()
        public = keys.public_of(side.identities[name]).text
        side.recipients.append(public)
        if index == 0:
            page = client.post(side.enrol_paths[name], data={"recipient": public})
            assert page.status_code == 200 and "Thank you" in page.text, page.text
            side.check_paths[name] = re.findall(r'<a href="([^"]+/k/[^"]+)">', page.text)[0].removeprefix(base)
        else:
            _ok(client.put(f"/api/people/{name}/key", json={"recipient": public, "source": "owner"}))
    owner.split(spec.compartments[0], policy_from_dict({"threshold": 1, "holders": list(spec.holders)}))
    if spec.email == "owner@bravo-hosting.example":  # B's last holder collects (a page shows the collector's name)
        _ok(client.put(f"/api/vault/compartments/{spec.compartments[0]}/collector",
                       json={"collector": list(spec.holders)[-1]}))
    for name in spec.compartments:
        side.files[name] = client.get(f"/api/vault/compartments/{name}/file").content
        side.kept[name] = client.get(f"/api/vault/compartments/{name}/release-key").content

    # The register, the profile, a requester, and a drill (DRILL packages and notices, for the owner only).
    files = [("files", (name, text.encode(), "text/csv")) for name, text in spec.register.items()]
    _ok(client.post("/api/register/import", files=files))
    _ok(client.put("/api/handover/profile", json=spec.profile))
    who, email = spec.requester
    requester = _ok(client.post("/api/requesters", json={"name": who, "email": email}), 201)
    side.request_path, side.request_id = requester["url"].removeprefix(base), requester["id"]
    side.token_id = _ok(client.get("/api/tokens"))[0]["id"]
    with runtime.engine.begin() as conn:
        now = runtime.service.clock.now()
        side.change_id = changes.hold(conn, runtime.settings, owner_id=made.owner.id, owner_email=spec.email,
                                      timezone="Europe/Rome", kind=changes.Kind.POLICY, payload=_policy(spec),
                                      reasons=("held for the matrix",), via="api", now=now,
                                      effect=now + timedelta(days=3650)).id
    label, url = spec.channel
    side.channel = _ok(client.post("/api/channels", json={"url": url, "label": label}), 201)["id"]
    drill = _ok(client.post("/api/drill", json={}))
    side.drill, side.drill_packages = drill["release"], [p["id"] for p in drill["packages"]]
    assert len(side.drill_packages) == 2
    return side


def _live_a_life(world: World) -> None:
    """Reminder (check-in links), deadline, verifiers asked (verifier links), fire: releases and notices.

    The customers' stage runs an hour after the release: two stages that write audit entries due in the
    same step stop the switch ("audit chain of owner … moved under us"; reported apart)."""
    sender = RecordingSender()
    worker = world.runtime.worker({Channel.EMAIL: sender, Channel.APPRISE: sender})
    worker.run_once()
    for hours in (29 * 24, 24, 24, 24, 1):
        world.clock.advance(hours=hours)
        worker.run_once()
    by_owner = {world.a.id: world.a, world.b.id: world.b}
    for message in sender.sent:  # as sent: the stored copies keep no live link
        for path, letter in LINK.findall(f"{message.body_text}\n{message.body_html or ''}"):
            entry = (message.recipient, letter, path)
            if entry not in by_owner[message.owner_id].mail:
                by_owner[message.owner_id].mail.append(entry)
    for side in (world.a, world.b):
        assert side.links("l", side.spec.email) and side.links("v", side.spec.verifier_email)
        assert len(side.links("n")) >= 3  # drill samples to the owner, and the customers' own
    assert world.runtime.service.status(world.b.id).pending_stages == ["family"]


# -- owner A's token against owner B's resources ------------------------------------------------------
@dataclass(frozen=True)
class Call:
    url: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    files: list[Any] | None = None

    def supplied(self) -> list[str]:
        """What the caller sent (the route may echo it back; that is no leak)."""
        parts = urlsplit(self.url)
        found = [p for p in parts.path.split("/") if p] + [v for _k, v in parse_qsl(parts.query)]

        def leaves(value: Any) -> Iterator[str]:
            if isinstance(value, dict):
                for v in value.values():
                    yield from leaves(v)
            elif isinstance(value, list):
                for v in value:
                    yield from leaves(v)
            elif value is not None:
                yield str(value)
        found += list(leaves(self.json))
        for _field, (_name, data, _type) in self.files or []:
            found += data.decode().replace("\n", ",").split(",")
        return sorted({f for f in found if len(f) > 2}, key=len, reverse=True)


@dataclass(frozen=True)
class Cell:
    method: str
    route: str
    what: str
    status: int
    call: Callable[[World], Call]
    check: Callable[[World, httpx.Response], None] | None = None
    cleanup: Callable[[World], None] | None = None
    web: bool = False  # the owner's web pages: A's session cookie instead of A's API token

    @property
    def id(self) -> str:
        return f"{self.method} {self.route} — {self.what}"


def _b_release(world: World, stage: str) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(select(releases.c.id).where(releases.c.owner_id == world.b.id,
                                                            releases.c.stage == stage)).scalar_one())


def _real_packages(world: World, side: Side) -> list[tuple[int, int]]:
    """(release, package) of ``side``'s real releases."""
    with world.engine.connect() as conn:
        return [(r.release_id, r.id) for r in conn.execute(
            select(packages.c.release_id, packages.c.id).join(releases, releases.c.id == packages.c.release_id)
            .where(releases.c.owner_id == side.id, releases.c.drill.is_(False)).order_by(packages.c.id))]


def _check_of(world: World, person: str, owner_id: int) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(select(key_checks.c.id).join(people, people.c.id == key_checks.c.person_id).where(
            people.c.owner_id == owner_id, people.c.name == person).order_by(key_checks.c.id.desc()).limit(1))
            .scalar_one())


def _own_bytes(attribute: str, name: str) -> Callable[[World, httpx.Response], None]:
    def check(world: World, response: httpx.Response) -> None:
        assert response.content == getattr(world.a, attribute)[name]
        assert response.content != getattr(world.b, attribute)[name]
    return check


def _json_is(expected: Callable[[World], Any]) -> Callable[[World, httpx.Response], None]:
    def check(world: World, response: httpx.Response) -> None:
        assert response.json() == expected(world)
    return check


def _web_form(world: World, path: str) -> Call:
    """A POST of A's web session with A's own CSRF token (read from A's dashboard)."""
    assert world.web is not None
    token = re.findall(r'name="csrf" value="([^"]+)"', world.web.get("/").text)[0]
    return Call(path, content=f"csrf={token}".encode(),
                headers={"content-type": "application/x-www-form-urlencoded"})


def _names_are(expected: list[str]) -> Callable[[World, httpx.Response], None]:
    def check(world: World, response: httpx.Response) -> None:
        assert sorted(item["name"] for item in response.json()) == expected
    return check


def _only_own_domains(world: World, response: httpx.Response) -> None:
    assert sorted(d["domain"] for d in response.json()["domains"]) == ["paula-alpha.com", "quentin-alpha.com"]


def _own_drill_only(world: World, response: httpx.Response) -> None:
    report = response.json()
    assert sorted(p["holder"] for p in report["packages"]) == ["ana", "arlo"]
    assert sorted(c["name"] for c in report["checks"]) == ["ana", "arlo"]
    assert report["notices"]["notices"] == 2


def _own_channels(world: World, response: httpx.Response) -> None:
    listed = response.json()
    assert [(c["label"], c["scheme"], c["host"]) for c in listed][:1] == [
        ("alpha-phone", "ntfys", "ntfy.alpha-hosting.example")]
    assert world.a.channel in [c["id"] for c in listed] and world.b.channel not in [c["id"] for c in listed]
    assert "alpha-alerts" not in response.text  # the URL's path (its topic, a secret) is never shown


def _fresh_person(world: World, response: httpx.Response) -> None:
    made = response.json()
    assert (made["email"], made["recipient"], made["key"]) == ("wilma@alpha-family.example", None, "none")


def _drop_own_wilma(world: World) -> None:
    world.client.delete("/api/people/wilma", headers={"Authorization": f"Bearer {world.a.token}"})


def _age_file(world: World) -> bytes:
    return world.b.files["operations"]  # B's own ciphertext, replayed by A


def _split_for_bravo(world: World) -> dict[str, Any]:
    sealed = base64.b64encode(b"age-encryption.org/v1\n").decode()
    return {"split_id": 1, "policy": {"threshold": 1, "holders": ["wilma", "xavier"]},
            "protected_release_key": sealed,
            "sealed": {h: {"recipient": keys.public_of(world.b.identities[h]).text, "sealed": sealed}
                       for h in ("wilma", "xavier")}}


POLICY_A = _policy(ALPHA)
IMPORT_NAMING_BRAVO = [("files", ("domains.csv", b"domain,customer,registrar,expires\n"
                                                 b"new-alpha.com,bravo-c3,alphareg,2027-01-01\n", "text/csv"))]

CELLS = [
    # The switch: A's acts and views are A's alone.
    Cell("POST", "/api/checkin", "A checks in", 200, lambda w: Call("/api/checkin")),
    Cell("GET", "/api/status", "A's status", 200, lambda w: Call("/api/status")),
    Cell("GET", "/api/policy", "A's policy", 200, lambda w: Call("/api/policy"),
         _json_is(lambda w: w.runtime.service.get_policy(w.a.id))),
    Cell("PUT", "/api/policy", "A sets its policy again", 200, lambda w: Call("/api/policy", json=POLICY_A)),
    Cell("POST", "/api/pause", "A pauses", 200,
         lambda w: Call("/api/pause", json={"until": (w.clock.now() + timedelta(days=3)).isoformat()})),
    Cell("GET", "/api/timeline", "A's timeline", 200, lambda w: Call("/api/timeline?limit=1000")),
    Cell("GET", "/api/audit/verify", "A's chain", 200, lambda w: Call("/api/audit/verify")),
    Cell("POST", "/api/channels", "A adds a channel", 201,
         lambda w: Call("/api/channels", json={"url": "json://hooks.alpha-hosting.example/alerts"})),
    Cell("GET", "/api/channels", "A's channels, without their URLs", 200, lambda w: Call("/api/channels"),
         _own_channels),
    Cell("GET", "/api/witnesses", "A's witnesses: none linked", 200, lambda w: Call("/api/witnesses"),
         _json_is(lambda w: [])),
    Cell("POST", "/api/witnesses", "A links an address that is no witness: nothing linked", 422,
         lambda w: Call("/api/witnesses", json={"url": "http://127.0.0.1:9", "code": "1a2b3c-4d5e6f-7a8b9c",
                                                "key": "00" * 32, "silence": "2d"})),
    Cell("DELETE", "/api/channels/{channel}", "B's channel", 404, lambda w: Call(f"/api/channels/{w.b.channel}")),
    Cell("DELETE", "/api/channels/{channel}", "an id that is nobody's", 404,
         lambda w: Call(f"/api/channels/{w.b.channel + 1000}")),
    # The vault.
    Cell("GET", "/api/vault/key", "A's key", 200, lambda w: Call("/api/vault/key"),
         _json_is(lambda w: {"recipient": w.a.recipients[0], "owner_email": ALPHA.email,  # and the deployment's
                             "owner_name": ALPHA.profile["owner_name"],
                             "fingerprint": signer_fingerprint(w.runtime.service.signer)})),  # key: no owner's
    Cell("PUT", "/api/vault/key", "B's owner key", 409, lambda w: Call("/api/vault/key",
                                                                        json={"recipient": w.b.recipients[0]})),
    Cell("GET", "/api/vault/compartments", "A's compartments", 200, lambda w: Call("/api/vault/compartments"),
         _names_are(["alpha-estate", "operations"])),
    Cell("POST", "/api/vault/compartments", "B's release key under the shared name", 409,
         lambda w: Call("/api/vault/compartments", json={
             "name": "operations", "release_recipient": w.b.recipients[1],
             "release_key_owner": base64.b64encode(w.b.kept["operations"]).decode()})),
    Cell("GET", "/api/vault/compartments/{name}/release-key", "B's bravo-vault", 404,
         lambda w: Call("/api/vault/compartments/bravo-vault/release-key")),
    Cell("GET", "/api/vault/compartments/{name}/release-key", "the shared name gives A's own", 200,
         lambda w: Call("/api/vault/compartments/operations/release-key"), _own_bytes("kept", "operations")),
    Cell("GET", "/api/vault/compartments/{name}/file", "B's bravo-vault", 404,
         lambda w: Call("/api/vault/compartments/bravo-vault/file")),
    Cell("GET", "/api/vault/compartments/{name}/file", "the shared name gives A's own", 200,
         lambda w: Call("/api/vault/compartments/operations/file"), _own_bytes("files", "operations")),
    Cell("PUT", "/api/vault/compartments/{name}/file", "B's bravo-vault", 404,
         lambda w: Call("/api/vault/compartments/bravo-vault/file", content=_age_file(w),
                        headers={"If-Match": '"1"', "Content-Type": "application/octet-stream"})),
    Cell("PUT", "/api/vault/compartments/{name}/file", "the shared name at B's version", 409,
         lambda w: Call("/api/vault/compartments/operations/file", content=_age_file(w),
                        headers={"If-Match": '"0"', "Content-Type": "application/octet-stream"})),
    Cell("PUT", "/api/vault/compartments/{name}/split", "B's bravo-vault", 404,
         lambda w: Call("/api/vault/compartments/bravo-vault/split", json=_split_for_bravo(w))),
    Cell("PUT", "/api/vault/compartments/{name}/split", "the shared name, sealed to B's holders", 404,
         lambda w: Call("/api/vault/compartments/operations/split", json=_split_for_bravo(w))),
    Cell("PUT", "/api/vault/compartments/{name}/collector", "B's bravo-vault", 404,
         lambda w: Call("/api/vault/compartments/bravo-vault/collector", json={"collector": "arlo"})),
    Cell("PUT", "/api/vault/compartments/{name}/collector", "the shared name, with B's holder", 404,
         lambda w: Call("/api/vault/compartments/operations/collector", json={"collector": "xavier"})),
    Cell("GET", "/api/vault/readiness", "A's findings", 200, lambda w: Call("/api/vault/readiness")),
    # People.
    # vera is A's policy's verifier, so a People entry of A's too.
    Cell("GET", "/api/people", "A's people", 200, lambda w: Call("/api/people"), _names_are(["ana", "arlo", "vera"])),
    Cell("DELETE", "/api/people/{name}", "B's heir wilma", 404, lambda w: Call("/api/people/wilma")),
    Cell("DELETE", "/api/people/{name}", "B's staff xavier", 404, lambda w: Call("/api/people/xavier")),
    Cell("PATCH", "/api/people/{name}", "B's heir wilma", 404,
         lambda w: Call("/api/people/wilma", json={"display_name": "Not Wilma", "language": "it"})),
    Cell("PUT", "/api/people/{name}/key", "B's heir wilma", 404,
         lambda w: Call("/api/people/wilma/key", json={"recipient": w.a.recipients[0], "source": "owner"})),
    Cell("POST", "/api/people/checks", "B's holders by name", 200,
         lambda w: Call("/api/people/checks", json={"names": ["wilma", "xavier"]}), _json_is(lambda w: [])),
    Cell("POST", "/api/people/{name}/checks/{check}", "B's holder and B's check", 404,
         lambda w: Call(f"/api/people/wilma/checks/{_check_of(w, 'wilma', w.b.id)}", json={"code": "AAAA-BBBB-CCCC"})),
    Cell("POST", "/api/people/{name}/checks/{check}", "A's holder and B's check", 404,
         lambda w: Call(f"/api/people/ana/checks/{_check_of(w, 'wilma', w.b.id)}", json={"code": "AAAA-BBBB-CCCC"})),
    # Drills.
    Cell("POST", "/api/drill", "A's drill has A's holders and customers only", 200,
         lambda w: Call("/api/drill", json={}), _own_drill_only),
    Cell("GET", "/api/drill/{release}/packages/{package}", "A's own drill package", 200,
         lambda w: Call(f"/api/drill/{w.a.drill}/packages/{w.a.drill_packages[0]}")),
    Cell("GET", "/api/drill/{release}/packages/{package}", "B's drill and B's package", 404,
         lambda w: Call(f"/api/drill/{w.b.drill}/packages/{w.b.drill_packages[0]}")),
    Cell("GET", "/api/drill/{release}/packages/{package}", "A's drill and B's package", 404,
         lambda w: Call(f"/api/drill/{w.a.drill}/packages/{w.b.drill_packages[0]}")),
    Cell("GET", "/api/drill/{release}/packages/{package}", "B's drill and A's package", 404,
         lambda w: Call(f"/api/drill/{w.b.drill}/packages/{w.a.drill_packages[0]}")),
    Cell("GET", "/api/drill/{release}/packages/{package}", "B's real release", 404,
         lambda w: Call("/api/drill/{}/packages/{}".format(*_real_packages(w, w.b)[0]))),
    Cell("GET", "/api/drill/{release}/packages/{package}", "A's own real release (holders only)", 404,
         lambda w: Call("/api/drill/{}/packages/{}".format(*_real_packages(w, w.a)[0]))),
    # The register and the handover.
    Cell("POST", "/api/register/import", "a domain for B's customer", 422,
         lambda w: Call("/api/register/import", files=IMPORT_NAMING_BRAVO)),
    Cell("GET", "/api/register", "A's counts", 200, lambda w: Call("/api/register"),
         _json_is(lambda w: {"customers": 2, "domains": 2, "hosting": 1, "registrars": 2})),
    Cell("GET", "/api/register/domains", "A's domains", 200, lambda w: Call("/api/register/domains"),
         _only_own_domains),
    Cell("POST", "/api/register/domains/observed", "B's domains", 200,
         lambda w: Call("/api/register/domains/observed", json={"domains": [
             {"domain": "wendy-bravo.com", "expires": "2030-01-01", "statuses": []},
             {"domain": "yusuf-bravo.com", "expires": "2030-01-01"}]}), _json_is(lambda w: {"updated": 0})),
    Cell("GET", "/api/register/calendar", "A's calendar (CSV)", 200, lambda w: Call("/api/register/calendar")),
    Cell("GET", "/api/register/calendar", "A's calendar (iCalendar)", 200,
         lambda w: Call("/api/register/calendar?format=ics")),
    Cell("GET", "/api/handover/profile", "A's profile", 200, lambda w: Call("/api/handover/profile")),
    Cell("PUT", "/api/handover/profile", "A sets its own", 200,
         lambda w: Call("/api/handover/profile", json=ALPHA.profile)),
    Cell("GET", "/api/readiness", "A's readiness", 200, lambda w: Call("/api/readiness")),
    Cell("GET", "/api/handover/data", "A's latest", 200, lambda w: Call("/api/handover/data")),
    Cell("GET", "/api/handover/data", "B's notices release", 404,
         lambda w: Call(f"/api/handover/data?release={_b_release(w, 'customers')}")),
    Cell("GET", "/api/handover/data", "B's drill", 404, lambda w: Call(f"/api/handover/data?release={w.b.drill}")),
    Cell("GET", "/api/notices", "A's latest", 200, lambda w: Call("/api/notices")),
    Cell("GET", "/api/notices", "B's notices release", 404,
         lambda w: Call(f"/api/notices?release={_b_release(w, 'customers')}")),
    Cell("POST", "/api/notices/printable", "A's latest", 200, lambda w: Call("/api/notices/printable")),
    Cell("POST", "/api/notices/printable", "B's notices release", 404,
         lambda w: Call(f"/api/notices/printable?release={_b_release(w, 'customers')}")),
    # The owner's web pages, signed in as A.
    *[Cell("GET", path, f"A's {path} page", 200, lambda w, path=path: Call(path), web=True)  # type: ignore[misc]
      for path in ("/", "/timeline", "/policy", "/people", "/register", "/readiness", "/drill")],
    Cell("POST", "/changes/{change_id}/cancel", "B's held change", 404,
         lambda w: _web_form(w, f"/changes/{w.b.change_id}/cancel"), web=True),
    Cell("POST", "/people/{name}/enrolment", "B's heir wilma", 404,
         lambda w: _web_form(w, "/people/wilma/enrolment"), web=True),
    Cell("GET", "/people/{name}/edit", "B's heir wilma", 404, lambda w: Call("/people/wilma/edit"), web=True),
    Cell("POST", "/people/{name}/edit", "B's heir wilma", 404,
         lambda w: _web_form(w, "/people/wilma/edit"), web=True),
    Cell("POST", "/people/{name}/remove", "B's heir wilma", 404,
         lambda w: _web_form(w, "/people/wilma/remove"), web=True),
    Cell("GET", "/drill/{release}/packages/{package}", "A's own drill package", 200,
         lambda w: Call(f"/drill/{w.a.drill}/packages/{w.a.drill_packages[0]}"), web=True),
    Cell("GET", "/drill/{release}/packages/{package}", "B's drill and B's package", 404,
         lambda w: Call(f"/drill/{w.b.drill}/packages/{w.b.drill_packages[0]}"), web=True),
    Cell("GET", "/drill/{release}/packages/{package}", "A's drill and B's package", 404,
         lambda w: Call(f"/drill/{w.a.drill}/packages/{w.b.drill_packages[0]}"), web=True),
    Cell("GET", "/drill/{release}/packages/{package}", "B's drill and A's package", 404,
         lambda w: Call(f"/drill/{w.b.drill}/packages/{w.a.drill_packages[0]}"), web=True),
    Cell("GET", "/drill/{release}/packages/{package}", "B's real release", 404,
         lambda w: Call("/drill/{}/packages/{}".format(*_real_packages(w, w.b)[0])), web=True),
    # Last: after these, A's own data (its audit log) holds the names A typed, which are B's names;
    # every view of A's data above runs before them.
    Cell("GET", "/api/tokens", "A's tokens", 200, lambda w: Call("/api/tokens"), _names_are(["init"])),
    Cell("POST", "/api/tokens", "A adds a token", 201, lambda w: Call("/api/tokens", json={"name": "bravo's"})),
    Cell("DELETE", "/api/tokens/{token_id}", "B's token", 404, lambda w: Call(f"/api/tokens/{w.b.token_id}")),
    Cell("GET", "/api/requesters", "A's requesters", 200, lambda w: Call("/api/requesters"),
         _names_are([ALPHA.requester[0]])),
    Cell("DELETE", "/api/requesters/{link_id}", "B's requester", 404,
         lambda w: Call(f"/api/requesters/{w.b.request_id}")),
    Cell("GET", "/api/changes", "A's held changes", 200, lambda w: Call("/api/changes")),
    Cell("DELETE", "/api/changes/{change_id}", "B's held change", 404,
         lambda w: Call(f"/api/changes/{w.b.change_id}")),
    Cell("POST", "/api/requesters", "A adds B's requester by name and address", 201,
         lambda w: Call("/api/requesters", json={"name": BRAVO.requester[0], "email": BRAVO.requester[1]})),
    Cell("POST", "/api/people", "A adds its own wilma", 201,
         lambda w: Call("/api/people", json={"name": "wilma", "email": "wilma@alpha-family.example",
                                             "role": "heir"}),
         _fresh_person, _drop_own_wilma),
    Cell("DELETE", "/api/channels/{channel}", "A's own channel", 200, lambda w: Call(f"/api/channels/{w.a.channel}"),
         _json_is(lambda w: {"removed": w.a.channel, "takes_effect_at": None})),
]


def _readable(response: httpx.Response) -> bytes:
    """The body, with every member of a zip unpacked (package zips and printable notices are compressed)."""
    body = response.content
    if body.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return b"\n".join(archive.read(name) for name in archive.namelist())
    return body


def _assert_nothing_of(world: World, side: Side, response: httpx.Response, call: Call) -> None:
    body = _readable(response)
    for blob in world.byte_markers(side):
        assert blob not in body, "a slice of the other owner's ciphertext is in the response"
    text = body.decode("utf-8", errors="replace")
    for given in call.supplied():  # what the caller typed may be echoed back ("no person 'wilma'")
        text = text.replace(given, "")
    found = [m for m in world.markers(side) if m in text.lower()]
    assert found == [], (found, text[:500])


def test_the_matrix_covers_every_api_route_and_every_route_with_an_id() -> None:
    """Built from ``app.routes``: a new route that takes an id or a name must get its cells here."""
    runtime = build(settings_for("sqlite://"), clock=FakeClock())
    try:
        app = create_app(runtime.service)
        routes = {(method, route.path) for route in app.routes if isinstance(route, APIRoute)
                  for method in route.methods}
    finally:
        runtime.engine.dispose()
    covered = {(c.method, c.route) for c in CELLS} | {(m, r) for _kind, r, m in LINK_ROUTES}
    with_ids = {(m, p) for m, p in routes if "{" in p}
    api = {(m, p) for m, p in routes if p.startswith("/api/")}
    assert sorted((with_ids | api) - covered) == []
    assert sorted(covered - routes) == []  # no cell for a route that is gone
    assert len(with_ids) >= 20 and len(CELLS) >= 50


@pytest.mark.parametrize("cell", CELLS, ids=[c.id for c in CELLS])
def test_owner_a_gets_nothing_of_owner_b(world: World, cell: Cell) -> None:
    """A's token (or A's web session): 404 (or A's own data), never a byte of B's, and nothing of B's changes."""
    call = cell.call(world)
    before = world.rows_of(world.b)
    client = world.web if cell.web else world.client
    assert client is not None
    credentials = {} if cell.web else {"Authorization": f"Bearer {world.a.token}"}
    kwargs: dict[str, Any] = {"headers": {**credentials, **call.headers}, "follow_redirects": False}
    if call.json is not None:
        kwargs["json"] = call.json
    if call.content is not None:
        kwargs["content"] = call.content
    if call.files is not None:
        kwargs["files"] = call.files
    try:
        response = client.request(cell.method, call.url, **kwargs)
        assert response.status_code == cell.status, (response.status_code, response.text[:300])
        _assert_nothing_of(world, world.b, response, call)
        assert world.rows_of(world.b) == before, "a request with A's token changed B's rows"
        if cell.check is not None:
            cell.check(world, response)
    finally:
        if cell.cleanup is not None:
            cell.cleanup(world)


def test_the_markers_find_owner_bs_data_in_bs_own_answers(world: World) -> None:
    """The searches are not empty-handed: B's token gets B's data, and the markers find it."""
    for url in ("/api/people", "/api/register/domains", "/api/handover/data", "/api/vault/key"):
        response = world.client.get(url, headers={"Authorization": f"Bearer {world.b.token}"})
        with pytest.raises(AssertionError):
            _assert_nothing_of(world, world.b, response, Call(url))
    file = world.client.get("/api/vault/compartments/bravo-vault/file",
                            headers={"Authorization": f"Bearer {world.b.token}"})
    assert any(blob in file.content for blob in world.byte_markers(world.b))


# -- every link token at every other link route ------------------------------------------------------
LINK_ROUTES = [(kind, f"/{letter}/{{token}}", method) for letter, kind in LINK_PURPOSES.items()
               for method in (("GET",) if kind == "collect" else ("GET", "POST"))  # the collector's page: GET
               ] + [("keycheck", "/k/{token}/challenge.age", "GET")] + [
    ("download", route, method) for route, methods in (  # a new download link after a release (the key check)
        ("/d/{token}/reissue", ("GET", "POST")), ("/d/{token}/reissue/{check}", ("GET", "POST")),
        ("/d/{token}/reissue/{check}/challenge.age", ("GET",)), ("/d/{token}/forward", ("POST",)))
    for method in methods] + [("collect", "/c/{token}/compartment.age", "GET")]


def _token_of(world: World, kind: str) -> str:
    """One of B's link tokens of each purpose, as its recipient has it."""
    b = world.b
    path = {"checkin": lambda: b.links("l", BRAVO.email)[0],
            "verify": lambda: b.links("v", BRAVO.verifier_email)[0],
            "request": lambda: b.request_path,
            "enrol": lambda: b.enrol_paths["xavier"],  # never used: xavier's key was set by the owner
            "keycheck": lambda: b.check_paths["wilma"],
            "download": lambda: b.links("d", BRAVO.holders["xavier"][1])[0],
            "notice": lambda: b.links("n", "wendy@bravo-customers.example")[0],
            "cancel": lambda: b.links("x", BRAVO.email)[0],
            "collect": lambda: b.links("c", BRAVO.holders["xavier"][1])[0]}[kind]()
    return path.rsplit("/", 1)[1]


WRONG_ROUTES = [(kind, route, method) for kind in LINK_PURPOSES.values() for purpose, route, method in LINK_ROUTES
                if purpose != kind]


@pytest.mark.parametrize(("kind", "route", "method"), WRONG_ROUTES,
                         ids=[f"{kind} token at {method} {route}" for kind, route, method in WRONG_ROUTES])
def test_a_link_token_works_only_at_its_own_route(world: World, kind: str, route: str, method: str) -> None:
    """A token of one purpose at another purpose's route is not known (404) and changes nothing."""
    url = route.replace("{token}", _token_of(world, kind))
    before = world.everything()
    response = world.client.request(method, url, data={"answer": "unreachable", "recipient": "age1x",
                                                       "code": "AAAA-BBBB-CCCC", "read": "yes"}
                                    if method == "POST" else None)
    assert response.status_code == 404, (response.status_code, response.text[:300])
    assert "not known" in response.text
    assert b"PK\x03\x04" not in response.content[:4] and b"age-encryption.org" not in response.content
    assert world.everything() == before


# -- holders' download links ------------------------------------------------------------------------
def _downloads(world: World) -> list[tuple[Side, str, str]]:
    """(side, holder, path) of every download link that was sent."""
    found = []
    for side in (world.a, world.b):
        for holder, (_display, email, _role) in side.spec.holders.items():
            found += [(side, holder, path) for path in side.links("d", email)]
    return found


def test_each_download_link_gives_its_own_holders_package_and_no_one_elses(world: World) -> None:
    """ana's link: ana's page and ana's zip with ana's share (which arlo's key cannot open); once."""
    links_sent = _downloads(world)
    assert sorted((side.spec.email, holder) for side, holder, _path in links_sent) == [
        (ALPHA.email, "ana"), (ALPHA.email, "arlo"), (BRAVO.email, "xavier")]
    for side, holder, path in links_sent:
        display = side.spec.holders[holder][0]
        others = [(s, h) for s in (world.a, world.b) for h in s.spec.holders if (s, h) != (side, holder)]
        page = world.client.get(path)
        # The owner as holders read of them: the profile's name (the e-mail only where no profile names them).
        assert page.status_code == 200 and display in page.text and side.spec.profile["owner_name"] in page.text
        for other_side, other in others:
            assert other_side.spec.holders[other][0] not in page.text
        got = world.client.post(path)
        assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
            names = {n.split("/", 1)[1]: n for n in archive.namelist()}
            manifest = json.loads(archive.read(names["manifest.json"]))
            share = archive.read(names[f"share-{holder}.age"])
        assert manifest["holder"]["name"] == holder and manifest["owner"] == side.spec.email
        assert manifest["drill"] is False
        assert sorted(n for n in names if n.startswith("share-")) == [f"share-{holder}.age"]
        assert b"# Baton share of " + holder.encode() in agecrypt.decrypt(share, [side.identities[holder]], "share")
        for other_side, other in others:
            with pytest.raises(WrongKey):
                agecrypt.decrypt(share, [other_side.identities[other]], "share")
        for _ in range(world.runtime.settings.download_uses - 1):  # a broken download may be tried again
            assert world.client.post(path).status_code == 200
        again = world.client.post(path)
        assert again.status_code == 410 and "already used" in again.text


def test_no_link_leads_to_a_drill_package_or_to_a_release_that_has_not_happened(world: World) -> None:
    """Drill packages are the owner's (no holder link), and B's family release (due 30 days after the
    fire) has neither packages nor links yet: wilma was sent no download link."""
    with world.engine.connect() as conn:
        targets = [int(w.removeprefix("package#")) for w in conn.execute(
            select(links.c.who).where(links.c.purpose == "download")).scalars()]
        drill_packages = set(conn.execute(select(packages.c.id).join(releases, releases.c.id == packages.c.release_id)
                                          .where(releases.c.drill.is_(True))).scalars())
        family = conn.execute(select(releases.c.id).where(releases.c.owner_id == world.b.id,
                                                          releases.c.stage == "family")).all()
    assert len(targets) == 3 and not set(targets) & drill_packages
    assert set(world.a.drill_packages) | set(world.b.drill_packages) <= drill_packages
    assert family == [] and world.runtime.service.status(world.b.id).pending_stages == ["family"]
    assert world.b.links("d", BRAVO.holders["wilma"][1]) == []
    for path in (world.b.check_paths["wilma"], world.b.enrol_paths["wilma"]):  # wilma's own links, at /d/
        token = path.rsplit("/", 1)[1]
        for response in (world.client.get(f"/d/{token}"), world.client.post(f"/d/{token}")):
            assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")


# -- customers' notice links --------------------------------------------------------------------------
def _notice_path(side: Side, email: str) -> str:
    """The customer's own link from the real release (drill samples went to the owner)."""
    [path] = side.links("n", email)
    return path


def _notice_rows(world: World) -> dict[tuple[int, str], Any]:
    with world.engine.connect() as conn:
        rows = conn.execute(select(notices.c.owner_id, notices.c.customer, notices.c.answer, notices.c.read_at,
                                   notices.c.answered_at).join(releases, releases.c.id == notices.c.release_id)
                            .where(releases.c.drill.is_(False))).all()
    return {(r.owner_id, r.customer): (r.answer, r.read_at, r.answered_at) for r in rows}


PAULA = "paula@alpha-customers.example"
FOREIGN = ["quentin-alpha.com", "Quentin Alpha", "h-alpha-quentin", "alphahost", "AlphaOther", "wendy-bravo.com",
           "Wendy Bravo", "bravo"]


def test_a_customers_page_shows_their_own_notice_only(world: World) -> None:
    """Paula (A's c1) sees her domain; not Quentin's (A's c2) nor Wendy's (B's c1, the same customer id)."""
    page = world.client.get(_notice_path(world.a, PAULA))
    assert page.status_code == 200 and "paula-alpha.com" in page.text and "Paula Alpha" in page.text
    assert [f for f in FOREIGN if f.lower() in page.text.lower()] == []
    wendy = world.client.get(_notice_path(world.b, "wendy@bravo-customers.example"))
    assert wendy.status_code == 200 and "wendy-bravo.com" in wendy.text and "paula" not in wendy.text.lower()


ANSWERS = [
    ("an auth code for Quentin's domain", {"read": "yes", "auth_code": "quentin-alpha.com"}, 422),
    ("an auth code for B's customer's domain", {"read": "yes", "auth_code": "wendy-bravo.com"}, 422),
    ("her own and B's customer's domain", {"auth_code": ["paula-alpha.com", "wendy-bravo.com"]}, 422),
    ("an account at Quentin's registrar", {"read": "yes", "account:alphaother": "paula-at-other"}, 200),
    ("an account for Quentin's hosting", {"hosting:h-alpha-quentin": "paula-hosting"}, 200),
    ("an account at B's registrar", {"account:bravoreg": "paula-at-bravo"}, 200),
    ("an account for B's customer's hosting", {"hosting:h-bravo-yusuf": "paula-hosting"}, 200),
    ("another customer's id", {"customer": "c2", "note": "I am Quentin"}, 200),
]


@pytest.mark.parametrize(("what", "form", "status"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_an_answer_naming_another_customers_things_changes_no_other_answer(world: World, what: str,
                                                                          form: dict[str, Any], status: int) -> None:
    """Paula's answer naming Quentin's or B's domains, registrars or hosting: refused or ignored."""
    before = _notice_rows(world)
    page = world.client.post(_notice_path(world.a, PAULA), data=form)
    assert page.status_code == status, page.text[:300]
    assert [f for f in FOREIGN if f.lower() in page.text.lower()] == []
    after = _notice_rows(world)
    paula = (world.a.id, "c1")
    assert {k: v for k, v in after.items() if k != paula} == {k: v for k, v in before.items() if k != paula}
    if status == 422:
        assert after[paula] == before[paula]
        return
    answer = after[paula][0]
    assert answer["customer"] == "c1" and set(answer["accounts"]) <= {"alphareg"}
    assert answer["hosting_accounts"] == {} and answer["auth_codes_for"] == []


# -- switch links: a verifier, a check-in and a requester act on their own switch only ------------------
@dataclass
class Switches:
    runtime: Runtime
    client: TestClient
    owners: dict[str, int]
    sender: RecordingSender
    requests: dict[str, str]

    def sent(self, letter: str, recipient: str) -> str:
        found = [p for m in self.sender.sent if m.recipient == recipient
                 for p, kind in LINK.findall(m.body_text) if kind == letter]
        return found[-1]

    def run(self) -> None:
        self.runtime.worker({Channel.EMAIL: self.sender, Channel.APPRISE: self.sender}).run_once()

    def events(self, who: str) -> list[tuple[str, str | None]]:
        return [(e["event"], e["who"]) for e in self.runtime.service.timeline(self.owners[who], 1000)]


SWITCH_POLICY = {"interval": "10d", "reminders": ["1d"], "grace": "1d",
                 "confirm": {"window": "2d", "verifiers": [{"name": "vera", "email": "vera@a.example"}],
                             "quorum": 1},
                 "stages": [{"name": "notify", "after": "0d", "audience": ["owner"], "action": "notify"}]}


@pytest.fixture
def switches(runtime: Runtime, clock: FakeClock) -> Iterator[Switches]:
    """Switches A and B, each with a verifier named vera and a requester; the reminders were sent."""
    made: dict[str, int] = {}
    requests: dict[str, str] = {}
    for who in ("a", "b"):
        policy = {**SWITCH_POLICY, "confirm": {**SWITCH_POLICY["confirm"],  # type: ignore[dict-item]
                                               "verifiers": [{"name": "vera", "email": f"vera@{who}.example"}]}}
        owner = runtime.service.create_owner(f"owner@{who}.example", "correct horse battery", "UTC", policy=policy)
        made[who] = owner.owner.id
        requests[who] = OwnerAccess(runtime.service).add_requester(
            owner.owner.id, "Rita", f"rita@{who}.example")["url"].removeprefix(runtime.settings.base_url)
    world = Switches(runtime, TestClient(create_app(runtime.service), base_url=runtime.settings.base_url), made,
                     RecordingSender(), requests)
    clock.advance(days=9, hours=1)
    world.run()
    yield world
    world.client.close()


def test_a_check_in_link_of_switch_a_checks_in_a_only(switches: Switches, clock: FakeClock) -> None:
    b_before = switches.runtime.service.status(switches.owners["b"]).to_dict()
    clock.advance(hours=2)
    done = switches.client.post(switches.sent("l", "owner@a.example"))
    assert done.status_code == 200 and "you are checked in" in done.text
    assert switches.runtime.service.status(switches.owners["a"]).last_checkin == clock.now()
    assert switches.runtime.service.status(switches.owners["b"]).to_dict() == b_before
    assert ("checkin", None) not in switches.events("b")


def test_a_verifier_vote_counts_only_for_its_own_switch(switches: Switches, clock: FakeClock) -> None:
    """Both verifiers are named vera: A's vera's "unreachable" fires A (quorum 1); B is still asking."""
    clock.advance(days=2)
    switches.run()
    assert {switches.runtime.service.status(o).status for o in switches.owners.values()} == {"confirming"}
    done = switches.client.post(switches.sent("v", "vera@a.example"), data={"answer": "unreachable"})
    assert done.status_code == 200
    assert switches.runtime.service.status(switches.owners["a"]).status in ("fired", "released")
    assert switches.runtime.service.status(switches.owners["b"]).status == "confirming"
    assert ("vote", "vera") in switches.events("a") and ("vote", "vera") not in switches.events("b")
    # B's own verifier still decides for B.
    assert switches.client.post(switches.sent("v", "vera@b.example"), data={"answer": "reachable"}).status_code == 200
    assert switches.events("b").count(("vote", "vera")) == 1
    assert switches.runtime.service.status(switches.owners["b"]).status == "confirming"


def test_a_request_link_of_switch_a_asks_for_the_release_of_a_only(switches: Switches) -> None:
    b_before = switches.runtime.service.status(switches.owners["b"]).to_dict()
    done = switches.client.post(switches.requests["a"])
    assert done.status_code == 200
    assert switches.runtime.service.status(switches.owners["a"]).release_request is not None
    assert switches.runtime.service.status(switches.owners["b"]).to_dict() == b_before
    assert not any(event == "release_requested" for event, _who in switches.events("b"))


def test_the_enrolment_link_of_a_removed_person_does_not_enrol_whoever_is_added_under_that_name(
        runtime: Runtime) -> None:
    """ana is added (her link is e-mailed to her), removed, and someone else is added as ana: the first
    ana's link must not set the new ana's key — that key would receive the new ana's share."""
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "UTC")
    client = TestClient(create_app(runtime.service), base_url=runtime.settings.base_url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"
    first = client.post("/api/people", json={"name": "ana", "email": "ana@old.example", "role": "heir"})
    old_link = first.json()["enrol_url"].removeprefix(runtime.settings.base_url)
    assert client.delete("/api/people/ana").status_code == 200
    assert client.post("/api/people", json={"name": "ana", "email": "ana@new.example", "role": "heir"}) \
        .status_code == 201
    page = client.post(old_link, data={"recipient": keys.public_of(keys.generate_identity()).text})
    assert page.status_code in (404, 410), (page.status_code, page.text[:200])
    [ana] = client.get("/api/people").json()
    assert (ana["email"], ana["recipient"], ana["key"]) == ("ana@new.example", None, "none")
    client.close()
