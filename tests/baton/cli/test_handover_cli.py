"""The handover commands against a live server on the loopback: bad imports and what they print,
re-imports, readiness, the renewal calendar, RDAP checks against a local RDAP server, and the
refusals of ``handover build``.

The API runs under uvicorn on 127.0.0.1 for the whole module, on a fake clock (readiness counts
from it); each test has an owner of its own. RDAP answers come from a ThreadingHTTPServer on
127.0.0.1 (``BATON_RDAP_URL``); nothing leaves the machine.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pexpect
import pytest
import sqlalchemy as sa

from baton.cli.progress import SETTING
from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.settings import get_settings
from baton.testing import FakeClock
from tests_support import live_server, ok, run_cli, settings_for

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# If the switch fired on NOW, the customers' stage would run 21 days later: notices would reach
# customers on 23 March 2026.
POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "2d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"},
                     {"name": "customers", "after": "21d", "audience": [], "action": "notify_customers"}]}
REACH = "2026-03-23"
_emails = count(1)

REGISTRARS = ("id,name,ticket_email,reseller_move,epp,reseller_account\n"
              "domainregister,DomainRegister,support@domainregister.example,yes,no,DR-1001\n"
              "pandi,PANDI Registrar,,no,yes,PANDI-7\n")
CUSTOMERS = ("id,name,email,language,country\n"
             "c1,Budi Santoso,budi@example.co.id,id,ID\n"
             "c2,Ana Souza,,pt,BR\n"
             "c3,Luca Bianchi,luca@example.it,it,IT\n")
DOMAINS = ("domain,customer,registrar,expires,created,last_transfer,statuses,registrant\n"
           "straße.de,c1,domainregister,2027-05-01,2018-04-01,,clientTransferProhibited,reseller\n"
           "bücher.co.id,c1,pandi,2027-02-01,2020-05-01,,,customer\n"
           "loja-ana.com.br,c2,domainregister,2026-03-20,2019-01-01,,,customer\n"
           "bianchi.it,c3,domainregister,2027-06-30,2017-01-01,2026-03-01,,customer\n")
HOSTING = ("id,customer,provider,paid_until,panel,price,currency,cycle,packaging\n"
           "h1,c1,hostinger,2027-01-31,cPanel,150000,IDR,monthly,individual\n"
           "h2,c3,aruba,2026-12-31,,59.90,EUR,annually,pooled\n")
REGISTER = {"registrars.csv": REGISTRARS, "customers.csv": CUSTOMERS, "domains.csv": DOMAINS,
            "hosting.csv": HOSTING}
SUMMARY = "customers: 3\ndomains: 4\nhosting: 2\nregistrars: 2\n"


@dataclass
class Served:
    url: str
    runtime: Runtime


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The API served by uvicorn on 127.0.0.1, in a thread, on a fake clock, for the whole module."""
    root = tmp_path_factory.mktemp("server")
    runtime = build(settings_for(f"sqlite:///{root}/baton.db", data_dir=root), clock=FakeClock(NOW))
    try:
        with live_server(create_app(runtime.service)) as url:
            yield Served(url, runtime)
    finally:
        runtime.engine.dispose()


@dataclass
class Owner:
    served: Served
    token: str
    home: Path

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        with httpx.Client(base_url=self.served.url, headers={"Authorization": f"Bearer {self.token}"}) as client:
            response = client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def expiries(self) -> dict[str, tuple[str, list[str]]]:
        listed = self.api("GET", "/api/register/domains")["domains"]
        return {d["unicode"]: (d["expires"], d["statuses"]) for d in listed}


