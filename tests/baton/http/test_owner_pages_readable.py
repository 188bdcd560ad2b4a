"""The owner's pages as a person reads them: every policy mistake at once in plain words, what was typed
echoed back capped, events in words and local times, tables that stack on a phone and scroll boxes a
keyboard reaches, drills numbered per owner, re-sending an enrolment link, readiness from one simulated
moment, pages (not JSON) for a browser's 404 and 405, and the first-run hint of an empty install."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_owner_pages import PASSWORD, Site, error_of, policy_form, post

from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.store.links import Purpose
from baton.store.tables import audit_entries, links, outbox
from baton.testing import FakeClock
from tests_support import settings_for

ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@pytest.fixture
def site(db_url: str, clock: FakeClock) -> Iterator[Site]:
    """Two owners with TOTP, the app, signed in as ``test_owner_pages`` does."""
    runtime = build(settings_for(db_url), clock=clock)
    owner = runtime.service.create_owner("owner@example.org", PASSWORD, "Europe/Rome", totp=True)
    other = runtime.service.create_owner("other@example.org", PASSWORD, "America/New_York", totp=True)
    yield Site(runtime, clock, owner, other, create_app(runtime.service))
    runtime.engine.dispose()


def test_every_policy_mistake_is_shown_at_once_next_to_its_field_in_plain_words(site: Site) -> None:
    client = site.signed_in()
    before = site.runtime.service.get_policy(site.owner.owner.id)
    answer = post(client, "/policy", "/policy", {**policy_form(
        client, reminders="7d, 45d, soon", grace="9999999d", timezone="Mars/Base",
        stages="heirs, 0d, release\njust a name\nlate, 99999999d, notify"), "action": "save"})
    assert answer.status_code == 422
    assert error_of(answer.text, "reminders") == (
        "Reminder 2 (45d) is not shorter than the interval (30d): a reminder comes that long before the deadline, "
        "so it must be shorter than 30d.\nReminder 3: “soon” is not a duration. Write a duration like 30d (days), "
        "2w (weeks), 36h (hours) or 90m (minutes).")
    assert error_of(answer.text, "grace") == \
        "Grace after the deadline (9999999d) is too long: the most Baton accepts is 3650d (ten years)."
    assert error_of(answer.text, "timezone") == \
        "Time zone: it should be an IANA time zone like Europe/Rome, not “Mars/Base”."
    assert error_of(answer.text, "stages").splitlines() == [
        "Stage on line 2: it should be &#39;name, after, action, audience&#39; like &#39;heirs, 0d, release&#39;, "
        "not “just a name”.",
        "Stage on line 3, its delay (99999999d) is too long: the most Baton accepts is 3650d (ten years)."]
    start = answer.text.index('id="problems"')
    summary = answer.text[start:answer.text.index("</div>", start)]
    assert "These 4 need correcting; nothing was saved." in summary
    assert [name for name in re.findall(r'<a href="#(\w+)">', summary)] == ["timezone", "reminders", "grace", "stages"]
    assert site.runtime.service.get_policy(site.owner.owner.id) == before


def test_what_was_typed_is_echoed_back_capped(site: Site) -> None:
    client = site.signed_in()
    normal = len(client.get("/policy").text)
    answer = post(client, "/policy", "/policy", {**policy_form(client, interval="9" * 200_000), "action": "save"})
    assert answer.status_code == 422
    assert error_of(answer.text, "interval") == "Interval: at most 200 characters fit here; what was typed has 200,000."
    assert f'value="{"9" * 200}…"' in answer.text
    assert len(answer.text) < normal + 2_000  # not 400 KB


def test_the_preview_button_lands_on_the_preview_and_a_wrong_preview_lists_what_to_fix_there(site: Site) -> None:
    client = site.signed_in()
    html = client.get("/policy").text
    assert re.search(r'<button type="submit" name="action" value="preview" class="plain" formaction="/policy#preview">',
                     html)
    good = post(client, "/policy", "/policy", {**policy_form(client, interval="14d"), "action": "preview"})
    assert '<section id="preview"' in good.text and "(not saved yet)" in good.text
    bad = post(client, "/policy", "/policy", {**policy_form(client, interval="14 days"), "action": "preview"})
    preview = bad.text[bad.text.index('<section id="preview"'):]
    assert bad.status_code == 422 and "No preview yet" in preview and "“14 days” is not a duration" in preview


def test_a_bound_on_the_page_and_on_the_api_is_a_422_never_a_500(site: Site) -> None:
    client = site.signed_in()
    page = post(client, "/policy", "/policy", {**policy_form(client, interval="9999999d"), "action": "save"})
    assert page.status_code == 422
    api = TestClient(site.app).put("/api/policy", json={"interval": "9999999d"},
                                   headers={"Authorization": f"Bearer {site.owner.api_token}"})
    assert (api.status_code, api.json()) == (422, {"detail": "policy field `interval`: expected at most 3650d, "
                                                             "got '9999999d'"})


def test_events_read_in_words_and_in_the_owners_time_zone(site: Site) -> None:
    site.clock.advance(days=31, hours=7)  # the default policy: reminders, the deadline, a grace reminder
    while site.runtime.service.advance_next() is not None:
        pass
    client = site.signed_in()
    preview = post(client, "/policy", "/policy", {**policy_form(client), "action": "preview"}).text
    timeline = client.get("/timeline").text
    for html in (client.get("/").text, timeline, preview):
        main = html[html.index("<main>"):]
        assert ISO_MOMENT.search(main) is None, ISO_MOMENT.search(main)
    events = re.search(r'<table id="timeline".*?</table>', timeline, flags=re.S)
    assert events is not None
    assert "Reminder during grace" in events.group(0) and "grace_reminder" not in events.group(0)
    assert "Deadline missed" in events.group(0) and ">deadline<" not in events.group(0)
    assert "deadline 2026-01-31 10:00 CET in 7d" in events.group(0)
    assert re.search(r"deadline missed; grace ends \d{4}-\d\d-\d\d \d\d:\d\d CET", preview)


def test_tables_stack_on_a_phone_and_their_scroll_boxes_are_reachable_by_keyboard(site: Site) -> None:
    client = site.signed_in()
    post(client, "/people", "/people", {"name": "ana", "email": "ana@example.org", "language": "en", "role": "heir"})
    post(client, "/drill", "/drill")
    preview = post(client, "/policy", "/policy", {**policy_form(client), "action": "preview"}).text
    pages = [client.get(path).text for path in ("/", "/timeline", "/people", "/readiness", "/drill")] + [preview]
    seen = 0
    for html in pages:
        for box in re.findall(r'<div class="scroll"[^>]*>', html):
            assert re.fullmatch(r'<div class="scroll" tabindex="0" role="region" aria-label="[^"]+">', box), box
        for table in re.findall(r"<table\b.*?</table>", html, flags=re.S):
            seen += 1
            assert re.search(r'<table[^>]*class="stack"', table), table[:80]
            cells = re.findall(r"<td\b[^>]*>", table)
            assert all("data-label=" in cell or "colspan" in cell for cell in cells), cells
    assert seen >= 6
    assert "@media (max-width:40em)" in pages[0] and "td[data-label]::before" in pages[0]


def _enrol_links(runtime: Runtime, name: str) -> list[tuple[object, object]]:
    with runtime.engine.connect() as conn:
        return [(r.created_at, r.revoked_at) for r in conn.execute(
            select(links.c.created_at, links.c.revoked_at).where(links.c.who == name,
                                                                 links.c.purpose == str(Purpose.ENROL))
            .order_by(links.c.id))]


def test_the_enrolment_link_is_sent_again_from_the_people_page_once_in_ten_minutes(site: Site) -> None:
    client = site.signed_in()
    post(client, "/people", "/people", {"name": "ana", "email": "ana@example.org", "language": "en", "role": "heir"})
    people = client.get("/people").text
    assert 'action="/people/ana/enrolment"' in people and "Send ana the enrolment link again" in people
    too_soon = post(client, "/people", "/people/ana/enrolment")
    assert too_soon.status_code == 409 and ("an enrolment link was sent to ana less than 10 minutes ago: wait "
                                            "10 minutes before sending another") in too_soon.text
    site.clock.advance(minutes=11)
    sent = post(client, "/people", "/people/ana/enrolment")
    assert sent.status_code == 200
    assert "A new enrolment link was sent to ana (ana@example.org); it works until 2026-01-15" in sent.text
    made = _enrol_links(site.runtime, "ana")
    assert len(made) == 2 and made[0][1] is not None and made[1][1] is None  # the older link is withdrawn
    with site.runtime.engine.connect() as conn:
        mails = conn.execute(select(outbox.c.recipient).where(outbox.c.purpose == "enrol")).scalars().all()
        audited = conn.execute(select(audit_entries.c.data).where(
            audit_entries.c.kind == "people.enrolment_resent")).scalars().all()
    assert mails == ["ana@example.org", "ana@example.org"] and audited == [{"name": "ana", "links_withdrawn": 1}]
    refused = client.post("/people/ana/enrolment", data={"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 403 and len(_enrol_links(site.runtime, "ana")) == 2
    other = site.signed_in(site.other, "203.0.113.9")
    assert post(other, "/people", "/people/ana/enrolment").status_code == 404  # another owner's holder


def test_a_verifier_or_a_holder_with_a_key_is_not_sent_an_enrolment_link(site: Site) -> None:
    client = site.signed_in()
    post(client, "/people", "/people", {"name": "vera", "email": "vera@example.org", "language": "en",
                                        "role": "verifier"})
    answer = post(client, "/people", "/people/vera/enrolment")
    assert answer.status_code == 422 and "vera is a verifier: verifiers hold no key" in answer.text


def test_a_drill_with_things_to_fix_is_a_warning_with_the_enrolment_button(site: Site) -> None:
    client = site.signed_in()
    post(client, "/people", "/people", {"name": "ana", "email": "ana@example.org", "language": "en", "role": "heir"})
    report = post(client, "/drill", "/drill").text
    section = report[report.index('<section id="report"'):report.index("</section>\n</section>")]
    assert 'class="warning"' in section and "<h2>Drill 1: things to fix</h2>" in section
    assert "ana has no key" in section and 'action="/people/ana/enrolment"' in section


def test_readiness_counts_every_date_from_the_one_simulated_release(site: Site) -> None:
    client = site.signed_in()
    site.runtime.service.set_policy(site.owner.owner.id, {"interval": "30d", "stages": [
        {"name": "customers", "after": "0d", "action": "notify_customers"}]})
    html = client.get("/readiness").text
    assert re.search(r"Suppose the switch fired now, at 2026-01-01 10:00 CET: customer notices would go out at "
                     r"once, at the same moment\.", html)
    site.runtime.service.set_policy(site.owner.owner.id, {"interval": "30d", "stages": [
        {"name": "customers", "after": "21d", "action": "notify_customers"}]})
    html = client.get("/readiness").text
    assert "Suppose the switch fired now, at 2026-01-01 10:00 CET: customer notices would go out at " \
           "2026-01-22 10:00 CET." in html


def test_a_browser_gets_a_page_in_its_language_for_a_missing_page_or_a_wrong_method(site: Site) -> None:
    client = site.client()
    browser = {"Accept": "text/html,application/xhtml+xml", "Accept-Language": "id-ID,id;q=0.9,en;q=0.5"}
    for path in ("/checkin", "/signout", "/people/checks"):
        answer = client.get(path, headers=browser)
        assert answer.status_code == 405 and answer.headers["content-type"].startswith("text/html"), path
        assert answer.headers["allow"] == "POST" and '<html lang="id">' in answer.text
        assert "<h1>Halaman ini tidak dapat dibuka dengan cara ini</h1>" in answer.text
    missing = client.get("/no/such/page", headers={**browser, "Accept-Language": "it"})
    assert missing.status_code == 404 and "<h1>Questa pagina non esiste</h1>" in missing.text
    english = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert "<h1>This page does not exist</h1>" in english.text and "There is no page at this address." in english.text
    assert client.get("/checkin").json() == {"detail": "Method Not Allowed"}  # API clients: problem JSON
    assert client.get("/no/such/page", headers={"Accept": "application/json"}).json() == {"detail": "Not Found"}
    api = client.get("/api/no-such-thing", headers=browser)
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_an_empty_install_says_that_baton_init_comes_first(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime.service))
    page = client.get("/", follow_redirects=True)
    assert "Baton has no owner on this server" in page.text
    assert "<code>baton init --email you@example.com --timezone Europe/Rome</code>" in page.text
    runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    assert "baton init" not in client.get("/signin").text

