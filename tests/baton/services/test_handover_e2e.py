"""The handover end to end, for real: import a register, fire a drill, receive the notices on an
SMTP server on the loopback in four languages, answer two of them through the page, build the
registrar requests and find the answered accounts in the move tickets; a domain still in its 60-day
lock gets no transfer request (and the README says until when), one that expires before anything can
be done is "renew first" in the calendar and the letter, and every date a person reads is the owner's
(the drill runs at 00:37 on 2 March in Makassar, still 1 March in UTC).

The API runs under uvicorn on 127.0.0.1 with its worker started (as ``baton serve`` runs them),
delivering through the real SMTP sender to aiosmtpd on 127.0.0.1; the owner's side is the
``baton`` command line, the customers' side plain HTTP to the links in the e-mails. The clock
is fake (the notice dates are fixed), the mail and the pages are not.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from smtp_server import Received, SmtpServer, free_port

from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.settings import get_settings
from tests_support import epp_schema, live_server, ok, run_cli, settings_for
from vault.document import Compartment, pack
from vault.entries import Entry
from vault.recovery import Recovered, write_opened

# The notice date. The worker's scheduler runs on real time and the service on a clock that starts
# here: a moment in the past makes the delivery wakes fire at once, and a ten-year interval keeps
# the switch's own next wake (on this clock) in the real future, so the worker does not spin on it.
NOW = datetime(2026, 3, 1, 16, 37, tzinfo=UTC)  # 00:37 on 2 March in the owner's zone (UTC+8)
ZONE = "Asia/Makassar"
OWNER = "owner@budihosting.example"
POLICY = {"interval": "3650d", "reminders": ["1d"], "grace": "2d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"},
                     {"name": "customers", "after": "21d", "audience": [], "action": "notify_customers"}]}
AUTH_CODE = "Kx9-Zq7&Pw3!mB"  # an ampersand: escaped in XML, and still found nowhere else
LOCKED_CODE = "Dm4-Locked-77"  # damai.co.id's code: in the vault, but its transfer request must wait
LUCA_ACCOUNT = "LUCA-BIANCHI-77"
BUDI_HOSTING_ACCOUNT = "budi.own@hostinger"
EPP = {"epp": "urn:ietf:params:xml:ns:epp-1.0", "domain": "urn:ietf:params:xml:ns:domain-1.0"}

REGISTER = {
    "registrars.csv": (
        "id,name,ticket_email,reseller_move,epp,reseller_account,documents,website\n"
        "domainregister,DomainRegister,support@domainregister.example,yes,no,DR-RESELLER-1001,"
        "death certificate;letter of administration,https://domainregister.example\n"
        "pandi,PANDI Registrar,,no,yes,PANDI-7,,https://pandi.example\n"),
    "customers.csv": (
        "id,name,email,language,country,company\n"
        "c1,Budi Santoso,budi@example.co.id,id,ID,\n"
        "c2,Ana Souza,ana@example.com.br,pt-BR,BR,\n"
        "c3,Luca Bianchi,luca@example.it,it,IT,Bianchi SRL\n"
        "c4,Joe Miller,joe@example.com,en,US,\n"
        "c5,Pierre Martin,pierre@example.fr,fr,FR,\n"),
    "domains.csv": (
        "domain,customer,registrar,expires,registrar_account,created,statuses,registrant\n"
        "bücher.co.id,c1,pandi,2027-02-01,,2020-05-01,clientTransferProhibited,customer\n"
        "damai.co.id,c1,pandi,2027-02-20,,2026-02-20,,customer\n"  # registered 10 days ago: locked to 21 April
        "loja-ana.com.br,c2,domainregister,2027-03-03,,2019-01-01,,customer\n"
        "Straße.de,c3,domainregister,2027-05-01,DR-RESELLER-1001,2018-04-01,clientTransferProhibited,reseller\n"
        "bianchi.it,c3,domainregister,2027-06-30,,2017-01-01,,customer\n"
        "joe-miller.com,c4,pandi,2027-08-08,,2021-01-01,,\n"
        "joe-shop.com,c4,domainregister,2026-03-06,,2016-03-06,,\n"  # expires in four days: renew first
        "pierre.fr,c5,domainregister,2027-09-09,,,,\n"),
    "hosting.csv": (
        "id,customer,provider,paid_until,panel,plan,price,currency,cycle,packaging,account,domain\n"
        "h1,c1,niagahoster,2027-01-31,cPanel,Bisnis,1200000,IDR,annually,pooled,,bücher.co.id\n"
        "h2,c1,hostinger,2026-03-31,cPanel,Premium,150000,IDR,monthly,individual,budi01,\n"
        "h3,c2,hostgator,2026-12-31,Plesk,Plano M,299.90,BRL,annually,pooled,,loja-ana.com.br\n"
        "h4,c3,aruba,2026-12-31,,Hosting Linux,59.90,EUR,annually,pooled,,bianchi.it\n"),
}
PROFILE = """\
business: Budi Hosting
owner_name: Budi Hartono
event: passed_away
successor: {name: Sari Hartono, email: sari@example.id, role: widow, phone: "+62 812 0000 1111"}
act_within_days: 30
grace_days: 30
backup_days: 30
settlement: refund
"""

# What each language's sample must say. The notice date is 2 March 2026: answers are due 30 days
# later (1 April 2026), pooled services stop at the end of the transition (1 May 2026), and the
# unused part of their prepaid year is refunded day by day:
#   h1  1 200 000 IDR × 275/365 days = 904 109.59 → 904 110 (IDR has no minor unit in CLDR)
#   h3     299.90 BRL × 244/365 days =    200.48
#   h4      59.90 EUR × 244/365 days =     40.04
SAMPLES: dict[str, dict[str, Any]] = {
    "id": {"customer": "c1", "subject": "[SIMULASI] Penting: domain dan hosting Anda di Budi Hosting",
           "dates": ["1 April 2026", "1 Februari 2027"], "money": "Rp904.110", "greeting": "Budi Santoso",
           "drill": "SIMULASI"},
    "pt": {"customer": "c2", "subject": "[SIMULAÇÃO] Importante: seus domínios e sua hospedagem com Budi Hosting",
           "dates": ["1 de abril de 2026", "3 de março de 2027"], "money": "R$\xa0200,48", "greeting": "Ana Souza",
           "drill": "SIMULAÇÃO"},
    "it": {"customer": "c3", "subject": "[SIMULAZIONE] Importante: i suoi domini e l'hosting presso Budi Hosting",
           "dates": ["1 aprile 2026", "1 maggio 2027"], "money": "40,04\xa0€", "greeting": "Luca Bianchi",
           "drill": "SIMULAZIONE"},
    "en": {"customer": "c4", "subject": "[DRILL] Important: your domains and hosting with Budi Hosting",
           "dates": ["April 1, 2026", "August 8, 2027"], "money": None, "greeting": "Joe Miller", "drill": "DRILL"},
}
NOTICE_LINK = re.compile(r"http://127\.0\.0\.1:\d+/n/[A-Za-z0-9_-]{20,}")


class TickingClock:
    """A clock that starts at ``start`` and moves on with real time.

    The dates stay fixed, and the worker's wakes behave: a frozen clock would set every wake to
    the same moment, and a wake whose job APScheduler skipped (its previous run still going) is
    never set again while the clock stands still.
    """

    def __init__(self, start: datetime) -> None:
        self.start, self.origin = start, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.origin)


@dataclass
class Live:
    """The service on the loopback: API, worker and SMTP server, and one owner's CLI home."""

    url: str
    runtime: Runtime
    smtp: SmtpServer
    token: str
    home: Path

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}) as client:
            response = client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()


