"""Customer notices on SQLite and PostgreSQL: the ``notify_customers`` stage on the fake clock, the
customer's page (``/n/{token}``), what the successors fetch, and drills that tell only the owner."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select

from baton.http.app import create_app
from baton.jobs.outbox import Channel
from baton.jobs.worker import Worker
from baton.runtime import Runtime, build
from baton.services import notices
from baton.services.access import OwnerAccess
from baton.store import auditlog
from baton.store import links as stored_links
from baton.store.register import import_register
from baton.store.tables import notices as notices_table
from baton.store.tables import outbox, releases, switches
from baton.testing import FakeClock, RecordingSender
from handover import i18n
from handover.importing import sources
from tests_support import settings_for

POLICY: dict[str, Any] = {"interval": "10d", "grace": "0s",
                          "stages": [{"name": "customers", "after": "0d", "action": "notify_customers"}]}
PROFILE: dict[str, Any] = {"business": "Hosting Bali", "owner_name": "Wayan Sudirta", "event": "passed_away",
                           "successor": {"name": "Made", "email": "made@example.org", "role": "executor"},
                           "act_within_days": 30, "grace_days": 30, "backup_days": 30}
OWNER = "owner@example.org"

# ana (pt), budi (id), carla (it) and dan (no language: en) have e-mail; eko has none; fay has nothing
# with the business and gets no notice.
REGISTER = {
    "registrars": "id,name,ticket_email,reseller_move\n"
                  "rw,Rumahweb,support@rumahweb.example,yes\n"
                  "gd,GoDaddy,support@godaddy.example,no\n",
    "customers": "id,name,email,language\n"
                 "ana,Ana Souza,ana@example.org,pt\n"
                 "budi,Budi Santoso,budi@example.org,id\n"
                 "carla,Carla Rossi,carla@example.org,it\n"
                 "dan,Dan Smith,dan@example.org,\n"
                 "eko,Eko Prasetyo,,id\n"
                 "fay,Fay Idle,fay@example.org,en\n",
    "domains": "domain,customer,registrar,expires\n"
               "ana.com.br,ana,gd,2027-03-01\n"
               "budi.id,budi,rw,2027-05-01\n"
               "toko-budi.id,budi,gd,2027-06-01\n"
               "dan.com,dan,rw,2027-02-01\n"
               "eko.id,eko,rw,2027-04-01\n",
    "hosting": "id,customer,provider,paid_until,panel,price,currency,cycle,packaging\n"
               "h-budi,budi,upcloud,2026-12-31,cPanel,1200000,IDR,annually,individual\n"
               "h-carla,carla,upcloud,2026-06-30,Plesk,9.90,EUR,monthly,individual\n",
}
CONCERNED = ["ana", "budi", "carla", "dan", "eko"]
LANGUAGE = {"ana": "pt", "budi": "id", "carla": "it", "dan": "en", "eko": "id"}
SUBJECT = "Important: your domains and hosting with %(business)s"
BAD_ACCOUNT = "Expected an account id of letters, digits and . _ @ + - (at most 100 characters), got “%(got)s”."


def translated(language: str, msgid: str, **values: str) -> str:
    return i18n.translations(language).gettext(msgid) % values


@dataclass
class World:
    runtime: Runtime
    client: TestClient
    owner: int
    clock: FakeClock
    tmp: Path

    @property
    def engine(self) -> Any:
        return self.runtime.engine

    def worker(self) -> tuple[Worker, RecordingSender]:
        sender = RecordingSender()
        return self.runtime.worker({Channel.EMAIL: sender, Channel.APPRISE: sender}), sender

    def import_register(self, **files: str) -> None:
        folder = self.tmp / f"import-{len(list(self.tmp.glob('import-*')))}"
        folder.mkdir()
        for kind, text in files.items():
            (folder / f"{kind}.csv").write_text(text, encoding="utf-8")
        import_register(self.engine, self.owner, sources(sorted(folder.iterdir())), self.clock.now())

    def fire(self) -> dict[str, Any]:
        """Let the deadline pass: the switch fires and runs the customers stage; the mails by customer."""
        worker, sender = self.worker()
        self.clock.advance(days=10)
        worker.run_once()
        # As sent (the stored copies keep no live link once sent): by customer.
        sent = {m.dedup_key.rsplit("/", 1)[1].split(":")[0]: m for m in sender.sent if m.purpose == "notice"}
        assert sent.keys() == self.notice_mails().keys()
        for customer, stored in self.notice_mails().items():
            assert "/n/***" in stored.body_text and path_of(sent[customer]) not in stored.body_text
        return sent

    def notice_mails(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(outbox).where(outbox.c.purpose == "notice").order_by(outbox.c.id)).all()
        found: dict[str, Any] = {}
        for row in rows:
            customer = row.dedup_key.rsplit("/", 1)[1].split(":")[0]
            assert customer not in found, f"two notices to {customer}"
            found[customer] = row
        return found

    def notice_rows(self, customer: str | None = None) -> list[Any]:
        query = select(notices_table).order_by(notices_table.c.customer)
        if customer is not None:
            query = query.where(notices_table.c.customer == customer)
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def audit(self, kind: str) -> list[Any]:
        with self.engine.connect() as conn:
            return [e for e in auditlog.entries(conn, self.owner) if e.kind == kind]

    def audit_count(self) -> int:
        with self.engine.connect() as conn:
            return len(auditlog.entries(conn, self.owner))


@pytest.fixture
def world(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[World]:
    runtime = build(settings_for(db_url, data_dir=tmp_path / "server"), clock=clock)
    made = runtime.service.create_owner(OWNER, "correct horse battery", "Asia/Makassar", policy=POLICY)
    client = TestClient(create_app(runtime.service), base_url=runtime.settings.base_url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"
    world = World(runtime, client, made.owner.id, clock, tmp_path)
    world.import_register(**REGISTER)
    saved = client.put("/api/handover/profile", json=PROFILE)
    assert saved.status_code == 200, saved.text
    yield world
    client.close()
    runtime.engine.dispose()


def path_of_page(html: str) -> str:
    """The personal link printed on a notice."""
    (url,) = set(re.findall(r"http://baton\.test(/n/[A-Za-z0-9_\-]+)", html))
    return str(url)


def path_of(mail: Any) -> str:
    """The customer's page, from the link in their e-mail."""
    (url,) = set(re.findall(r"http://baton\.test(/n/[A-Za-z0-9_\-]+)", mail.body_text))
    return str(url)


