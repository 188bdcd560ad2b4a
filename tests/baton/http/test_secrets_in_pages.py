"""Every secret shows only to its rightful recipient, through a whole life on the real server.

``test_secrets_stay_out.py`` checks one link in the access log and the reprs, and
``test_vault_secrets_stay_out.py`` the vault's secrets through the vault's flow. Here one owner lives
a whole life against uvicorn on the loopback, with every logger at DEBUG: ``baton init`` with a
password and TOTP, web sign-ins (good and bad), two API tokens, an alert channel, a requester, the
vault and three holders (enrolled by link, a pasted secret key refused, a key card), a key check, a
split, the register, a drill, a check-in by link, a release request refused by the owner, a verifier,
the release, downloads, customers' notices and answers, printable notices, errors of every kind, and
the successors' ``recover`` and ``baton handover build``.

Every page and JSON body (error or not, zips unpacked), response header, log record, message as sent
and as stored, CLI output and file written is kept and searched for every secret. Where a secret may
appear — a link in its own recipient's e-mail, the API token printed once by ``baton init`` — the
place is named with its reason in ``_rightful``; anywhere else fails the test.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import select

from baton import logging_setup
from baton.cli.ownervault import OwnerVault, make_keycard
from baton.http.app import create_app
from baton.jobs.outbox import Channel
from baton.runtime import Runtime, build
from baton.services import accounts
from baton.settings import get_settings
from baton.store import links
from baton.store.tables import links as link_rows
from baton.store.tables import notices, outbox, releases
from baton.testing import FakeClock, RecordingSender
from tests_support import free_port, live_server, run_cli, settings_for
from vault import agecrypt, challenge, keys, release, shares
from vault.entries import entry_from_dict
from vault.package import Package
from vault.recovery import recover, write_opened

OWNER = "owner@secret-life.example"
PASSWORD = "correct horse battery staple 42"
VERA = "vera@secret-life-friends.example"
RITA = "rita@secret-life-family.example"
REGISTRAR_PASSWORD = "registrar-pw-Zr8-quietly"
AUTH_CODE = "AUTHCODE-7f3Kq9Zx2Lm8"
WEBHOOK_SECRET = "alerts-8c1f2e9d7b4a"
HOLDERS = {"ana": ("ana@secret-life-family.example", "en"), "bruno": ("bruno@secret-life-family.example", "it"),
           "carla": ("carla@secret-life-family.example", "pt")}
POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "1d", "grace_reminder_every": "1d",
          "confirm": {"window": "2d", "verifiers": [{"name": "vera", "email": VERA}], "quorum": 1},
          "release_request": {"wait": "7d"},
          # The customers' stage an hour after the release: two audit-writing stages due in one step
          # stop the switch (reported apart; see test_authorization_matrix.py).
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"},
                     {"name": "customers", "after": "1h", "audience": [], "action": "notify_customers"}]}
REGISTER = {
    "registrars.csv": "id,name,ticket_email,reseller_move,epp\n"
                      "pandi,PANDI Registrar,ticket@pandi.example,no,yes\n"
                      "domreg,DomainRegister,support@domreg.example,yes,no\n",
    "customers.csv": "id,name,email,language\n"
                     "c1,Putu Customer,putu@secret-life-customers.example,id\n"
                     "c2,Giulia Customer,giulia@secret-life-customers.example,it\n",
    "domains.csv": "domain,customer,registrar,expires,statuses\n"
                   "putu-shop.com,c1,pandi,2027-05-01,clientTransferProhibited\n"
                   "giulia-negozio.com,c2,domreg,2027-06-01,\n",
    "hosting.csv": "id,customer,provider,paid_until,panel,price,currency,cycle,packaging\n"
                   "h-giulia,c2,aruba,2026-12-31,Plesk,9.90,EUR,monthly,individual\n",
}
PROFILE = {"business": "Secret Life Hosting", "owner_name": "Olga Owner", "event": "passed_away",
           "successor": {"name": "Sam Successor", "email": "sam@secret-life-family.example", "role": "executor"}}
LINK = re.compile(r"/([lvqekdn])/([A-Za-z0-9_\-]{20,})")
AGE_SECRET_KEY = re.compile(rb"AGE-SECRET-KEY-1[0-9A-Z]{58}", re.IGNORECASE)
PURPOSES = {"l": "checkin", "v": "verify", "q": "request", "e": "enrol", "k": "keycheck", "d": "download",
            "n": "notice"}

# Routes whose answer shows its caller a link made by that very request, and why that is right.
SHOWS_A_NEW_LINK = {
    "POST /api/people": "the owner adds a holder and gets the enrolment link, to pass on if the e-mail fails",
    "POST /api/requesters": "the owner makes a requester's link, shown once, to give to the requester",
    "POST /e/{token}": "the holder who just enrolled gets the link of their first key check",
    "POST /api/notices/printable": "the owner prints the notices, each with a personal link of its own",
}


@dataclass(frozen=True)
class Seen:
    """One thing someone could see: a page, a header block, a log record, a message, a CLI output, a file."""

    channel: str  # page | headers | log | mail | stored mail | cli | file
    label: str
    data: bytes
    route: str = ""  # pages and headers: "GET /l/{token}"
    path: str = ""  # the URL path asked for (pages and headers)
    recipient: str = ""  # mail: who it was sent to
    minted: frozenset[str] = frozenset()  # link tokens made while this response was made


@dataclass
class Secret:
    name: str
    value: bytes
    rightful: Callable[[Seen], str | None] = lambda _seen: None  # the reason it may be there, or None
    reaches: bool = False  # it must reach its rightful place at least once (the search is not empty-handed)


@dataclass
class Life:
    runtime: Runtime
    seen: list[Seen]
    client_logs: list[tuple[str, str]]
    secrets: dict[str, list[Secret]] = field(default_factory=dict)

    def __repr__(self) -> str:  # a failing assertion must not print the secrets into the report
        return f"Life({len(self.seen)} things seen, {sum(map(len, self.secrets.values()))} secrets)"


# -- capturing -----------------------------------------------------------------------------------------
class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, self.format(record)))


@contextmanager
def _every_logger_at_debug(keep: _Keep) -> Iterator[Callable[[], None]]:
    """Every logger at DEBUG into ``keep`` (non-propagating ones too); yields a function that catches up
    with loggers configured since (uvicorn's)."""
    saved: dict[str, int] = {}

    def attach() -> None:
        for name in ["", *logging.root.manager.loggerDict]:
            logger = logging.getLogger(name)
            if not isinstance(logger, logging.Logger):
                continue
            saved.setdefault(name, logger.level)
            logger.setLevel(logging.DEBUG)
            if (name == "" or not logger.propagate) and keep not in logger.handlers:
                logger.addHandler(keep)
    attach()
    try:
        yield attach
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).removeHandler(keep)