@pytest.fixture
def owner(served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Owner]:
    """A new owner on the shared server; the CLI points at it, with a data folder of its own."""
    made = served.runtime.service.create_owner(f"owner{next(_emails)}@example.org", "correct horse battery",
                                               "Asia/Jakarta", policy=POLICY)
    home = tmp_path / "owner"
    home.mkdir()
    for name, value in {"BATON_URL": served.url, "BATON_TOKEN": made.api_token,
                        "BATON_CLIENT_CONFIG": str(home / "client.json"), "BATON_DATA_DIR": str(home / "data"),
                        "BATON_VAULT_KEY": str(home / "vault-key.age")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BATON_RDAP_URL", raising=False)
    get_settings.cache_clear()
    yield Owner(served, made.api_token, home)
    get_settings.cache_clear()


baton = run_cli


def _folder(parent: Path, name: str, files: dict[str, str]) -> Path:
    folder = parent / name
    folder.mkdir()
    for file, text in files.items():
        (folder / file).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def imported(owner: Owner, tmp_path: Path) -> Owner:
    """The owner with the register above imported."""
    ok(baton("register", "import", _folder(tmp_path, "register", REGISTER)))
    assert ok(baton("register", "show")).stdout == SUMMARY
    return owner


# -- import: all or nothing, every bad row named ------------------------------------------------------------
def test_a_bad_import_names_every_bad_row_and_changes_nothing(imported: Owner, tmp_path: Path) -> None:
    """A missing column, a bad date, an invalid domain, a duplicate, an unknown customer: exit code 2, each
    problem on its own line (file, row, column, expected, got), and the register as it was."""
    before = imported.expiries()
    bad = _folder(tmp_path, "bad", {
        "domains.csv": ("domain,customer,registrar,expires\n"
                        "bücher.co.id,c1,pandi,2030-01-01\n"  # a good row: not kept either
                        "bianchi.it,c3,domainregister,2027-13-01\n"
                        "exa mple..com,c3,domainregister,2027-01-01\n"
                        "neu.de,c1,domainregister,2027-01-01\n"
                        "NEU.de,c3,domainregister,2027-02-02\n"
                        "nobody.com,c9,pandi,2027-01-01\n"),
        "hosting.csv": "id,customer,provider,panel\nh9,c1,hostinger,cPanel\n",
    })
    result = baton("register", "import", bad)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "  domains.csv, row 2, column 'expires': expected a date as YYYY-MM-DD, got '2027-13-01'\n"
        "  domains.csv, row 3, column 'domain': expected a domain name with at least two non-empty labels (like "
        "example.com), got 'exa mple..com'\n"
        "  domains.csv, row 5, column 'domain': expected a domain not already in this import, got 'neu.de', already "
        "on row 4\n"
        "  domains.csv, row 6, column 'customer': expected the id of a customer in customers.csv or already in the "
        "register, got 'c9', which is neither\n"
        "  hosting.csv, column 'paid_until': expected a column 'paid_until' (the end of the paid period, "
        "YYYY-MM-DD), got no such column in the header\n"
        "error: import rejected, nothing was changed: 5 problems in 5 rows (HTTP 422)\n")
    assert result.stdout == ""
    assert ok(baton("register", "show")).stdout == SUMMARY
    assert imported.expiries() == before


def test_a_second_import_updates_in_place(imported: Owner, tmp_path: Path) -> None:
    """The same records again, one expiry changed: counted as updated, the change stored, nothing added."""
    again = dict(REGISTER, **{"domains.csv": DOMAINS.replace("bücher.co.id,c1,pandi,2027-02-01",
                                                            "bücher.co.id,c1,pandi,2028-02-01")})
    result = ok(baton("register", "import", _folder(tmp_path, "again", again)))
    assert result.stdout == ("registrars: 0 new, 2 updated\ncustomers: 0 new, 3 updated\n"
                             "domains: 0 new, 4 updated\nhosting: 0 new, 2 updated\n")
    assert ok(baton("register", "show")).stdout == SUMMARY
    assert imported.expiries()["bücher.co.id"][0] == "2028-02-01"


def test_a_file_whose_kind_cannot_be_told_is_refused(imported: Owner, tmp_path: Path) -> None:
    """``clients.csv`` is not one of the four names: exit code 2, the names it could have, nothing imported."""
    clients = tmp_path / "clients.csv"
    clients.write_text(CUSTOMERS.replace("c1,", "c7,"), encoding="utf-8")
    result = baton("register", "import", clients)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "  clients.csv, column '*': expected a CSV file named customers.csv, domains.csv, hosting.csv, "
        "registrars.csv, or a WHMCS export (.json), got a file whose kind cannot be told\n"
        "error: import rejected, nothing was changed: 1 problem in 1 row (HTTP 422)\n")
    notes = tmp_path / "customers.txt"
    notes.write_text(CUSTOMERS, encoding="utf-8")
    result = baton("register", "import", notes)
    assert result.exit_code == 2, result.output
    assert result.stderr == "error: files: expected .csv or .json files, got 'customers.txt' (HTTP 422)\n"
    assert ok(baton("register", "show")).stdout == SUMMARY