@pytest.fixture
def live(db_url: str, smtp: SmtpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """uvicorn on 127.0.0.1 and a started worker that mails through the SMTP server; the CLI points at it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    runtime = build(settings_for(db_url, data_dir=tmp_path / "server", base_url=url, smtp_port=smtp.port,
                                 sweep_seconds=0.2), clock=TickingClock(NOW))
    made = runtime.service.create_owner(OWNER, "correct horse battery", ZONE, policy=POLICY)
    worker = runtime.worker()  # no senders given: the real SMTP sender
    home = tmp_path / "owner"
    home.mkdir()
    (home / "passphrase").write_text("a long owner passphrase\n")
    for name, value in {"BATON_URL": url, "BATON_TOKEN": made.api_token,
                        "BATON_CLIENT_CONFIG": str(home / "client.json"),
                        "BATON_VAULT_KEY": str(home / "vault-key.age"),
                        "BATON_PASSPHRASE_FILE": str(home / "passphrase"),
                        "BATON_DATA_DIR": str(home / "data")}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        with live_server(create_app(runtime.service), port):
            worker.start()
            try:
                yield Live(url, runtime, smtp, made.api_token, home)
            finally:
                worker.stop()
    finally:
        runtime.engine.dispose()
        get_settings.cache_clear()


baton = run_cli


def _notices_arrived(smtp: SmtpServer, count: int, timeout: float = 20.0) -> list[Received]:
    """The notice e-mails the SMTP server accepted, once ``count`` are there (polled, bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        got = [r for r in smtp.received if r.purpose == "notice"]
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def _schema_valid(path: Path) -> Any:
    root = etree.fromstring(path.read_bytes())
    schema = epp_schema()
    assert schema.validate(root), (path.name, schema.error_log)
    return root


def _opened_vault(folder: Path) -> Path:
    """An opened compartment as ``baton recover`` writes it, made with the vault's own code."""
    compartment = Compartment("domains")
    compartment.put(Entry("buecher-co-id", "auth_code", "bücher.co.id transfer code",
                          {"domain": "bücher.co.id", "code": AUTH_CODE, "registrar": "PANDI Registrar"},
                          "2026-02-20T10:00:00+00:00"))
    compartment.put(Entry("damai-co-id", "auth_code", "damai.co.id transfer code",
                          {"domain": "damai.co.id", "code": LOCKED_CODE, "registrar": "PANDI Registrar"},
                          "2026-02-20T10:00:00+00:00"))
    compartment.put(Entry("runbook", "note", "Runbook", {"text": "restart nginx"}, "2026-02-20T10:00:00+00:00"))
    folder.mkdir()
    return write_opened(Recovered("domains", pack(compartment), ["ana", "bruno"], True), folder)


def test_a_drill_reaches_customers_in_four_languages_and_their_answers_reach_the_move_tickets(
        live: Live, tmp_path: Path) -> None:
    """Import, profile, drill; four DRILL samples by SMTP; two answers through the pages; the requests
    built with the opened vault carry the answers (and the auth code only in the secret files)."""
    # -- the register, imported from a folder of CSV files ---------------------------------------------
    folder = tmp_path / "register"
    folder.mkdir()
    for name, text in REGISTER.items():
        (folder / name).write_text(text, encoding="utf-8")
    imported = ok(baton("register", "import", f"{folder}/"))
    assert imported.stdout == (
        "registrars: 2 new, 0 updated\n"
        "customers: 5 new, 0 updated\n"
        "domains: 8 new, 0 updated\n"
        "hosting: 4 new, 0 updated\n"
        "note: customers.csv, row 5: customer c5: language 'fr' is not supported; notices to them will be in "
        "English\n")
    assert ok(baton("register", "show")).stdout == "customers: 5\ndomains: 8\nhosting: 4\nregistrars: 2\n"

    # -- the calendar: joe-shop.com expires before the notices would reach Joe (the owner's 23 March) ----
    calendar = {row["ascii"]: row for row in csv.DictReader(io.StringIO(ok(baton("register", "calendar")).stdout))}
    assert calendar["joe-shop.com"]["must_do"] == ("renew first, by 2026-03-06 (it expires before the notices "
                                                   "would reach its customer on 2026-03-23), then it can move")
    assert calendar["damai.co.id"]["earliest_transfer"] == "2026-04-21"
    profile = tmp_path / "profile.yaml"
    profile.write_text(PROFILE, encoding="utf-8")
    assert ok(baton("handover", "profile", profile)).stdout == "handover profile saved\n"

    # -- the drill: the vault is empty, so it reports that, and still writes every notice -------------
    drill = baton("drill", "--out", tmp_path / "drill")
    assert drill.exit_code == 1, drill.output  # findings: exit code 1
    assert re.match(rf"drill (\d+): 0 packages in {re.escape(str(tmp_path / 'drill'))}\n", drill.stdout)
    assert "- the vault has no compartment\n" in drill.stdout

    # -- one sample per language reaches the owner over SMTP -------------------------------------------
    mails = _notices_arrived(live.smtp, 4)
    # (The standard library folds a long ASCII subject right after "Subject:", and its parser keeps
    # the space of that fold: mail clients drop it, and so does this test.)
    subjects = {m.subject.strip(): m for m in mails}
    assert sorted(subjects) == sorted(s["subject"] for s in SAMPLES.values()), list(subjects)
    assert len(mails) == 4 and all(m.envelope_to == (OWNER,) and m.to == OWNER for m in mails)
    by_language: dict[str, Received] = {}
    for language, sample in SAMPLES.items():
        mail = by_language[language] = subjects[sample["subject"]]
        assert mail.text is not None and mail.html is not None, language
        customer = sample["customer"]
        assert mail.text.startswith(f"[DRILL] A sample of the notice customer {customer} "), mail.text[:200]
        assert f"would receive, in {language}. Nothing was sent to them." in mail.text
        assert f'<html lang="{language}">' in mail.html
        for text in (mail.text, mail.html):
            assert sample["greeting"] in text, language
            assert f"{sample['drill']}: " in text, language  # the DRILL banner, in the customer's language
            for day in sample["dates"]:
                assert day in text, (language, day)
            if sample["money"]:
                assert sample["money"] in text, (language, sample["money"])
        [link] = set(NOTICE_LINK.findall(mail.text))
        assert f'href="{link}"' in mail.html
    assert {r.envelope_to for r in live.smtp.received} == {(OWNER,)}  # a drill mails no customer

    # -- two customers answer through their pages ------------------------------------------------------
    budi = NOTICE_LINK.findall(str(by_language["id"].text))[0]
    luca = NOTICE_LINK.findall(str(by_language["it"].text))[0]
    with httpx.Client(timeout=10) as web:
        page = web.get(luca)
        assert page.status_code == 200 and page.headers["content-language"] == "it"
        assert '<html lang="it">' in page.text and 'name="account:domainregister"' in page.text
        assert "Luca Bianchi" in page.text and "1 maggio 2027" in page.text
        page = web.get(budi)
        assert page.status_code == 200 and '<html lang="id">' in page.text
        assert 'name="auth_code" value="xn--bcher-kva.co.id"' in page.text
        # A GET records nothing.
        shown = ok(baton("notices", "status")).stdout
        assert "answered" not in shown and "\tread" not in shown, shown

        done = web.post(luca, data={"read": "yes", "account:domainregister": LUCA_ACCOUNT,
                                    "note": "Grazie, aspetto lo spostamento."}, follow_redirects=True)
        assert done.status_code == 200 and '<html lang="it">' in done.text, done.text[:500]
        assert LUCA_ACCOUNT in done.text
        done = web.post(budi, data={"read": "yes", "auth_code": ["xn--bcher-kva.co.id", "damai.co.id"],
                                    "hosting:h2": BUDI_HOSTING_ACCOUNT}, follow_redirects=True)
        assert done.status_code == 200 and '<html lang="id">' in done.text, done.text[:500]
        assert "bücher.co.id" in done.text

    status = ok(baton("notices", "status")).stdout.splitlines()
    assert re.fullmatch(r"release \d+ \(DRILL\) at 2026-03-01T16:\d\d:\d\d(\.\d+)?Z", status[0]), status[0]
    assert status[1:] == ["c1\tid\tbudi@example.co.id\tanswered", "c2\tpt\tana@example.com.br\tno answer yet",
                          "c3\tit\tluca@example.it\tanswered", "c4\ten\tjoe@example.com\tno answer yet",
                          "c5\ten\tpierre@example.fr\tno answer yet"]

    # -- the successors build the requests with the opened vault ---------------------------------------
    opened = _opened_vault(tmp_path / "opened")
    assert (opened / "vault.json").is_file()
    out = tmp_path / "requests"
    built = ok(baton("handover", "build", out, "--vault", opened.parent))
    assert built.stdout.splitlines()[1:] == ["answers from 2 of 5 customers; auth codes from the vault: 2 — DRILL",
                                             f"start with {out / 'README.md'}; every customer's answer, note "
                                             f"and refund: {out / 'customers.csv'}"]
    files = {p.relative_to(out).as_posix(): p for p in out.rglob("*") if p.is_file()}
    assert sorted(files) == [
        "README.md",
        "customers.csv",
        "domainregister/move-ticket.txt",
        "domainregister/succession-letter.html",
        "domainregister/succession-letter.txt",
        "hosting/aruba.txt",
        "hosting/hostgator.txt",
        "hosting/hostinger.txt",
        "hosting/niagahoster.txt",
        "pandi/auth-code-request.txt",
        "pandi/epp/damai.co.id-info.xml",
        "pandi/epp/damai.co.id-unlock.xml",
        "pandi/epp/xn--bcher-kva.co.id-info.xml",
        "pandi/epp/xn--bcher-kva.co.id-transfer.xml",
        "pandi/epp/xn--bcher-kva.co.id-unlock.xml",
        "pandi/succession-letter.html",
        "pandi/succession-letter.txt",
    ]
    assert built.stdout.startswith(f"{len(files)} files written to {out} (3 carry auth codes: keep them private)")

    table = {row["customer"]: row for row in csv.DictReader(io.StringIO(files["customers.csv"].read_text()))}
    assert sorted(table) == ["c1", "c2", "c3", "c4", "c5"]
    assert table["c3"]["registrar_accounts"] == f"domainregister: {LUCA_ACCOUNT}" and table["c3"]["answered"]
    assert table["c1"]["auth_codes_for"] == "damai.co.id; bücher.co.id (xn--bcher-kva.co.id)"
    assert table["c1"]["answered"] == "2026-03-02" and not table["c2"]["answered"]  # the owner's date
    assert table["c1"]["refund"].endswith(" IDR") and table["c1"]["settlement"] == "refund"

    ticket = files["domainregister/move-ticket.txt"].read_text()
    moving, _, waiting = ticket.partition("Not to move yet")
    assert f"- bianchi.it -> customer account {LUCA_ACCOUNT}\n" in moving
    assert f"- straße.de (xn--strae-oqa.de) -> customer account {LUCA_ACCOUNT}\n" in moving
    assert "please also change the registrant to the customer" in moving  # straße.de is in the reseller's name
    assert "loja-ana.com.br" not in moving and "pierre.fr" not in moving
    assert "- loja-ana.com.br (expires 2027-03-03)" in waiting and "- pierre.fr (expires 2027-09-09)" in waiting
    letter = files["domainregister/succession-letter.txt"].read_text()
    joe_shop = letter.partition("- joe-shop.com")[2].partition("\n- ")[0]
    assert "note: renew first, before 2026-03-06\n" in joe_shop
    assert "note: expires on 2026-03-06, before anything can be done about it on 2026-03-07: renew it first" in joe_shop
    assert "\nDate: 2026-03-02\n" in letter  # the owner's date (UTC's is still 1 March)
    assert "DR-RESELLER-1001" in ticket

    request = files["pandi/auth-code-request.txt"].read_text()
    assert "- bücher.co.id (xn--bcher-kva.co.id); expires 2027-02-01" in request
    assert "joe-miller.com" not in request
    hosting = files["hosting/hostinger.txt"].read_text()
    assert BUDI_HOSTING_ACCOUNT in hosting

    transfer = _schema_valid(files["pandi/epp/xn--bcher-kva.co.id-transfer.xml"])
    assert transfer.findtext(".//domain:authInfo/domain:pw", namespaces=EPP) == AUTH_CODE
    assert transfer.findtext(".//domain:name", namespaces=EPP) == "xn--bcher-kva.co.id"
    assert b"DRILL" in files["pandi/epp/xn--bcher-kva.co.id-transfer.xml"].read_bytes()
    for name in ("info", "unlock"):
        _schema_valid(files[f"pandi/epp/xn--bcher-kva.co.id-{name}.xml"])
    _schema_valid(files["pandi/epp/damai.co.id-info.xml"])
    _schema_valid(files["pandi/epp/damai.co.id-unlock.xml"])
    secret = {"pandi/epp/xn--bcher-kva.co.id-transfer.xml", "pandi/epp/xn--bcher-kva.co.id-info.xml",
              "pandi/epp/damai.co.id-info.xml"}
    for name, path in files.items():
        data = path.read_bytes()
        carries = any(code.encode() in data or code.replace("&", "&amp;").encode() in data
                      for code in (AUTH_CODE, LOCKED_CODE))
        assert carries == (name in secret), name
        assert (path.stat().st_mode & 0o077 == 0) == (name in secret), name
    readme = files["README.md"].read_text()
    assert readme.startswith("# DRILL: registrar and provider requests for Budi Hosting\n")
    assert ("- damai.co.id at PANDI Registrar: no transfer request yet: locked until 2026-04-21 (registered less "
            "than 60 days ago); build the requests again on or after 2026-04-21\n") in readme
    assert "bücher.co.id (xn--bcher-kva.co.id)" not in readme.partition("## Missing")[2].partition("## Files")[0]

    # -- the notices, printable, in the customers' languages -------------------------------------------
    printed = tmp_path / "printed"
    assert ok(baton("notices", "export", printed)).stdout == f"5 notices written to {printed}\n"
    pages = {p.name: p.read_text() for p in printed.iterdir()}
    assert sorted(pages) == [f"notice-{i:05d}-c{i}.html" for i in range(1, 6)]
    for i, (customer, language) in enumerate((("c1", "id"), ("c2", "pt"), ("c3", "it"), ("c4", "en"), ("c5", "en")),
                                             start=1):
        assert f'lang="{language}"' in pages[f"notice-{i:05d}-{customer}.html"], customer
    assert "1 April 2026" in pages["notice-00001-c1.html"] and "1 aprile 2026" in pages["notice-00003-c3.html"]
    # Each printed notice carries a personal link of its own, made for the print.
    assert all(len(re.findall(r"/n/[A-Za-z0-9_\-]{20,}", page)) >= 1 for page in pages.values())