def _readable(body: bytes) -> bytes:
    """The body, and every member of a zip unpacked (packages and printable notices are compressed)."""
    if body.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(BytesIO(body)) as archive:
            return body + b"\n" + b"\n".join(archive.read(name) for name in archive.namelist())
    return body


def _route(method: str, path: str) -> str:
    return f"{method} {LINK.sub(lambda m: f'/{m.group(1)}/{{token}}', path)}"


class _Recorder:
    """httpx event hooks that keep every response (body and headers) with the link tokens made meanwhile."""

    def __init__(self, seen: list[Seen], minted: list[str]) -> None:
        self.seen, self.minted = seen, minted
        self._started: dict[int, int] = {}

    def request(self, request: httpx.Request) -> None:
        self._started[id(request)] = len(self.minted)

    def response(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        made = frozenset(self.minted[self._started.pop(id(request), len(self.minted)):])
        route = _route(request.method, request.url.path)
        label = f"{route} → {response.status_code}"
        self.seen.append(Seen("page", label, _readable(response.content), route, request.url.path, minted=made))
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items()).encode()
        self.seen.append(Seen("headers", label, headers, route, request.url.path, minted=made))

    def client(self, base_url: str, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=base_url, timeout=30, event_hooks={"request": [self.request],
                                                                        "response": [self.response]}, **kwargs)


def _csrf(page: httpx.Response) -> str:
    return str(re.findall(r'name="csrf" value="([^"]+)"', page.text)[0])