@pytest.fixture
def fired(world: World) -> dict[str, Any]:
    return world.fire()


# -- the stage --------------------------------------------------------------------------------------
def test_every_concerned_customer_gets_one_notice_in_their_language(world: World, fired: dict[str, Any]) -> None:
    assert sorted(fired) == ["ana", "budi", "carla", "dan"]  # eko has no e-mail; fay has nothing with us
    for customer, mail in fired.items():
        language = LANGUAGE[customer]
        assert mail.recipient == f"{customer}@example.org" and mail.channel == "email"
        assert mail.subject == translated(language, SUBJECT, business="Hosting Bali")
        assert mail.body_text.strip() and f'<html lang="{language}">' in mail.body_html
        assert path_of(mail) in mail.body_html
    stored = world.notice_mails()
    assert all(m.sent_at is not None for m in stored.values())  # the worker delivered them
    assert len({m.subject for m in fired.values()}) == 4  # four languages, four wordings
    assert "Dear Budi Santoso" not in fired["budi"].body_text  # Indonesian, not English
    assert "budi.id" in fired["budi"].body_text and "ana.com.br" not in fired["budi"].body_text


def test_each_concerned_customer_has_a_notice_row_and_the_audit_counts_them(world: World,
                                                                           fired: dict[str, Any]) -> None:
    rows = world.notice_rows()
    assert [r.customer for r in rows] == CONCERNED
    assert {r.customer: r.language for r in rows} == LANGUAGE
    eko = world.notice_rows("eko")[0]
    assert eko.email is None and eko.answer is None and eko.read_at is None
    assert all(r.context["link"] is None for r in rows)  # the token lives only in the e-mail
    (entry,) = world.audit("handover.notified")
    assert entry.data["notices"] == 5 and entry.data["emailed"] == 4 and entry.data["without_email"] == 1
    assert entry.data["stage"] == "customers"
    with world.engine.connect() as conn:
        (release,) = conn.execute(select(releases)).all()
    assert release.id == entry.data["release"] and release.drill is False and release.stage == "customers"


