"""The owner's web pages: sign-in with password and TOTP, sessions, CSRF, lock-out, and each page's forms.

Forms are posted the way a browser does: the CSRF token is read from the page the form is on.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.services.accounts import NewOwner
from baton.store import links
from baton.store.links import Purpose
from baton.store.tables import web_sessions
from baton.testing import FakeClock
from tests_support import settings_for

PASSWORD = "correct horse battery"


@dataclass
class Site:
    runtime: Runtime
    clock: FakeClock
    owner: NewOwner
    other: NewOwner
    app: Any

    def client(self, address: str = "203.0.113.7") -> TestClient:
        """A browser at ``address``; every browser talks to the same running app (and its limits)."""
        return TestClient(self.app, client=(address, 50000))

    def code(self, who: NewOwner | None = None) -> str:
        secret = (who or self.owner).totp_secret
        assert secret is not None
        return pyotp.TOTP(secret).at(self.clock.now())

    def sign_in(self, client: TestClient, who: NewOwner | None = None, **fields: str) -> Response:
        who = who or self.owner
        self.clock.advance(seconds=30)  # a fresh TOTP code: each code works once
        form = {"email": who.owner.email, "password": PASSWORD, "totp": self.code(who),
                "csrf": csrf_of(client.get("/signin").text), **fields}
        return client.post("/signin", data=form, follow_redirects=False)

    def signed_in(self, who: NewOwner | None = None, address: str = "203.0.113.7") -> TestClient:
        client = self.client(address)
        assert self.sign_in(client, who).status_code == 303
        return client


@pytest.fixture
def site(db_url: str, clock: FakeClock) -> Iterator[Site]:
    runtime = build(settings_for(db_url), clock=clock)
    owner = runtime.service.create_owner("owner@example.org", PASSWORD, "Europe/Rome", totp=True)
    other = runtime.service.create_owner("other@example.org", PASSWORD, "America/New_York", totp=True)
    yield Site(runtime, clock, owner, other, create_app(runtime.service))
    runtime.engine.dispose()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def error_of(html: str, field: str) -> str:
    """The message shown next to a field (the element its aria-describedby points at)."""
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert found, f"no error shown next to {field}"
    return found.group(1)


def post(client: TestClient, page: str, action: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Response:
    form = {"csrf": csrf_of(client.get(page).text), **(data or {})}
    return client.post(action, data=form, follow_redirects=False, **kwargs)


# -- sign-in and sessions ------------------------------------------------------------------------

def test_every_owner_page_asks_for_sign_in_first(site: Site) -> None:
    client = site.client()
    for path in ("/", "/timeline", "/policy", "/people", "/register", "/readiness", "/drill"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == f"/signin?next={path}"


def test_signing_in_with_password_and_totp_opens_a_session_in_a_locked_down_cookie(site: Site) -> None:
    client = site.client()
    answer = site.sign_in(client, next="/policy")
    assert answer.status_code == 303 and answer.headers["location"] == "/policy"
    cookie = answer.headers["set-cookie"]
    assert "baton_session=bs_" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    dashboard = client.get("/")
    assert dashboard.status_code == 200 and "owner@example.org" in dashboard.text
    assert "Two-step sign-in is off" not in dashboard.text


def test_on_an_https_deployment_the_session_cookie_is_secure_and_host_only(db_url: str, clock: FakeClock) -> None:
    runtime = build(settings_for(db_url, base_url="https://baton.example"), clock=clock)
    made = runtime.service.create_owner("owner@example.org", PASSWORD, "Europe/Rome", totp=True)
    assert made.totp_secret is not None
    client = TestClient(create_app(runtime.service), base_url="https://baton.example")
    signin = client.get("/signin")
    assert "__Host-baton_signin=" in signin.headers["set-cookie"] and "Secure" in signin.headers["set-cookie"]
    answer = client.post("/signin", follow_redirects=False, data={
        "email": made.owner.email, "password": PASSWORD, "totp": pyotp.TOTP(made.totp_secret).at(clock.now()),
        "csrf": csrf_of(signin.text)})
    cookie = answer.headers["set-cookie"]
    assert answer.status_code == 303 and "__Host-baton_session=bs_" in cookie
    assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie and "Domain" not in cookie
    runtime.engine.dispose()


REFUSED = ("The email, the password or the authenticator code is not right (a code works once): "
           "please type them again.")


def test_a_wrong_password_is_refused_keeping_the_email_and_never_the_password(site: Site) -> None:
    client = site.client()
    answer = site.sign_in(client, password="wrong horse battery")
    assert answer.status_code == 401
    assert error_of_form(answer.text) == REFUSED
    assert 'value="owner@example.org"' in answer.text and "wrong horse battery" not in answer.text
    assert "baton_session" not in answer.headers.get("set-cookie", "")


def test_every_failed_sign_in_gets_one_answer_byte_for_byte(site: Site) -> None:
    """A wrong password with the right code, the right password with a wrong or a missing code, and an
    unknown address: the same status and the same page (the typed address aside), so nothing tells a
    guesser that the password was right."""
    client = site.client()
    csrf = csrf_of(client.get("/signin").text)  # one form, one nonce: the pages may differ only in what failed

    def attempt(email: str, password: str, code: str) -> Response:
        site.clock.advance(seconds=30)
        return client.post("/signin", data={"email": email, "password": password, "totp": code, "csrf": csrf},
                           follow_redirects=False)

    def wrong_code() -> str:
        return "000000" if site.code() != "000000" else "111111"

    email = site.owner.owner.email
    answers = {
        "wrong password, right code": attempt(email, "wrong horse battery", site.code()),
        "right password, wrong code": attempt(email, PASSWORD, wrong_code()),
        "right password, no code": attempt(email, PASSWORD, ""),
        "unknown e-mail": attempt("nobody@example.org", PASSWORD, site.code()),
    }
    bodies = {what: a.content.replace(b"nobody@example.org", email.encode()) for what, a in answers.items()}
    assert {a.status_code for a in answers.values()} == {401}
    assert len(set(bodies.values())) == 1, "the failed sign-ins are told apart by their pages"
    for what, answer in answers.items():
        assert error_of_form(answer.text) == REFUSED, what
        assert '<p class="error"' not in answer.text, what  # no field singled out
    assert site.sign_in(client).status_code == 303  # and the right three still sign in


def test_the_totp_code_is_checked_and_works_once(site: Site) -> None:
    client = site.client()
    code = site.code()
    assert site.sign_in(client, totp=code).status_code == 303
    replayed = site.sign_in(site.client("198.51.100.9"), totp=code)
    assert replayed.status_code == 401 and error_of_form(replayed.text) == REFUSED


def test_an_owner_without_an_authenticator_signs_in_with_the_password_and_is_told_to_add_one(site: Site) -> None:
    plain = site.runtime.service.create_owner("plain@example.org", PASSWORD, "Europe/Rome")
    client = site.client()
    answer = client.post("/signin", data={"email": "plain@example.org", "password": PASSWORD,
                                          "csrf": csrf_of(client.get("/signin").text)}, follow_redirects=False)
    assert answer.status_code == 303 and plain.totp_secret is None
    assert "Two-step sign-in is off for plain@example.org" in client.get("/").text


def test_empty_fields_are_named(site: Site) -> None:
    answer = site.sign_in(site.client(), email="", password="")
    assert answer.status_code == 422
    assert error_of(answer.text, "email") == "Email: please fill this in"
    assert error_of(answer.text, "password") == "Password: please fill this in"


def test_a_sign_in_form_without_its_token_or_from_another_site_is_refused(site: Site) -> None:
    client = site.client()
    client.get("/signin")
    no_token = client.post("/signin", data={"email": site.owner.owner.email, "password": PASSWORD,
                                            "totp": site.code()}, follow_redirects=False)
    assert no_token.status_code == 403 and "baton_session" not in no_token.headers.get("set-cookie", "")
    form = {"email": site.owner.owner.email, "password": PASSWORD, "totp": site.code(),
            "csrf": csrf_of(client.get("/signin").text)}
    cross = client.post("/signin", data=form, headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert cross.status_code == 403


def test_the_next_page_after_sign_in_stays_on_this_site(site: Site) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        answer = site.sign_in(site.client(), next=target)
        assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_signing_out_ends_the_session_for_good(site: Site) -> None:
    client = site.signed_in()
    cookie = client.cookies.get("baton_session")
    assert post(client, "/", "/signout").status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303
    replay = site.client()
    replay.cookies.set("baton_session", cookie or "")
    assert replay.get("/", follow_redirects=False).status_code == 303


def test_a_session_ends_after_two_idle_hours_and_after_twelve_in_any_case(site: Site) -> None:
    client = site.signed_in()
    site.clock.advance(minutes=119)
    assert client.get("/").status_code == 200
    site.clock.advance(minutes=121)
    assert client.get("/", follow_redirects=False).status_code == 303
    client = site.signed_in()
    for _ in range(13):
        site.clock.advance(minutes=59)
        client.get("/", follow_redirects=False)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sessions_left_open_are_swept_away_at_the_next_sign_in(site: Site) -> None:
    for _ in range(3):
        site.signed_in()
    site.clock.advance(hours=13)
    site.signed_in(site.other)
    with site.runtime.engine.connect() as conn:
        owners = conn.execute(select(web_sessions.c.owner_id)).scalars().all()
    assert owners == [site.other.owner.id]


# -- lock-out ------------------------------------------------------------------------------------

def test_failed_sign_ins_lock_the_account_but_never_the_owners_other_ways_to_check_in(site: Site) -> None:
    """Someone guessing the owner's password locks the web sign-in; the API token, the CLI and the
    reminder links still check in."""
    for number in range(5):
        attacker = site.client(f"198.51.100.{number}")
        assert site.sign_in(attacker, password=f"guess number {number}").status_code == 401
    locked = site.sign_in(site.client("203.0.113.50"))
    assert locked.status_code == 429 and "link or the CLI still works" in error_of_form(locked.text)
    api = site.client("198.51.100.1")
    assert api.post("/api/checkin", headers={"Authorization": f"Bearer {site.owner.api_token}"}).status_code == 200
    now = site.clock.now()
    with site.runtime.engine.begin() as conn:
        token = links.token(site.runtime.service.key, links.create(
                conn, site.owner.owner.id, Purpose.CHECKIN, now, expires_at=now + timedelta(days=1)))
    assert site.client("198.51.100.1").post(f"/l/{token}").status_code == 200
    site.clock.advance(minutes=16)
    assert site.sign_in(site.client("203.0.113.50")).status_code == 303


def test_failed_sign_ins_from_one_address_lock_that_address_only(site: Site) -> None:
    attacker = site.client("198.51.100.66")
    csrf = csrf_of(attacker.get("/signin").text)
    for number in range(10):  # ten accounts tried within the minute
        failed = attacker.post("/signin", data={"email": f"guess{number}@example.org", "password": PASSWORD,
                                                "csrf": csrf})
        assert failed.status_code == 401
    assert site.sign_in(attacker, site.other).status_code == 429
    assert site.sign_in(site.client("203.0.113.8"), site.other).status_code == 303


def error_of_form(html: str) -> str:
    found = re.search(r'<p class="alert" role="alert" id="form-error">([^<]*)</p>', html)
    assert found
    return found.group(1)


# -- CSRF on the owner's forms ---------------------------------------------------------------------

def test_checking_in_needs_the_sessions_own_token(site: Site) -> None:
    client = site.signed_in()
    other = site.signed_in(site.other, "203.0.113.9")
    before = site.runtime.service.status(site.owner.owner.id).deadline
    site.clock.advance(hours=1)
    for data in ({}, {"csrf": "0" * 64}, {"csrf": csrf_of(other.get("/").text)}):
        refused = client.post("/checkin", data=data, follow_redirects=False)
        assert refused.status_code == 403 and "did not come from Baton" in refused.text
    cross = post(client, "/", "/checkin", headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    sneaky = post(client, "/", "/checkin", headers={"Sec-Fetch-Site": "cross-site"})
    assert sneaky.status_code == 403
    assert site.runtime.service.status(site.owner.owner.id).deadline == before
    done = post(client, "/", "/checkin")
    assert done.status_code == 303 and done.headers["location"] == "/?checked_in=1"
    assert site.runtime.service.status(site.owner.owner.id).deadline == site.clock.now() + timedelta(days=30)


def test_every_owner_form_carries_a_csrf_token(site: Site) -> None:
    client = site.signed_in()
    for path in ("/", "/timeline", "/policy", "/people", "/register", "/readiness", "/drill"):
        html = client.get(path).text
        forms = re.findall(r"<form\b.*?</form>", html, flags=re.S)
        assert forms, path
        for form in forms:
            assert csrf_of(form) == csrf_of(html), f"a form on {path} has no token"


# -- the dashboard and the timeline ---------------------------------------------------------------

def test_the_dashboard_shows_the_deadline_in_the_owners_time_zone_and_a_countdown(site: Site) -> None:
    client = site.signed_in()
    html = client.get("/").text
    assert re.search(r'id="deadline">2026-01-31 10:00 CET<', html)  # created 2026-01-01 09:00 UTC, 30 days
    assert 'id="countdown">in 29 days, 23 hours<' in html  # the sign-in took 30 s of the fake clock
    site.clock.advance(minutes=90)
    assert 'id="countdown">in 29 days, 22 hours<' in client.get("/").text
    site.clock.advance(days=2, hours=4)  # longer than a session lives without a click
    client = site.signed_in()
    assert 'id="countdown">in 27 days, 18 hours<' in client.get("/").text
    post(client, "/", "/checkin")
    html = client.get("/?checked_in=1").text
    assert "Checked in." in html and 'id="countdown">in 30 days<' in html
    assert 'id="deadline">2026-02-02 15:31 CET<' in html


def test_the_timeline_lists_events_and_the_audit_log_verifies(site: Site) -> None:
    client = site.signed_in()
    site.clock.advance(hours=1)
    post(client, "/", "/checkin")
    html = client.get("/timeline").text
    assert "checkin" in html and "web.signin" in html
    assert re.search(r'id="audit-state">All \d+ entries are signed and chained', html)
    assert "other@example.org" not in html


# -- the policy ----------------------------------------------------------------------------------

def policy_form(client: TestClient, **changes: str) -> dict[str, str]:
    html = client.get("/policy").text
    values = {name: value for name, value in re.findall(r'<input type="text" id="(\w+)" name="\w+" value="([^"]*)"',
                                                        html)}
    values.update({name: text for name, text in re.findall(r'<textarea id="(\w+)"[^>]*>([^<]*)</textarea>', html)})
    values.update({name: value for name, value in re.findall(
        r'<select id="(\w+)".*?<option value="([^"]*)" selected>', html, flags=re.S)})
    values.update(changes)
    return values


def test_a_wrong_policy_field_is_shown_next_to_it_with_what_was_typed_and_nothing_is_saved(site: Site) -> None:
    client = site.signed_in()
    before = site.runtime.service.get_policy(site.owner.owner.id)
    answer = post(client, "/policy", "/policy", {**policy_form(client, reminders="7d, 40d"), "action": "save"})
    assert answer.status_code == 422
    assert error_of(answer.text, "reminders") == (
        "Reminder 2 (40d) is not shorter than the interval (30d): a reminder comes that long before the deadline, "
        "so it must be shorter than 30d.")
    assert 'value="7d, 40d"' in answer.text and "nothing was saved" in answer.text
    assert site.runtime.service.get_policy(site.owner.owner.id) == before


def test_a_policy_preview_shows_the_timeline_without_saving(site: Site) -> None:
    client = site.signed_in()
    before = site.runtime.service.get_policy(site.owner.owner.id)
    answer = post(client, "/policy", "/policy", {**policy_form(client, interval="14d", grace="2d",
                                                                grace_reminder_every=""), "action": "preview"})
    assert answer.status_code == 200 and "(not saved yet)" in answer.text
    preview = answer.text[answer.text.index('id="preview"'):]
    assert "2026-01-15 10:00 CET" in preview and "deadline" in preview  # 14 days from now, Rome time
    assert "2026-01-17 10:00 CET" in preview and "fired" in preview
    assert site.runtime.service.get_policy(site.owner.owner.id) == before


def test_saving_a_policy_with_verifiers_and_stages_stores_it(site: Site) -> None:
    client = site.signed_in()
    answer = post(client, "/policy", "/policy", {**policy_form(
        client, interval="21d", confirm_window="3d", verifiers="Ana <ana@example.org>\nMarco", quorum="1",
        stages="heirs, 0d, release, Ana\ncustomers, 7d, notify_customers"), "action": "save"})
    assert answer.status_code == 200 and "Saved." in answer.text, re.findall(r"class=\"error\"[^<]*<", answer.text)
    stored = site.runtime.service.get_policy(site.owner.owner.id)
    assert stored["interval"] == "21d"
    # The verifiers are People entries now, named by their ids (a stage's audience too).
    assert stored["confirm"] == {"window": "3d", "quorum": 1, "verifiers": ["ana", "marco"]}
    assert [(s["name"], s["after"], s["action"], s["audience"]) for s in stored["stages"]] == [
        ("heirs", "0d", "release", ["ana"]), ("customers", "7d", "notify_customers", [])]
    people = {p["name"]: (p["display_name"], p["email"]) for p in site.client().get(
        "/api/people", headers={"Authorization": f"Bearer {site.owner.api_token}"}).json()}
    assert people == {"ana": ("Ana", "ana@example.org"), "marco": ("Marco", None)}
    again = policy_form(client)
    assert again["verifiers"] == "ana &lt;ana@example.org&gt;\nmarco" and again["quorum"] == "1"


def test_a_verifier_without_an_address_is_saved_with_a_warning_and_flagged_by_readiness(site: Site) -> None:
    """Marco has no e-mail: the policy saves, the page says nobody can ask him (and, with a quorum of 2 and one
    address, that answers can never fire early); readiness lists him until he has an address."""
    client = site.signed_in()
    answer = post(client, "/policy", "/policy", {**policy_form(
        client, interval="21d", confirm_window="3d", verifiers="Ana <ana@example.org>\nMarco", quorum="2"),
        "action": "save"})
    assert answer.status_code == 200 and "Saved." in answer.text
    warning = re.search(r'<div class="warning" id="unaskable">(.*?)</div>', answer.text, re.S)
    assert warning, answer.text
    assert ("<strong>A verifier without an e-mail address:</strong> nobody can ask them, so they can never answer. "
            "Give each an address on their line, like “Marco &lt;marco@example.org&gt;”.") in warning.group(1)
    assert "<li>Marco</li>" in warning.group(1)
    assert ("Only 1 can be asked, fewer than the quorum of 2: their answers can never fire the switch early; it "
            "fires when the window ends.") in warning.group(1)
    assert 'id="unaskable"' in client.get("/policy").text  # still said while the policy has it
    assert "verifier marco in the policy has no e-mail address" in client.get("/readiness").text
    fixed = post(client, "/policy", "/policy", {**policy_form(
        client, interval="21d", confirm_window="3d", verifiers="Ana <ana@example.org>\nMarco <m@example.org>",
        quorum="2"), "action": "save"})
    assert "Saved." in fixed.text and 'id="unaskable"' not in fixed.text
    assert "verifier Marco" not in client.get("/readiness").text


def test_a_stage_line_that_cannot_be_read_says_what_was_expected(site: Site) -> None:
    client = site.signed_in()
    answer = post(client, "/policy", "/policy", {**policy_form(client, stages="just a name"), "action": "save"})
    assert error_of(answer.text, "stages") == ("Stage on line 1: it should be &#39;name, after, action, "
                                               "audience&#39; like &#39;heirs, 0d, release&#39;, not “just a name”.")


# -- people --------------------------------------------------------------------------------------

def test_adding_a_person_validates_each_field_and_keeps_what_was_typed(site: Site) -> None:
    client = site.signed_in()
    bad_name = post(client, "/people", "/people", {"name": "Ana Maria!", "display_name": "Ana Maria",
                                                    "email": "ana@example.org", "language": "pt", "role": "heir"})
    assert bad_name.status_code == 422 and error_of(bad_name.text, "name").startswith("person name: ")
    assert 'value="Ana Maria!"' in bad_name.text and '<option value="pt" selected>' in bad_name.text
    no_email = post(client, "/people", "/people", {"name": "ana", "language": "pt", "role": "heir"})
    assert error_of(no_email.text, "email") == "email: a holder needs an address for the enrolment link"
    bad_email = post(client, "/people", "/people", {"name": "ana", "email": "ana at example", "role": "heir"})
    assert error_of(bad_email.text, "email") == "email: expected an e-mail address, got &#39;ana at example&#39;"
    people = site.client().get("/api/people", headers={"Authorization": f"Bearer {site.owner.api_token}"})
    assert people.json() == []
    added = post(client, "/people", "/people", {"name": "ana", "display_name": "Ana Souza",
                                                "email": "ana@example.org", "language": "pt", "role": "heir"})
    assert added.status_code == 200 and "ana was added. An enrolment link is on its way" in added.text
    assert "Ana Souza" in added.text and "no key yet" in client.get("/people").text



def test_the_people_page_shows_the_fingerprint_holders_check_packages_against(site: Site) -> None:
    """The deployment key's fingerprint, as the holders' e-mails and key cards show it."""
    from vault.signature import public_pem
    expected = hashlib.sha256(base64.b64decode("".join(public_pem(
        bytes.fromhex(site.runtime.service.signer.public_hex)).splitlines()[1:-1]))).hexdigest()
    html = site.signed_in().get("/people").text
    assert f'<code id="fingerprint">{expected}</code>' in html


# -- register, readiness, drills --------------------------------------------------------------------

CUSTOMERS = "id,name,email,language\nana,Ana Souza,ana@example.org,pt\n"
DOMAINS = "domain,customer,registrar,expires\nana.com.br,ana,gd,2027-03-01\n"
REGISTRARS = "id,name,ticket_email,reseller_move\ngd,GoDaddy,support@godaddy.example,no\n"


def upload(client: TestClient, **files: str) -> Response:
    csrf = csrf_of(client.get("/register").text)
    parts = [("files", (f"{name}.csv", io.BytesIO(text.encode()), "text/csv")) for name, text in files.items()]
    return client.post("/register", data={"csrf": csrf}, files=parts, follow_redirects=False)


def test_a_register_upload_with_bad_rows_lists_each_one_and_changes_nothing(site: Site) -> None:
    client = site.signed_in()
    answer = upload(client, customers=CUSTOMERS, registrars=REGISTRARS,
                    domains=DOMAINS + "bad domain!,ana,gd,2027-03-01\nok.example,nobody,gd,someday\n")
    assert answer.status_code == 422 and "Nothing was imported" in answer.text
    rows = re.findall(r'<tr><td data-label="File">domains.csv</td><td data-label="Row">(\d+)</td>'
                      r'<td data-label="Column">(\w+)</td>', answer.text)
    assert ("2", "domain") in rows and ("3", "expires") in rows  # row 1 is the first under the header
    assert "<strong>0</strong> customers" in client.get("/register").text


def test_a_good_register_upload_reports_what_it_imported(site: Site) -> None:
    client = site.signed_in()
    answer = upload(client, customers=CUSTOMERS, registrars=REGISTRARS, domains=DOMAINS)
    assert answer.status_code == 200 and "Imported." in answer.text
    assert "<strong>1</strong> customers, <strong>1</strong> domains" in answer.text
    nothing = post(client, "/register", "/register")
    assert nothing.status_code == 422 and error_of(nothing.text, "files").startswith("files: choose at least one")


def test_the_readiness_page_lists_findings_with_what_to_do(site: Site) -> None:
    client = site.signed_in()
    upload(client, customers=CUSTOMERS, registrars=REGISTRARS, domains=DOMAINS)
    html = client.get("/readiness").text
    assert 'id="findings"' in html and "no stage of the switch has the action notify_customers" in html


def test_a_drill_from_the_page_shows_its_report_and_lists_it_afterwards(site: Site) -> None:
    client = site.signed_in()
    answer = post(client, "/drill", "/drill")
    assert answer.status_code == 200 and 'id="report"' in answer.text
    found = re.search(r"<h2>Drill (\d+): things to fix</h2>", answer.text)  # no vault yet: a warning
    assert found and found.group(1) == "1" and 'class="warning"' in answer.text
    assert '<tr><td data-label="Drill">1</td>' in client.get("/drill").text
    other = site.signed_in(site.other, "203.0.113.9")
    assert 'data-label="Drill"' not in other.get("/drill").text
    assert "Drill 1:" in post(other, "/drill", "/drill").text  # each owner counts their own drills
    assert "Drill 2:" in post(client, "/drill", "/drill").text
    numbers = re.findall(r'<td data-label="Drill">(\d+)</td>', client.get("/drill").text)
    assert numbers == ["2", "1"]


# -- one owner against another ----------------------------------------------------------------------

def test_an_owner_signed_in_never_sees_another_owners_data(site: Site) -> None:
    client = site.signed_in(site.other, "203.0.113.9")
    mine = site.signed_in()
    upload(mine, customers=CUSTOMERS, registrars=REGISTRARS, domains=DOMAINS)
    post(mine, "/people", "/people", {"name": "ana", "email": "ana.souza@heirs.example", "role": "heir",
                                      "language": "pt"})
    for path in ("/", "/timeline", "/policy", "/people", "/register", "/readiness", "/drill"):
        html = client.get(path).text
        for secret_of_a in ("owner@example.org", "ana.souza@heirs.example", "ana.com.br"):
            assert secret_of_a not in html, (path, secret_of_a)
    assert client.get("/drill/1/packages/1").status_code == 404


def test_the_dashboard_lists_each_witness_its_heartbeat_version_and_problem(site: Site) -> None:
    """Each linked witness on the dashboard: its address, last heartbeat (in the owner's zone), last synced
    version, and the problem it had in words; none of it for an owner with no witness."""
    from baton.store.tables import witness_links
    now = site.clock.now()
    with site.runtime.engine.begin() as conn:
        conn.execute(witness_links.insert().values(owner_id=site.owner.owner.id, url="https://w1.example.net",
                                                   witness_public="ab" * 32, remote_id=1, rank=0, silence_seconds=60,
                                                   seq=3, created_at=now, beat_at=now, synced_version=7))
        conn.execute(witness_links.insert().values(owner_id=site.owner.owner.id, url="https://w2.example.net",
                                                   witness_public="cd" * 32, remote_id=2, rank=1, silence_seconds=60,
                                                   seq=1, created_at=now, problem="refuses new versions: out of disk",
                                                   problem_at=now))
    page = site.signed_in().get("/").text
    section = page[page.index('<section id="witnesses">'):page.index("</section>", page.index('id="witnesses"'))]
    first, second = section.split("<li>")[1:]
    assert "https://w1.example.net" in first and "synced version 7" in first and "never" not in first
    assert "https://w2.example.net" in second and "last heartbeat never" in second and "synced version none" in second
    assert "refuses new versions: out of disk" in second
    assert 'id="witnesses"' not in site.signed_in(site.other).get("/").text