def _ok(response: httpx.Response, status: int = 200) -> httpx.Response:
    assert response.status_code == status, (response.request.method, response.request.url.path,
                                            response.status_code, response.text[:300])
    return response


# -- the life ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def life(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Life]:
    tmp = tmp_path_factory.mktemp("life")
    keep = _Keep()
    with _every_logger_at_debug(keep) as attach, pytest.MonkeyPatch.context() as patch:
        minted: list[str] = []
        made: dict[str, Any] = {"release keys": [], "masters": [], "words": []}
        _watch_secrets_being_made(patch, minted, made)
        yield _live(tmp, keep, attach, patch, minted, made)


def _watch_secrets_being_made(patch: pytest.MonkeyPatch, minted: list[str], made: dict[str, Any]) -> None:
    """Wrap the makers of link tokens, release keys, master secrets and share words to learn each one (a link's
    token is derived from its id when it is shown or sent: every derivation is a token made)."""
    real_token = links.token

    def token(key: Any, link_id: int) -> str:
        made_now = real_token(key, link_id)
        minted.append(made_now)
        return made_now
    patch.setattr(links, "token", token)
    real_key, real_master, real_split = release.new_release_key, shares.new_master_secret, shares.split
    patch.setattr(release, "new_release_key", lambda: made["release keys"].append(real_key()) or
                  made["release keys"][-1])
    patch.setattr(shares, "new_master_secret", lambda *a, **k: made["masters"].append(real_master(*a, **k)) or
                  made["masters"][-1])

    def split(*args: Any, **kwargs: Any) -> Any:
        given = real_split(*args, **kwargs)
        made["words"] += [line for mnemonics in given.values() for line in mnemonics]
        return given
    patch.setattr(shares, "split", split)