def test_the_stage_runs_once_however_often_the_worker_runs_or_restarts(world: World, fired: dict[str, Any],
                                                                      db_url: str) -> None:
    worker, sender = world.worker()
    for _ in range(3):
        world.clock.advance(hours=6)
        worker.run_once()
    restarted = build(settings_for(db_url, data_dir=world.tmp / "server"), clock=world.clock)
    try:
        again = restarted.worker({Channel.EMAIL: RecordingSender()})
        again.run_once()
        with restarted.engine.connect() as conn:
            switch_id = conn.execute(select(switches.c.id).where(switches.c.owner_id == world.owner)).scalar_one()
        assert restarted.service.advance(switch_id) == 0
    finally:
        restarted.engine.dispose()
    assert [m.id for m in world.notice_mails().values()] == [m.id for m in fired.values()]
    assert len(world.notice_rows()) == 5
    assert len(world.audit("handover.notified")) == 1
    assert sender.sent == []


def test_a_check_in_before_the_stage_runs_sends_nothing(world: World) -> None:
    world.runtime.service.set_policy(world.owner, {**POLICY, "stages": [
        {"name": "customers", "after": "3d", "action": "notify_customers"}]})
    worker, _sender = world.worker()
    world.clock.advance(days=10, hours=1)
    worker.run_once()
    assert world.runtime.service.status(world.owner).status in ("fired", "released")
    world.runtime.service.check_in(world.owner)
    world.clock.advance(days=5)
    worker.run_once()
    assert world.notice_mails() == {} and world.notice_rows() == [] and world.audit("handover.notified") == []


def test_a_check_in_before_the_deadline_sends_nothing(world: World) -> None:
    worker, _sender = world.worker()
    world.clock.advance(days=9)
    world.runtime.service.check_in(world.owner)
    world.clock.advance(days=2)
    worker.run_once()
    assert world.notice_mails() == {} and world.notice_rows() == []
    assert notices.notice_status(world.engine, world.owner) == {"release": None, "notices": []}
    assert notices.printable(world.engine, world.runtime.settings, world.runtime.service.key, world.owner,
                             world.clock.now()) == []
    assert notices.handover_data(world.engine, world.owner, world.clock.now())["answers"] == {}


def test_a_customer_id_of_the_longest_allowed_length_gets_a_notice(world: World) -> None:
    """Ids may have 100 characters; the notice's link must still be written (PostgreSQL checks lengths)."""
    long_id = "x" * 100
    world.import_register(customers=f"id,name,email,language\n{long_id},Long Id,long@example.org,en\n",
                          domains=f"domain,customer,registrar,expires\nlong.com,{long_id},gd,2027-01-01\n")
    mails = world.fire()
    assert long_id in mails and mails[long_id].recipient == "long@example.org"


# -- the customer's page ------------------------------------------------------------------------------
def test_opening_the_page_shows_the_notice_in_the_customers_language_and_records_nothing(
        world: World, fired: dict[str, Any]) -> None:
    before = world.audit_count()
    for customer in ("budi", "carla", "dan"):
        page = world.client.get(path_of(fired[customer]))
        language = LANGUAGE[customer]
        assert page.status_code == 200
        assert page.headers["content-language"] == language and page.headers["cache-control"] == "no-store"
        assert f'<html lang="{language}">' in page.text
        assert translated(language, "Your answer") in page.text
    row = world.notice_rows("budi")[0]
    assert (row.read_at, row.answered_at, row.answer) == (None, None, None)
    assert world.audit_count() == before