# -- readiness and the calendar ---------------------------------------------------------------------------
def test_readiness_lists_each_kind_of_finding_and_exits_1(imported: Owner) -> None:
    """The register's problems and the vault's, each with its subject and a fix; exit code 1."""
    result = baton("readiness", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (report["at"], report["notices_reach"]) == ("2026-03-02T08:00:00+00:00", REACH)
    assert [(f["kind"], f["subject"]) for f in report["findings"]] == [
        ("customer-no-email", "c2"),
        ("expires-before-release", "loja-ana.com.br"),  # expires on 20 March, before the notices reach
        ("hosting-no-panel", "h2"),
        ("no-profile", "profile"),
        ("reseller-registrant", "straße.de"),
        ("transfer-lock", "bianchi.it"),  # transferred on 1 March: locked until 30 April, past the notices
        ("vault", "vault"),
    ]
    assert all(f["what"] and f["fix"] for f in report["findings"])
    found = {f["kind"]: f for f in report["findings"]}
    assert found["expires-before-release"]["what"] == (
        f"loja-ana.com.br expires on 2026-03-20, before the notices would reach its customer ({REACH})")
    assert found["transfer-lock"]["what"] == (
        "bianchi.it could not be transferred away before 2026-04-30 (transferred recently)")
    assert found["vault"]["what"] == "the vault has no compartment"

    shown = baton("readiness")
    assert shown.exit_code == 1
    assert shown.stdout.startswith(f"if the switch fired now, customers would be told on {REACH}\n"
                                   "- customer c2 (Ana Souza) has no e-mail address: their notice could only be "
                                   "printed and posted\n  fix: add their e-mail to customers.csv and import it "
                                   "again\n")
    assert shown.stdout.endswith("\n7 findings\n")


def test_the_calendar_as_icalendar_and_as_csv(imported: Owner, tmp_path: Path) -> None:
    target = tmp_path / "renewals.ics"
    assert ok(baton("register", "calendar", "--format", "ics", "-o", target)).stdout == \
        f"calendar written to {target}\n"
    calendar = icalendar.Calendar.from_ical(target.read_bytes())
    assert str(calendar["VERSION"]) == "2.0"
    events = [(e.decoded("DTSTART"), str(e["SUMMARY"])) for e in calendar.walk("VEVENT")]
    assert events == [
        (date(2026, 3, 20), "loja-ana.com.br expires (DomainRegister)"),
        (date(2026, 3, 20), "Last day to renew loja-ana.com.br (DomainRegister)"),  # before the notices reach
        (date(2026, 4, 30), "bianchi.it: the transfer lock ends today"),
        (date(2026, 12, 31), "Hosting h2 is paid until today (aruba)"),
        (date(2027, 1, 31), "Hosting h1 is paid until today (hostinger)"),
        (date(2027, 2, 1), "bücher.co.id expires (PANDI Registrar)"),
        (date(2027, 5, 1), "straße.de expires (DomainRegister)"),
        (date(2027, 6, 30), "bianchi.it expires (DomainRegister)"),
    ]
    assert len({str(e["UID"]) for e in calendar.walk("VEVENT")}) == len(events)

    table = ok(baton("register", "calendar", "--format", "csv")).stdout
    header, *rows = list(csv.reader(io.StringIO(table)))
    assert header == ["kind", "name", "ascii", "customer", "customer_name", "registrar", "expires", "phase",
                      "earliest_transfer", "lock", "renew_by", "must_do"]
    assert sorted((r[0], r[2], r[6]) for r in rows) == [
        ("domain", "bianchi.it", "2027-06-30"), ("domain", "loja-ana.com.br", "2026-03-20"),
        ("domain", "xn--bcher-kva.co.id", "2027-02-01"), ("domain", "xn--strae-oqa.de", "2027-05-01"),
        ("hosting", "h1", "2027-01-31"), ("hosting", "h2", "2026-12-31")]
    must_do = {r[2]: r[11] for r in rows}
    assert must_do["loja-ana.com.br"] == ("renew first, by 2026-03-20 (it expires before the notices would reach "
                                          f"its customer on {REACH}), then it can move")
    assert must_do["xn--bcher-kva.co.id"] == "nothing: it can move now"

    wrong = baton("register", "calendar", "--format", "pdf")
    assert wrong.exit_code == 2
    assert wrong.stderr == "error: --format: expected csv or ics, got 'pdf'\n"


# -- domains check against an RDAP server on the loopback -------------------------------------------------
class _Rdap(BaseHTTPRequestHandler):
    server: RdapServer

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        ascii_name = self.path.rsplit("/domain/", 1)[-1]
        found = self.server.domains.get(ascii_name) if self.path.startswith("/rdap/domain/") else None
        if found is None:
            body, status = {"errorCode": 404, "title": "Not Found"}, 404
        else:
            expires, statuses, registrar = found
            body, status = {
                "objectClassName": "domain", "ldhName": ascii_name, "status": statuses,
                "events": [{"eventAction": "registration", "eventDate": "2018-04-01T10:00:00Z"},
                           {"eventAction": "expiration", "eventDate": f"{expires}T10:00:00Z"}],
                "entities": [{"objectClassName": "entity", "roles": ["registrar"],
                              "vcardArray": ["vcard", [["version", {}, "text", "4.0"],
                                                       ["fn", {}, "text", registrar]]]}],
                "rdapConformance": ["rdap_level_0"]}, 200
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/rdap+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with self.server.lock:
            self.server.asked.append(self.path)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the signature of http.server
        pass


class RdapServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Rdap)
        self.base = f"http://127.0.0.1:{self.server_address[1]}/rdap"
        self.lock = threading.Lock()
        self.asked: list[str] = []
        # What the registries publish (RFC 9083 words for statuses): all as in the register but straße.de,
        # renewed for a year and locked by its registrar.
        self.domains: dict[str, tuple[str, list[str], str]] = {
            "xn--strae-oqa.de": ("2028-05-01", ["client transfer prohibited", "client delete prohibited"],
                                 "DomainRegister"),
            "xn--bcher-kva.co.id": ("2027-02-01", ["active"], "PANDI Registrar"),
            "loja-ana.com.br": ("2026-03-20", ["active"], "DomainRegister"),
            "bianchi.it": ("2027-06-30", ["active"], "DomainRegister"),
        }