def _live(tmp: Path, keep: _Keep, attach: Callable[[], None], patch: pytest.MonkeyPatch, minted: list[str],
          made: dict[str, Any]) -> Life:
    seen: list[Seen] = []
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = f"sqlite:///{tmp}/baton.db"

    # `baton init`: the password from the environment (never on the command line), TOTP, a policy file.
    (tmp / "policy.json").write_text(json.dumps(POLICY))
    for name, value in {"BATON_DATABASE_URL": database, "BATON_DATA_DIR": str(tmp / "server"),
                        "BATON_BASE_URL": url, "BATON_INIT_PASSWORD": PASSWORD,
                        "BATON_CLIENT_CONFIG": str(tmp / "client.json")}.items():
        patch.setenv(name, value)
    get_settings.cache_clear()
    init = run_cli("init", "--email", OWNER, "--timezone", "Europe/Rome", "--totp", "--no-save-token",
                   "--policy", tmp / "policy.json")
    get_settings.cache_clear()
    assert init.exit_code == 0, init.output
    seen.append(Seen("cli", "baton init", init.output.encode()))
    api_token = re.findall(r"^ {2}(bt_\S+)$", init.output, re.M)[0]
    totp_secret = re.findall(r"secret=([A-Z2-7]+)", init.output)[0]

    clock = FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
    runtime = build(settings_for(database, data_dir=tmp / "server", base_url=url), clock=clock)
    with runtime.engine.begin() as conn:  # a second token, as for a phone shortcut
        owner = accounts.find_owner(conn, OWNER)
        assert owner is not None
        phone_token = accounts.issue_token(conn, owner.id, clock.now(), label="phone")
    sender = RecordingSender()
    worker = runtime.worker({Channel.EMAIL: sender, Channel.APPRISE: sender})
    recorder = _Recorder(seen, minted)
    totp = pyotp.TOTP(totp_secret)
    codes: list[str] = []  # key-check codes, as the holder found them in the sealed challenge

    def configured() -> None:  # the access log on, as ``baton serve`` runs it; link paths redacted
        logging_setup.install()
        attach()  # uvicorn's loggers, configured just now, do not propagate

    with live_server(create_app(runtime.service), port, "info", configured), recorder.client(url) as web, \
            recorder.client(url, headers={"Authorization": f"Bearer {api_token}"}) as api, \
            recorder.client(url) as browser:

        def sign_in() -> None:
            form = _ok(web.get("/signin"))
            done = web.post("/signin", data={"email": OWNER, "password": PASSWORD, "totp": totp.at(clock.now()),
                                             "csrf": _csrf(form), "next": "/"})
            _ok(done, 303)

        # Web sign-in: a wrong password, the right password with a wrong code, then both right.
        form = _ok(web.get("/signin"))
        _ok(web.post("/signin", data={"email": OWNER, "password": "not the password at all", "totp": "123456",
                                      "csrf": _csrf(form)}), 401)
        wrong = "000000" if totp.at(clock.now()) != "000000" else "111111"
        _ok(web.post("/signin", data={"email": OWNER, "password": PASSWORD, "totp": wrong, "csrf": _csrf(form)}), 401)
        sign_in()
        _ok(api.post("/api/checkin", headers={"Authorization": f"Bearer {phone_token}"}))
        _ok(api.post("/api/channels", json={"url": f"json://hooks.secret-life.example/{WEBHOOK_SECRET}"}), 201)
        request_url = _ok(api.post("/api/requesters", json={"name": "Rita", "email": RITA}), 201).json()["url"]

        # The vault: the owner's key (in memory), a registrar password and a customer's auth code.
        owner_key = keys.generate_identity()
        _ok(api.put("/api/vault/key", json={"recipient": keys.public_of(owner_key).text}))
        vault = OwnerVault(api, tmp / "unused.age", lambda: "", _identity=owner_key)  # type: ignore[arg-type]
        vault.ensure_compartment("operations")
        version, opened = vault.open("operations")
        opened.put(entry_from_dict({"id": "registrar", "kind": "registrar", "title": "PANDI reseller",
                                    "fields": {"registrar": "PANDI", "username": "reseller",
                                               "password": REGISTRAR_PASSWORD}, "updated_at": "2026-01-01"}))
        opened.put(entry_from_dict({"id": "putu-shop", "kind": "auth_code", "title": "putu-shop.com",
                                    "fields": {"domain": "putu-shop.com", "code": AUTH_CODE,
                                               "registrar": "PANDI Registrar"}, "updated_at": "2026-01-01"}))
        vault.save("operations", version, opened)

        # Holders: ana and bruno enrol by link (bruno first pastes his secret key), carla gets a key card.
        identities = {name: keys.generate_identity() for name in HOLDERS}
        for name in ("ana", "bruno"):
            email, language = HOLDERS[name]
            enrol = _ok(api.post("/api/people", json={"name": name, "display_name": name.title(), "email": email,
                                                      "language": language, "role": "heir"}), 201)
            path = httpx.URL(enrol.json()["enrol_url"]).path
            _ok(browser.get(path))
            if name == "bruno":
                _ok(browser.post(path, data={"recipient": keys.identity_text(identities[name])}), 422)
            done = _ok(browser.post(path, data={"recipient": keys.public_of(identities[name]).text}))
            check = httpx.URL(re.findall(r'<a href="([^"]+/k/[^"]+)">', done.text)[0]).path
            if name == "ana":  # the key check, by its page
                _ok(browser.get(check))
                sealed = _ok(browser.get(f"{check}/challenge.age")).content
                code = challenge.code_from(agecrypt.decrypt(sealed, [identities["ana"]], "key check"))
                codes.append(code)
                _ok(browser.post(check, data={"code": "AAAA-BBBB-CCCC"}), 422)
                _ok(browser.post(check, data={"code": code}))
        people = _ok(web.get("/people"))
        _ok(web.post("/people", data={"name": "carla", "display_name": "Carla", "email": HOLDERS["carla"][0],
                                      "language": "pt", "role": "heir", "csrf": _csrf(people)}))
        deployment = _ok(api.get("/api/vault/key")).json()["fingerprint"]
        carla_public, card, _pdf = make_keycard("carla", OWNER, deployment)  # on the owner's machine
        seen.append(Seen("file", "carla's key card (made on the owner's machine)", card.encode()))
        identities["carla"] = keys.parse_identities(AGE_SECRET_KEY.findall(card.encode())[0])[0]
        _ok(api.put("/api/people/carla/key", json={"recipient": carla_public, "source": "keycard"}))
        vault.split("operations", shares.policy_from_dict({"threshold": 2, "holders": list(HOLDERS)}))

        # The register, the profile, every owner page, a drill on the web and its package.
        files = [("files", (name, text.encode(), "text/csv")) for name, text in REGISTER.items()]
        _ok(api.post("/api/register/import", files=files))
        _ok(api.put("/api/handover/profile", json=PROFILE))
        for page in ("/", "/timeline", "/policy", "/register", "/readiness"):
            _ok(web.get(page))
        drill_page = _ok(web.get("/drill"))
        report = _ok(web.post("/drill", data={"csrf": _csrf(drill_page)}))
        package = re.findall(r'href="(/drill/\d+/packages/\d+)"', report.text)[0]
        _ok(web.get(package))
        _ok(api.get(f"/api{package}"))
        for read in ("/api/status", "/api/people", "/api/vault/compartments", "/api/vault/readiness",
                     "/api/readiness", "/api/handover/data", "/api/notices", "/api/timeline", "/api/audit/verify"):
            _ok(api.get(read))
        worker.run_once()

        # Errors of every kind, JSON and pages: none may quote a secret.
        for token in (PASSWORD, api_token + "x", phone_token[:-2]):
            _ok(browser.get("/api/status", headers={"Authorization": f"Bearer {token}"}), 401)
        _ok(api.delete("/api/people/nobody"), 404)
        _ok(api.put("/api/policy", json={**POLICY, "interval": "soon"}), 422)
        _ok(api.put("/api/vault/key", json={"recipient": keys.public_of(keys.generate_identity()).text}), 409)
        _ok(api.put("/api/people/ana/key", json={"recipient": keys.identity_text(identities["ana"])}), 422)
        _ok(api.post("/api/pause", json={"until": "2030-01-01T00:00:00"}), 422)
        _ok(api.post("/api/people/ana/checks/999999", json={"code": codes[0]}), 404)
        for path in ("/l/not-a-token-of-anyone-at-all", "/n/not-a-token-of-anyone-at-all"):
            _ok(browser.get(path), 404)

        # A reminder; the owner checks in by its link.
        clock.advance(days=29, hours=1)
        worker.run_once()
        checkin = _mailed(sender, "l", OWNER)[-1]
        _ok(browser.get(checkin))
        _ok(browser.post(checkin))
        _ok(browser.post(checkin), 410)
        worker.run_once()

        # Rita asks for the release; the owner refuses by checking in on the web (signed in again).
        request = httpx.URL(request_url).path
        _ok(browser.get(request))
        _ok(browser.post(request))
        worker.run_once()
        clock.advance(minutes=5)
        sign_in()
        _ok(web.post("/checkin", data={"csrf": _csrf(_ok(web.get("/")))}), 303)
        worker.run_once()

        # The deadline passes; vera is asked and answers "unreachable": the switch fires and releases.
        for hours in (30 * 24, 24):
            clock.advance(hours=hours)
            worker.run_once()
        verify = _mailed(sender, "v", VERA)[-1]
        _ok(browser.get(verify))
        _ok(browser.post(verify, data={"answer": "unreachable"}))
        _ok(browser.post(verify, data={"answer": "reachable"}), 410)
        worker.run_once()
        clock.advance(hours=1)
        worker.run_once()

        # Holders download; customers read and answer; the owner prints the notices.
        downloads = tmp / "downloads"
        downloads.mkdir()
        for name, (email, _language) in HOLDERS.items():
            [path] = _mailed(sender, "d", email)
            _ok(browser.get(path))
            got = _ok(browser.post(path))
            (downloads / f"{name}.zip").write_bytes(got.content)
            for _ in range(runtime.settings.download_uses - 1):  # a broken download may be tried again
                _ok(browser.post(path))
            _ok(browser.post(path), 410)
        putu = _mailed(sender, "n", "putu@secret-life-customers.example")[-1]
        giulia = _mailed(sender, "n", "giulia@secret-life-customers.example")[-1]
        _ok(browser.get(putu))
        answered = _ok(browser.post(putu, data={"read": "yes", "auth_code": "putu-shop.com", "note": "please hurry"}),
                       303)  # then the thank-you page, by GET
        _ok(browser.get(f"{putu}{answered.headers['location']}"))
        _ok(browser.post(giulia, data={"account:domreg": "has spaces"}), 422)
        answered = _ok(browser.post(giulia, data={"read": "yes", "account:domreg": "giulia.own",
                                                  "hosting:h-giulia": "g@aruba"}), 303)
        _ok(browser.get(f"{giulia}{answered.headers['location']}"))
        _ok(api.post("/api/notices/printable"))
        _ok(api.get("/api/handover/data"))

        # The successors: recover with two keys, then build the registrar requests against the server.
        packages = [Package(p) for p in sorted(downloads.iterdir())]
        for package in packages:
            holder = package.manifest["holder"]["name"]
            body = agecrypt.decrypt(package.read(f"share-{holder}.age"), [identities[holder]], "share")
            assert release.read_share_file(body)[0] in made["words"]
        recovered = recover(packages, [identities["ana"], identities["bruno"]])
        write_opened(recovered.opened[0], tmp / "opened")
        patch.setenv("BATON_URL", url)
        patch.setenv("BATON_TOKEN", api_token)
        get_settings.cache_clear()
        built = run_cli("handover", "build", tmp / "requests", "--vault", tmp / "opened")
        get_settings.cache_clear()
        assert built.exit_code == 0, built.output
        seen.append(Seen("cli", "baton handover build", built.output.encode()))
        for path in sorted((tmp / "requests").rglob("*")):
            if path.is_file():
                seen.append(Seen("file", f"requests/{path.relative_to(tmp / 'requests').as_posix()}",
                                 path.read_bytes()))
        worker.run_once()
        time.sleep(0.2)  # the last access-log lines

    # Messages as sent, and as the outbox keeps them; every log record, apart from the test's own clients.
    for message in sender.sent:  # the recipient is the address (an Apprise URL for alerts), not content
        seen.append(Seen("mail", f"{message.purpose} to {message.recipient}",
                         f"{message.subject}\n{message.body_text}\n{message.body_html or ''}".encode(),
                         recipient=message.recipient))
    with runtime.engine.connect() as conn:
        stored = conn.execute(select(outbox)).all()
    assert stored and all(row.sent_at is not None for row in stored)
    for row in stored:
        seen.append(Seen("stored mail", f"stored {row.purpose} #{row.id}",
                         f"{row.subject}\n{row.body_text}\n{row.body_html or ''}\n{row.last_error or ''}".encode()))
    client_side = [(name, text) for name, text in keep.records if name.split(".")[0] in ("httpx", "httpcore")]
    seen += [Seen("log", f"log {name}: {text[:100]}", text.encode()) for name, text in keep.records
             if name.split(".")[0] not in ("httpx", "httpcore")]

    found = Life(runtime, seen, client_side)
    found.secrets = _secrets(runtime, api_token, phone_token, totp_secret, codes, identities, owner_key, made,
                             minted, seen)
    return found