def test_a_customers_page_never_shows_another_customers_domains(world: World, fired: dict[str, Any]) -> None:
    budi = world.client.get(path_of(fired["budi"])).text
    assert "budi.id" in budi and "toko-budi.id" in budi
    for other in ("ana.com.br", "dan.com", "eko.id", "Ana Souza", "carla"):
        assert other not in budi
    ana = world.client.get(path_of(fired["ana"])).text
    assert "ana.com.br" in ana and "budi.id" not in ana and "h-budi" not in ana


def test_a_bad_account_id_is_shown_next_to_its_field_with_what_was_typed(world: World,
                                                                        fired: dict[str, Any]) -> None:
    typed = 'dan "the man" <x>'
    before = world.audit_count()
    page = world.client.post(path_of(fired["dan"]), data={"read": "yes", "account:rw": typed, "note": "hello"})
    assert page.status_code == 422
    assert (f'<input id="account:rw" name="account:rw" value="{escape(typed)}" maxlength="100" '
            f'autocomplete="off" aria-invalid="true" aria-describedby="account:rw-error">') in page.text
    assert (f'<span id="account:rw-error" style="color:#b42318">{escape(BAD_ACCOUNT % {"got": typed})}</span>'
            in page.text)
    assert "Please correct the fields marked below; nothing was saved yet." in page.text
    assert ">hello</textarea>" in page.text and 'value="yes" checked' in page.text
    row = world.notice_rows("dan")[0]
    assert (row.read_at, row.answered_at, row.answer) == (None, None, None)
    assert world.audit_count() == before


def test_the_error_is_in_the_customers_language(world: World, fired: dict[str, Any]) -> None:
    page = world.client.post(path_of(fired["budi"]), data={"account:rw": "no spaces please"})
    assert page.status_code == 422
    assert escape(translated("id", BAD_ACCOUNT, got="no spaces please")) in page.text
    assert translated("id", "Please correct the fields marked below; nothing was saved yet.") in page.text


def test_a_good_answer_is_recorded_and_audited(world: World, fired: dict[str, Any]) -> None:
    answered_at = world.clock.now()
    page = world.client.post(path_of(fired["budi"]), data={
        "read": "yes", "account:rw": "budi.santoso", "hosting:h-budi": "budi@upcloud", "auth_code": "toko-budi.id",
        "note": "Refund to BCA 1234"})
    assert page.status_code == 200, page.text
    assert translated("id", "Thank you") in page.text and "budi.santoso" in page.text
    row = world.notice_rows("budi")[0]
    assert row.read_at == answered_at and row.answered_at == answered_at
    assert row.answer["accounts"] == {"rw": "budi.santoso"}
    assert row.answer["hosting_accounts"] == {"h-budi": "budi@upcloud"}
    assert row.answer["auth_codes_for"] == ["toko-budi.id"]
    assert (row.answer["customer"], row.answer["note"]) == ("budi", "Refund to BCA 1234")
    assert row.answer["read_at"] is not None and row.answer["answered_at"] is not None
    (entry,) = world.audit("handover.answered")
    assert entry.data == {"release": row.release_id, "customer": "budi", "read": True,
                          "accounts": ["rw"], "hosting": ["h-budi"], "auth_codes_for": ["toko-budi.id"]}
    assert "1234" not in json.dumps(entry.data)  # the note stays out of the audit log


def test_the_answer_can_be_changed_later_through_the_same_link(world: World, fired: dict[str, Any]) -> None:
    link = path_of(fired["budi"])
    first = world.clock.now()
    assert world.client.post(link, data={"read": "yes", "account:rw": "first-id"}).status_code == 200
    world.clock.advance(days=2)
    shown = world.client.get(link)
    assert shown.status_code == 200 and 'value="first-id"' in shown.text  # the last answer, to edit
    assert world.client.post(link, data={"account:rw": "second-id"}).status_code == 200
    row = world.notice_rows("budi")[0]
    assert row.answer["accounts"] == {"rw": "second-id"}
    assert row.read_at == first  # reading once is enough
    assert row.answered_at == world.clock.now()
    assert len(world.audit("handover.answered")) == 2