@pytest.fixture
def rdap(monkeypatch: pytest.MonkeyPatch) -> Iterator[RdapServer]:
    httpd = RdapServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("BATON_RDAP_URL", httpd.base)
    get_settings.cache_clear()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        get_settings.cache_clear()


def test_domains_check_reports_what_rdap_says_differently(imported: Owner, rdap: RdapServer) -> None:
    """Every domain is asked for by its ASCII name; only straße.de differs, and nothing is stored."""
    before = imported.expiries()
    result = ok(baton("domains", "check"))
    assert result.stdout == (
        "straße.de: expires: register says 2027-05-01, RDAP says 2028-05-01\n"
        "straße.de: statuses: register says clientTransferProhibited, RDAP says clientDeleteProhibited "
        "clientTransferProhibited\n"
        "4 domains: 3 as in the register, 1 differ, 0 not checked\n")
    assert sorted(rdap.asked) == ["/rdap/domain/bianchi.it", "/rdap/domain/loja-ana.com.br",
                                  "/rdap/domain/xn--bcher-kva.co.id", "/rdap/domain/xn--strae-oqa.de"]
    assert imported.expiries() == before

    report = json.loads(ok(baton("domains", "check", "--json")).stdout)
    assert report["updated"] == 0
    assert {d["domain"]: (d["differences"], d["error"]) for d in report["domains"]}["straße.de"] == (
        [{"field": "expires", "register": "2027-05-01", "rdap": "2028-05-01"},
         {"field": "statuses", "register": "clientTransferProhibited",
          "rdap": "clientDeleteProhibited clientTransferProhibited"}], None)


def test_domains_check_apply_stores_what_rdap_says(imported: Owner, rdap: RdapServer) -> None:
    """With --apply the register takes RDAP's expiry and statuses; a second check finds nothing to report."""
    result = ok(baton("domains", "check", "--apply"))
    assert result.stdout.endswith("\n4 domains: 3 as in the register, 1 differ, 0 not checked; 4 updated\n")
    after = imported.expiries()
    assert after["straße.de"] == ("2028-05-01", ["clientTransferProhibited", "clientDeleteProhibited"])
    assert after["bücher.co.id"] == ("2027-02-01", ["ok"])  # RDAP's "active" is EPP's "ok"
    assert ok(baton("domains", "check")).stdout == "4 domains: 4 as in the register, 0 differ, 0 not checked\n"