def _mailed(sender: RecordingSender, letter: str, recipient: str) -> list[str]:
    """The paths of the links of one kind sent to ``recipient``, as sent."""
    return [f"/{kind}/{token}" for m in sender.sent if m.recipient == recipient
            for kind, token in LINK.findall(m.body_text) if kind == letter]


# -- the secrets, and where each may rightly appear ----------------------------------------------------------
def _nowhere(_seen: Seen) -> str | None:
    return None


def _secrets(runtime: Runtime, api_token: str, phone_token: str, totp_secret: str, codes: list[str],
             identities: dict[str, Any], owner_key: Any, made: dict[str, Any], minted: list[str],
             seen: list[Seen]) -> dict[str, list[Secret]]:
    def in_cli(label: str, why: str) -> Callable[[Seen], str | None]:
        return lambda s: why if (s.channel, s.label) == ("cli", label) else None

    sessions = sorted({m for s in seen if s.channel == "headers" and s.route == "POST /signin"
                       for m in re.findall(rb"baton_session=(bs_[A-Za-z0-9_\-]+)", s.data)})

    def session_rightful(s: Seen) -> str | None:
        if s.channel == "headers" and s.route == "POST /signin":
            return "set once, in the sign-in's answer, in the browser of the owner who signed in"
        return None

    signing = runtime.service.signer.key
    key_card = "carla's key card (made on the owner's machine)"
    ages: list[Secret] = [
        Secret(f"{name}'s secret key", keys.identity_text(identity).encode(),
               (lambda s: "the key card is made for carla on the owner's machine and is never sent"
                if (s.channel, s.label) == ("file", key_card) else None) if name == "carla" else _nowhere,
               reaches=name == "carla")
        for name, identity in identities.items()]
    ages.append(Secret("the owner's vault key", keys.identity_text(owner_key).encode()))
    ages += [Secret(f"release key {i}", keys.identity_text(k).encode()) for i, k in enumerate(made["release keys"])]
    secrets = {
        "the password": [Secret("the password", PASSWORD.encode())],
        "the TOTP secret": [Secret("the TOTP secret", totp_secret.encode(), in_cli(
            "baton init", "printed once by `baton init` for the owner's authenticator app"), reaches=True)],
        "the API tokens": [
            Secret("the init token", api_token.encode(), in_cli("baton init", "printed once by `baton init`"),
                   reaches=True),
            Secret("the phone token", phone_token.encode())],
        "the web session cookies": [Secret(f"session {i}", cookie, session_rightful, reaches=True)
                                    for i, cookie in enumerate(sessions)],
        "the deployment signing key": [Secret("the signing key (hex)", bytes(signing).hex().encode()),
                                       Secret("the signing key (bytes)", bytes(signing))],
        "age secret keys": ages,
        "share words": [Secret(f"share line {i}", line.encode()) for i, line in enumerate(made["words"])],
        "the master secret": [Secret(f"{form} master secret {i}", value) for i, m in enumerate(made["masters"])
                              for form, value in (("hex", m.hex().encode()), ("raw", m),
                                                  ("base64", base64.b64encode(m)))],
        "the key-check code": [Secret("ana's key-check code", code.encode()) for code in codes],
        "the registrar password": [Secret("the registrar password", REGISTRAR_PASSWORD.encode())],
        "the customer's auth code": [Secret("the auth code", AUTH_CODE.encode(), lambda s: (
            "EPP documents for the registrar, written mode 600 on the successors' machine"
            if s.channel == "file" and s.label.endswith(("-transfer.xml", "-info.xml")) else None), reaches=True)],
        "the alert channel's secret URL": [Secret("the webhook path", WEBHOOK_SECRET.encode())],
    }
    for purpose in PURPOSES.values():
        secrets[f"{purpose} link tokens"] = []
    for token in dict.fromkeys(minted):
        purpose, addressees = _addressees(runtime, token)
        secrets[f"{purpose} link tokens"].append(Secret(f"{purpose} token #{len(secrets[f'{purpose} link tokens'])}",
                                                        token.encode(), _link_rightful(token, addressees),
                                                        reaches=True))
    return secrets