def test_an_auth_code_for_someone_elses_domain_is_refused(world: World, fired: dict[str, Any]) -> None:
    before = world.audit_count()
    page = world.client.post(path_of(fired["budi"]), data={"read": "yes", "auth_code": ["budi.id", "ana.com.br"]})
    assert page.status_code == 422
    assert "ana.com.br" not in page.text  # not even echoed back
    assert 'value="budi.id" checked' in page.text
    row = world.notice_rows("budi")[0]
    assert (row.read_at, row.answered_at, row.answer) == (None, None, None)
    assert world.audit_count() == before


def test_an_unknown_link_is_a_404_page(world: World, fired: dict[str, Any]) -> None:
    for response in (world.client.get("/n/not-a-token"), world.client.post("/n/not-a-token", data={"read": "yes"})):
        assert response.status_code == 404
        assert "<h1>This link cannot be used</h1>" in response.text
    url = OwnerAccess(world.runtime.service).add_requester(world.owner, "Made", "made@example.org")["url"]
    assert world.client.get(f"/n/{url.rsplit('/', 1)[1]}").status_code == 404  # a link of another purpose


def test_an_expired_link_is_a_410_page(world: World, fired: dict[str, Any]) -> None:
    link = path_of(fired["budi"])
    world.clock.advance(days=world.runtime.settings.notice_link_days - 1)
    assert world.client.get(link).status_code == 200
    world.clock.advance(days=1)
    for response in (world.client.get(link), world.client.post(link, data={"read": "yes"})):
        assert response.status_code == 410
        assert "<h1>This link has expired</h1>" in response.text
    assert world.notice_rows("budi")[0].answer is None


def test_a_registrar_and_a_hosting_provider_of_the_same_name_keep_their_own_accounts(world: World) -> None:
    world.import_register(hosting="id,customer,provider,paid_until\nh-dan,dan,rw,2026-12-31\n")
    mails = world.fire()
    assert world.client.post(path_of(mails["dan"]), data={"account:rw": "dan-domains",
                                                          "hosting:h-dan": "dan-hosting"}).status_code == 200
    page = world.client.get(path_of(mails["dan"])).text
    assert 'name="account:rw" value="dan-domains"' in page
    assert 'name="hosting:h-dan" value="dan-hosting"' in page


# -- for the owner and the successors ------------------------------------------------------------------
def test_handover_data_has_the_answers_and_no_link_or_secret(world: World, fired: dict[str, Any]) -> None:
    world.client.post(path_of(fired["budi"]), data={"read": "yes", "account:rw": "budi.santoso",
                                                    "auth_code": "toko-budi.id"})
    data = notices.handover_data(world.engine, world.owner, world.clock.now())
    assert sorted(data["answers"]) == ["budi"]
    answer = data["answers"]["budi"]
    assert set(answer) == {"customer", "read_at", "accounts", "auth_codes_for", "note", "answered_at",
                           "hosting_accounts"}
    assert answer["accounts"] == {"rw": "budi.santoso"} and answer["auth_codes_for"] == ["toko-budi.id"]
    assert data["release"]["drill"] is False and data["profile_set"] is True
    assert data["profile"]["business"] == "Hosting Bali" and data["owner_email"] == OWNER
    assert len(data["register"]["customers"]) == 6 and len(data["register"]["domains"]) == 5
    text = json.dumps(data)
    assert "/n/" not in text and "token" not in text and "auth_code\"" not in text
    for mail in fired.values():
        assert path_of(mail).rsplit("/", 1)[1] not in text
    over_api = world.client.get("/api/handover/data")
    assert over_api.status_code == 200 and over_api.json()["answers"] == json.loads(text)["answers"]


def test_the_notice_status_counts_who_was_told_read_and_answered(world: World, fired: dict[str, Any]) -> None:
    world.client.post(path_of(fired["budi"]), data={"read": "yes"})
    world.client.post(path_of(fired["dan"]), data={"note": "call me"})
    status = notices.notice_status(world.engine, world.owner)
    rows = {n["customer"]: n for n in status["notices"]}
    assert sorted(rows) == CONCERNED
    assert sum(1 for n in rows.values() if n["read_at"]) == 1
    assert sorted(c for c, n in rows.items() if n["answered_at"]) == ["budi", "dan"]
    assert rows["eko"]["email"] is None and rows["ana"]["language"] == "pt"
    assert world.client.get("/api/notices").json() == status