# -- handover build refusals --------------------------------------------------------------------------------
def test_handover_build_into_a_folder_with_files_is_refused(imported: Owner, tmp_path: Path) -> None:
    out = tmp_path / "requests"
    out.mkdir()
    (out / "mine.txt").write_text("the successor's own notes\n")
    result = baton("handover", "build", out, "--name", "Sari Hartono", "--role", "widow", "--email",
                   "sari@example.id")
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {out} is not empty; give a new or empty folder\n"
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


@pytest.mark.parametrize("profile", [None, {"business": "Budi Hosting", "owner_name": "Budi Hartono"}],
                         ids=["no-profile", "no-successor"])
def test_handover_build_without_a_successor_or_a_name_is_refused(imported: Owner, tmp_path: Path,
                                                                 profile: dict[str, str] | None) -> None:
    """Nobody to sign the requests: exit code 2, what to give, and no folder written."""
    if profile is not None:
        path = tmp_path / "profile.json"
        path.write_text(json.dumps(profile))
        assert ok(baton("handover", "profile", path)).stdout == "handover profile saved\n"
    out = tmp_path / "requests"
    result = baton("handover", "build", out)
    assert result.exit_code == 2, result.output
    assert result.stderr == ("error: who is asking? give --name, --role and --email (the profile names no "
                             "successor)\n")
    assert not out.exists()


# -- a WHMCS export through the CLI and the API -------------------------------------------------------------
WHMCS = {
    "clients": {"result": "success", "totalresults": 2, "clients": {"client": [
        {"id": 11, "firstname": "Budi", "lastname": "Santoso", "companyname": "", "email": "budi@example.id",
         "language": "indonesian", "countrycode": "ID", "currencycode": "IDR", "status": "Active"},
        {"id": 12, "firstname": "Ana", "lastname": "Souza", "companyname": "Loja", "email": "ana@example.com.br",
         "language": "portuguese-br", "countrycode": "BR", "currencycode": "BRL", "status": "Active"}]}},
    "domains": {"result": "success", "totalresults": 2, "domains": {"domain": [
        {"id": 1, "userid": 11, "domainname": "bücher.co.id", "registrar": "resellerclub", "regtype": "Register",
         "regdate": "2020-01-01", "expirydate": "2027-01-01", "status": "Active", "donotrenew": 0},
        {"id": 2, "userid": 12, "domainname": "loja.com.br", "registrar": "domainregister", "regtype": "Register",
         "regdate": "2019-03-01", "expirydate": "2027-03-01", "status": "Active", "donotrenew": 1}]}},
    "products": {"result": "success", "totalresults": 1, "products": {"product": [
        {"id": 7, "clientid": 11, "name": "Starter", "domain": "bücher.co.id", "servername": "sg1",
         "serverhostname": "sg1.example.net", "recurringamount": "150000.00", "billingcycle": "Monthly",
         "nextduedate": "2027-01-31", "status": "Active", "username": "buku", "password": "hunter2-SECRET"}]}},
}


def test_a_whmcs_export_imports_through_the_cli_and_keeps_no_password(owner: Owner, tmp_path: Path) -> None:
    """One merged WHMCS export file: customers, domains, hosting and registrars; the product password is dropped."""
    export = tmp_path / "whmcs-export.json"
    export.write_text(json.dumps(WHMCS), encoding="utf-8")
    result = ok(baton("register", "import", export))
    assert result.stdout.startswith("registrars: 2 new, 0 updated\ncustomers: 2 new, 0 updated\n"
                                    "domains: 2 new, 0 updated\nhosting: 1 new, 0 updated\n")
    assert ok(baton("register", "show")).stdout == "customers: 2\ndomains: 2\nhosting: 1\nregistrars: 2\n"
    domains = {d["unicode"]: d for d in httpx.get(f"{owner.served.url}/api/register/domains", headers={
        "Authorization": f"Bearer {owner.token}"}).json()["domains"]}
    assert domains["bücher.co.id"]["domain"] == "xn--bcher-kva.co.id" and domains["bücher.co.id"]["customer"] == "11"
    with owner.served.runtime.engine.connect() as conn:
        stored = " ".join(str(row) for table in ("customers", "domains", "hosting", "registrars", "register_imports")
                          for row in conn.execute(sa.text(f"SELECT * FROM {table}")))
    assert "hunter2" not in stored and "buku" in stored