def _addressees(runtime: Runtime, token: str) -> tuple[str, set[str]]:
    """A link's purpose and who it is for (its e-mail's rightful recipients)."""
    with runtime.engine.connect() as conn:
        row = conn.execute(select(link_rows).where(link_rows.c.id == links.link_id(runtime.service.key, token))).one()
        drill = False
        if row.purpose == "notice":
            notice = int(row.who.removeprefix("notice:"))
            drill = bool(conn.execute(select(releases.c.drill).join(notices, notices.c.release_id == releases.c.id)
                                      .where(notices.c.id == notice)).scalar_one())
    who = {"checkin": {OWNER}, "verify": {VERA}}.get(row.purpose, {row.email})
    if drill:
        who |= {OWNER}  # a drill's notices go to the owner, as samples
    return row.purpose, who


def _link_rightful(token: str, addressees: set[str]) -> Callable[[Seen], str | None]:
    def rightful(s: Seen) -> str | None:
        if s.channel == "mail" and s.recipient in addressees:
            return f"in the e-mail to {s.recipient}, whom the link is for"
        if s.channel == "page" and token in s.path:
            return "on the page of the link itself, to whoever holds the link already"
        if s.channel == "page" and token in s.minted and s.route in SHOWS_A_NEW_LINK:
            return SHOWS_A_NEW_LINK[s.route]
        return None
    return rightful