def test_the_printable_notices_are_one_page_per_customer_in_their_language(world: World,
                                                                          fired: dict[str, Any]) -> None:
    pages = dict(notices.printable(world.engine, world.runtime.settings, world.runtime.service.key, world.owner,
                                   world.clock.now()))
    assert sorted(pages) == CONCERNED
    for customer, html in pages.items():
        language = LANGUAGE[customer]
        assert f'<html lang="{language}">' in html
        assert translated(language, SUBJECT, business="Hosting Bali") in html
    assert "eko.id" in pages["eko"] and "budi.id" not in pages["eko"]
    # Each printed notice has a personal link of its own (eko has no e-mail: this is how eko answers),
    # another than the e-mailed one, leading to the same notice.
    printed = {c: path_of_page(html) for c, html in pages.items()}
    assert len(set(printed.values())) == 5 and printed["budi"] != path_of(fired["budi"])
    answered = world.client.post(printed["eko"], data={"read": "yes", "auth_code": "eko.id"})
    assert answered.status_code == 200, answered.text
    assert world.notice_rows("eko")[0].answer["auth_codes_for"] == ["eko.id"]
    assert world.client.get(printed["budi"]).text == world.client.get(path_of(fired["budi"])).text


# -- drills -------------------------------------------------------------------------------------------
def test_a_drill_mails_the_owner_one_sample_per_language_and_no_customer(world: World) -> None:
    done = world.client.post("/api/drill", json={})
    assert done.status_code == 200, done.text
    report = done.json()["notices"]
    assert report["notices"] == 5 and report["emailed"] == 4
    mails = world.notice_mails()
    assert {m.recipient for m in mails.values()} == {OWNER}
    assert sorted(LANGUAGE[c] for c in mails) == ["en", "id", "it", "pt"]  # one sample per language
    for customer, mail in mails.items():
        language = LANGUAGE[customer]
        assert mail.subject.startswith(f"[{translated(language, 'DRILL')}] ")
        assert mail.body_text.startswith(f"[DRILL] A sample of the notice customer {customer} ")
        assert "Nothing was sent to them." in mail.body_text
    with world.engine.connect() as conn:
        recipients = set(conn.execute(select(outbox.c.recipient)).scalars())
        drills = conn.execute(select(func.count()).select_from(releases).where(releases.c.drill.is_(True))).scalar()
    assert recipients == {OWNER} and drills == 1
    assert [r.customer for r in world.notice_rows()] == CONCERNED
    assert all(r.context["drill"] is True for r in world.notice_rows())
    status = notices.notice_status(world.engine, world.owner)
    assert status["release"]["drill"] is True
    stored = next(iter(mails.values()))  # the sample's link works (as it is sent), to try the page
    (link,) = re.findall(r"http://baton\.test(/n/[A-Za-z0-9_\-]+)",
                         stored_links.expand(world.runtime.service.key, stored.body_text))
    sample = world.client.get(link)
    assert sample.status_code == 200


def test_an_answer_is_redirected_to_a_page_that_names_no_internal_id(world: World, fired: dict[str, Any]) -> None:
    """POST, then redirect, then GET: Back or a reload never sends the answer again."""
    link = path_of(fired["budi"])
    shown = world.client.get(link)
    assert re.search(r"<h1>[^<]+</h1>", shown.text)  # the page has its heading
    posted = world.client.post(link, data={"read": "yes", "hosting:h-budi": "budi@upcloud"}, follow_redirects=False)
    assert (posted.status_code, posted.headers["location"]) == (303, "?answered=1")  # this page, relative
    done = world.client.get(f"{link}?answered=1")
    assert done.status_code == 200 and translated("id", "Thank you") in done.text and "budi@upcloud" in done.text
    assert "h-budi" not in done.text and f'href="{link}#answer"' in done.text
    assert world.client.get(f"{link}?answered=1").status_code == 200  # a reload only shows
    assert len(world.audit("handover.answered")) == 1
