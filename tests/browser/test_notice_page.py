"""A customer answers their notice in Indonesian, in a real browser: the page speaks their language and the
answer is stored."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from babel.messages.pofile import read_po
from browser_support import Site, Visit, heading
from sqlalchemy import select

from baton.store.tables import notices
from handover import i18n

POLICY = {"interval": "10d", "grace": "0s",
          "stages": [{"name": "customers", "after": "0d", "action": "notify_customers"}]}
PROFILE = {"business": "Hosting Bali", "owner_name": "Wayan Sudirta", "event": "passed_away",
           "successor": {"name": "Made", "email": "made@example.org", "role": "executor"},
           "act_within_days": 30, "grace_days": 30, "backup_days": 30}
REGISTER = {
    "registrars.csv": "id,name,ticket_email,reseller_move\n"
                      "rw,Rumahweb,support@rumahweb.example,yes\n"
                      "gd,GoDaddy,support@godaddy.example,no\n",
    "customers.csv": "id,name,email,language\n"
                     "budi,Budi Santoso,budi@example.org,id\n"
                     "dan,Dan Smith,dan@example.org,en\n",
    "domains.csv": "domain,customer,registrar,expires\n"
                   "budi.id,budi,rw,2027-05-01\n"
                   "toko-budi.id,budi,gd,2027-06-01\n"
                   "dan.com,dan,rw,2027-02-01\n",
    "hosting.csv": "id,customer,provider,paid_until,panel,price,currency,cycle,packaging\n"
                   "h-budi,budi,upcloud,2026-12-31,cPanel,1200000,IDR,annually,individual\n",
}


def tr(msgid: str, **values: str) -> str:
    """``msgid`` as the Indonesian catalog says it."""
    return i18n.translations("id").gettext(msgid) % values


def english_left_in(text: str) -> list[str]:
    """Sentences of the catalog still in English in ``text``: each literal run (between placeholders) of
    twelve characters or more of a message the Indonesian catalog translates differently."""
    with open(i18n.catalog_path("id"), "rb") as handle:
        catalog = read_po(handle, locale="id_ID", domain=i18n.DOMAIN)
    found = []
    for message in catalog:
        if not message.id or not message.string or message.string == message.id:
            continue
        for run in re.split(r"%\(\w+\)s|%%", str(message.id)):
            if len(run.strip()) >= 12 and run.strip() in text and run.strip() not in str(message.string):
                found.append(run.strip())
    return found


def _answer(site: Site) -> Any:
    with site.runtime.engine.connect() as conn:
        return conn.execute(select(notices).where(notices.c.customer == "budi")).one()


def test_a_customer_answers_their_notice_in_indonesian(serve: Callable[..., Site], visit: Visit) -> None:
    """The page is Indonesian throughout; a mistake is shown in Indonesian; the corrected answer is stored."""
    site = serve(POLICY, timezone="Asia/Makassar")
    page = visit.page
    imported = site.api.post("/api/register/import", files=[("files", (name, text.encode(), "text/csv"))
                                                            for name, text in REGISTER.items()])
    assert imported.status_code == 200, imported.text
    assert site.api.put("/api/handover/profile", json=PROFILE).status_code == 200
    site.clock.advance(days=10)  # the switch fires and the customers stage runs at once
    mails = {m.recipient: m for m in site.run_worker() if m.purpose == "notice"}
    assert sorted(mails) == ["budi@example.org", "dan@example.org"]
    notice = mails["budi@example.org"]
    assert notice.subject == tr("Important: your domains and hosting with %(business)s", business="Hosting Bali")

    page.goto(site.link(notice, "n"))
    assert page.get_attribute("html", "lang") == "id"
    assert page.title() == tr("Your domains and hosting with %(business)s", business="Hosting Bali")
    assert heading(page) == page.title()  # the page opens with its h1
    font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('input:not([type])')).fontSize)")
    assert font >= 17  # inputs a thumb can hit on a phone, not the browser's small default
    body = page.inner_text("body")
    assert tr("Dear %(name)s,", name="Budi Santoso") in body
    for msgid in ("Your domains", "Your hosting", "What to do, and by when", "Your answer"):
        assert page.get_by_role("heading", name=tr(msgid), exact=True).is_visible()
    assert english_left_in(body) == []
    assert "budi.id" in body and "toko-budi.id" in body and "dan.com" not in body
    visit.shot("notice")
    visit.shot("notice", phone=True)

    account = page.get_by_label(tr("Your own account id at %(registrar)s (your domains there are moved into it):",
                                   registrar="Rumahweb"))
    page.get_by_label(tr("I have read this notice.")).check()
    account.fill("budi santoso")  # a space: not an account id
    page.get_by_label(tr("Send me the auth code for %(name)s", name="toko-budi.id")).check()
    page.get_by_label(tr("Your own account at %(provider)s, if you want your hosting moved into it:",
                         provider="upcloud")).fill("budi@upcloud")
    page.get_by_label(tr("Anything else we should know (for a refund: where to send it):")).fill(
        "Refund ke BCA 1234")
    page.get_by_role("button", name=tr("Send my answer")).click()
    assert page.get_by_role("alert").inner_text() == tr(
        "Please correct the fields marked below; nothing was saved yet.")
    assert page.get_by_text(tr("Expected an account id of letters, digits and . _ @ + - (at most 100 characters), "
                               "got “%(got)s”.", got="budi santoso")).is_visible()
    assert account.input_value() == "budi santoso" and english_left_in(page.inner_text("body")) == []
    visit.shot("notice-mistake", phone=True)
    assert _answer(site).answer is None

    account.fill("budi.santoso")
    page.get_by_role("button", name=tr("Send my answer")).click()
    assert heading(page) == tr("Thank you")
    assert "?answered=1" in page.url  # redirected after the POST: a reload only shows
    page.reload()
    assert heading(page) == tr("Thank you")
    done = page.inner_text("main")
    assert "h-budi" not in done  # the service is named as the customer knows it
    assert tr("Account at %(registrar)s: %(account)s", registrar="Rumahweb", account="budi.santoso") in done
    assert tr("Auth code asked for %(name)s", name="toko-budi.id") in done
    assert english_left_in(done) == []
    visit.shot("answer-recorded")
    visit.shot("answer-recorded", phone=True)
    row = _answer(site)
    assert row.read_at == row.answered_at == site.clock.now()
    assert (row.answer["accounts"], row.answer["hosting_accounts"]) == ({"rw": "budi.santoso"},
                                                                       {"h-budi": "budi@upcloud"})
    assert (row.answer["auth_codes_for"], row.answer["note"]) == (["toko-budi.id"], "Refund ke BCA 1234")

    page.get_by_role("link", name=tr("Change my answer")).click()  # back to the page, the answer filled in
    assert account.input_value() == "budi.santoso"
    visit.shot("notice-with-answer")