CATEGORIES = ["the password", "the TOTP secret", "the API tokens", "the web session cookies",
              "the deployment signing key", "age secret keys", "share words", "the master secret",
              "the key-check code", "the registrar password", "the customer's auth code",
              "the alert channel's secret URL", *[f"{p} link tokens" for p in PURPOSES.values()]]


# -- the tests -----------------------------------------------------------------------------------------------
def test_the_life_went_through_every_page_channel_and_kind_of_secret(life: Life) -> None:
    """The searches are not empty-handed: every link route, error kind and channel was seen."""
    assert sorted(life.secrets) == sorted(CATEGORIES)
    assert all(life.secrets[c] for c in CATEGORIES)
    routes = Counter(s.route for s in life.seen if s.channel == "page")
    for letter in PURPOSES:
        assert routes[f"GET /{letter}/{{token}}"] and routes[f"POST /{letter}/{{token}}"], letter
    statuses = {int(s.label.rsplit(" ", 1)[1]) for s in life.seen if s.channel == "page"}
    assert {200, 201, 303, 401, 404, 409, 410, 422} <= statuses
    channels = Counter(s.channel for s in life.seen)
    assert channels["mail"] >= 20 and channels["stored mail"] == channels["mail"] and channels["log"] >= 100
    assert channels["cli"] == 2 and channels["file"] >= 8
    # Every kind of link page reached the access log, redacted.
    access = [s.data.decode() for s in life.seen if s.channel == "log" and s.label.startswith("log uvicorn.access")]
    for letter in PURPOSES:
        assert any(f"/{letter}/*** HTTP" in line for line in access), letter