def test_a_broken_whmcs_export_is_a_clear_error_not_a_server_error(owner: Owner, tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    export.write_text('{"clients": [', encoding="utf-8")
    result = baton("register", "import", export)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: export.json: expected WHMCS API JSON")
    assert "(HTTP 422)" in result.stderr


# -- issue 16: the profile's minimum, unchecked domains, WHMCS names, progress -----------------------------
def test_a_profile_with_no_transition_or_grace_is_refused_in_one_line(owner: Owner, tmp_path: Path) -> None:
    """act_within_days 0 would suspend and delete on the day of the notice: refused with the minimum and why."""
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({"business": "Budi Hosting", "owner_name": "Budi", "act_within_days": 0,
                                "grace_days": 0}))
    result = baton("handover", "profile", path)
    assert result.exit_code == 2, result.output
    assert result.stderr == ("error: act_within_days: expected at least 14 days (customers need time to read the "
                             "notice, open their own account and answer), got 0 (HTTP 422)\n")
    assert json.loads(ok(baton("handover", "profile")).stdout) is None


def test_domains_check_exits_1_when_a_domain_could_not_be_checked(imported: Owner, rdap: RdapServer) -> None:
    """Two domains the registry does not know: each listed, the rest still reported, and exit code 1."""
    del rdap.domains["bianchi.it"], rdap.domains["loja-ana.com.br"]
    result = baton("domains", "check")
    assert result.exit_code == 1, result.output
    assert "bianchi.it: not checked: not found at the registry (RDAP 404)\n" in result.stdout
    assert result.stdout.endswith("4 domains: 1 as in the register, 1 differ, 2 not checked\n")
    assert baton("domains", "check", "--json").exit_code == 1
    rdap.domains.clear()
    assert baton("domains", "check").exit_code == 1  # none of them: the same code


def test_whmcs_duplicates_and_unknown_clients_are_named_by_their_whmcs_field(owner: Owner, tmp_path: Path) -> None:
    export = json.loads(json.dumps(WHMCS))
    domains = export["domains"]["domains"]["domain"]
    domains.append(dict(domains[0], id=3))  # bücher.co.id again
    domains.append(dict(domains[1], id=4, domainname="nobody.com", userid=99))
    export["domains"]["totalresults"] = 4
    path = tmp_path / "whmcs-export.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    result = baton("register", "import", path)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "  whmcs-export.json (domains), row 3, column 'domainname': expected a domain not already in this import, "
        "got 'bücher.co.id', already on row 1\n"
        "  whmcs-export.json (domains), row 4, column 'userid': expected the id of a customer in the export's "
        "clients (GetClients) or already in the register, got '99', which is neither\n"
        "error: import rejected, nothing was changed: 2 problems in 2 rows (HTTP 422)\n")


def test_progress_stays_out_of_pipes(imported: Owner, rdap: RdapServer, tmp_path: Path) -> None:
    """Output that is not a terminal (the test runner's, a pipe, CI) gets the report and nothing else."""
    checked = ok(baton("domains", "check"))
    assert "asking RDAP" not in checked.output and "\x1b[" not in checked.output
    built = ok(baton("handover", "build", tmp_path / "requests", "--name", "Sari", "--email", "sari@example.id"))
    assert "building the requests" not in built.output and "\x1b[" not in built.output
    again = ok(baton("register", "import", _folder(tmp_path, "again", REGISTER)))
    assert "uploading" not in again.output and "\x1b[" not in again.output


def test_a_terminal_sees_progress_bars(imported: Owner, rdap: RdapServer, tmp_path: Path) -> None:
    """The real command in a pseudo-terminal draws its bar (on standard error), then prints its report."""
    command = str(Path(sys.executable).with_name("baton"))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop(SETTING, None)
    for args, bar, report in (
            (["domains", "check"], "asking RDAP", "4 domains: 3 as in the register"),
            (["handover", "build", str(tmp_path / "requests"), "--name", "Sari", "--email", "sari@example.id"],
             "building the requests", "files written to"),
            (["register", "import", str(_folder(tmp_path, "again", REGISTER))], "uploading the register",
             "domains: 0 new, 4 updated")):
        child = pexpect.spawn(command, args, env=env, encoding="utf-8", timeout=60)
        try:
            child.expect_exact(bar)
            child.expect_exact(report)
            child.expect(pexpect.EOF)
        finally:
            child.close()
        assert child.exitstatus == 0, (args, child.before)