@pytest.mark.parametrize("category", CATEGORIES)
def test_a_secret_shows_only_to_its_rightful_recipient(life: Life, category: str) -> None:
    """Each secret of the kind: found only where ``_rightful`` names a reason; where it must reach, it did."""
    wrong: dict[str, list[str]] = {}
    reached: Counter[str] = Counter()
    for secret in life.secrets[category]:
        for seen in life.seen:
            if secret.value in seen.data:
                if secret.rightful(seen) is None:
                    wrong.setdefault(secret.name, []).append(f"{seen.channel}: {seen.label}")
                else:
                    reached[secret.name] += 1
    assert wrong == {}
    assert sorted(s.name for s in life.secrets[category] if s.reaches and not reached[s.name]) == []


def test_no_age_secret_key_of_anyone_is_anywhere_but_the_key_card(life: Life) -> None:
    """Any AGE-SECRET-KEY at all (not only the known ones): only on carla's key card."""
    places = [f"{s.channel}: {s.label}" for s in life.seen if AGE_SECRET_KEY.search(s.data)]
    assert places == ["file: carla's key card (made on the owner's machine)"]


def test_the_init_output_shows_the_token_and_totp_secret_once_and_never_the_password(life: Life) -> None:
    [init] = [s.data.decode() for s in life.seen if (s.channel, s.label) == ("cli", "baton init")]
    [token] = life.secrets["the API tokens"][:1]
    [secret] = life.secrets["the TOTP secret"]
    assert init.count(token.value.decode()) == 1 and init.count(secret.value.decode()) == 1
    assert PASSWORD not in init


def test_the_test_clients_log_only_what_they_sent_and_received(life: Life) -> None:
    """Records of httpx and httpcore come from this test's own clients — the visitors' browsers and the
    successors' CLI — not from the server (Baton's CLI sets up no logging: there they go nowhere). A
    client's records hold the URL it opened (a visitor's own link token) and the headers it received
    (its own session cookie); no other secret may be in them."""
    assert life.client_logs and any("HTTP Request: GET" in text for _name, text in life.client_logs)
    theirs = ("the web session cookies", *[c for c in CATEGORIES if c.endswith("link tokens")])
    others = [s for c in CATEGORIES if c not in theirs for s in life.secrets[c]]
    found = sorted({s.name for s in others for _name, text in life.client_logs if s.value in text.encode()})
    assert found == []
