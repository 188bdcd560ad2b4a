"""axe-core finds no serious or critical violation on any page a holder, a verifier, a requester or a customer
opens, in English and in Italian (the request and check-in pages speak English only): enrolment, key check,
the check-in link, the release request, the verifier's question and its answer, the customer's notice, the
download, a spent link, and the new-link pages."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from accessibility import assert_accessible
from browser_support import Site, Visit, vault_split_to_ana

from tests_support import needs_tools, tool
from vault import challenge

pytestmark = needs_tools("age", "age-keygen")

POLICY = {"interval": "10d", "reminders": ["1d"], "grace": "1d",
          "confirm": {"window": "3d", "quorum": 1, "verifiers": [{"name": "giulia", "email": "giulia@example.org"}]},
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"},
                     {"name": "customers", "after": "0d", "action": "notify_customers"}]}
PROFILE = {"business": "Rossi Hosting", "owner_name": "Paolo Bianchi", "event": "passed_away",
           "successor": {"name": "Carla", "email": "carla@example.org", "role": "executor"}}


def _register(language: str) -> dict[str, str]:
    return {"registrars.csv": "id,name,ticket_email,reseller_move\nrw,Register,support@register.example,yes\n",
            "customers.csv": f"id,name,email,language\nluca,Luca Verdi,luca@example.org,{language}\n",
            "domains.csv": "domain,customer,registrar,expires\nluca.it,luca,rw,2027-05-01\n"}


def _code(site: Site, tmp_path: Path, key_file: Path, page_url: str, visit: Visit) -> str:
    """The code of the key check shown on the page, opened with ``age`` and the holder's key."""
    sealed = visit.page.request.get(f"{page_url.rstrip('/')}/challenge.age")
    assert sealed.status == 200
    path = tmp_path / "check.age"
    path.write_bytes(sealed.body())
    opened = subprocess.run([tool("age"), "-d", "-i", str(key_file), str(path)], capture_output=True, text=True,
                            check=True)
    return challenge.code_from(opened.stdout.encode())  # its label is in the holder's language


@pytest.mark.parametrize("language", ["en", "it"])
def test_every_page_outside_the_owner_s_has_no_serious_accessibility_violation(
        serve: Callable[..., Site], visit: Visit, tmp_path: Path, language: str) -> None:
    site = serve(POLICY)
    page = visit.page
    checked: list[str] = []

    def check(name: str, speaks: str = language) -> None:
        assert page.locator("html").get_attribute("lang") == speaks, name
        lesser = assert_accessible(page)  # moderate and minor ones are kept beside the screenshots, for a person
        checked.append(f"{name}: " + (", ".join(f"{v['id']} ({v['impact']})" for v in lesser) or "none"))

    assert site.api.patch("/api/people/giulia", json={"language": language}).status_code == 200
    key_file = vault_split_to_ana(site, tmp_path, "restart nginx", language=language)
    assert site.api.put("/api/handover/profile", json=PROFILE).status_code == 200
    imported = site.api.post("/api/register/import", files=[("files", (name, text.encode(), "text/csv"))
                                                            for name, text in _register(language).items()])
    assert imported.status_code == 200, imported.text
    assert site.api.post("/api/people", json={"name": "eko", "display_name": "Eko", "email": "eko@example.org",
                                              "role": "heir", "language": language}).status_code == 201
    assert site.api.post("/api/people/checks", json={"names": ["ana"]}).status_code == 200
    mails = site.run_worker()

    # Enrolment: the form, then a refusal shown on it.
    [enrol] = [m for m in mails if m.purpose == "enrol" and m.recipient == "eko@example.org"]
    page.goto(site.link(enrol, "e"))
    check("enrol")
    page.locator("textarea, input[name=recipient]").first.fill("not a key")
    page.locator("form button[type=submit]").first.click()
    check("enrol refused")

    # Key check: the form, a wrong code, the right one.
    [keycheck] = [m for m in mails if m.purpose == "keycheck" and m.recipient == "ana@example.org"]
    check_url = site.link(keycheck, "k")
    page.goto(check_url)
    check("key check")
    code = _code(site, tmp_path, key_file, check_url, visit)
    page.locator("input[name=code]").fill("AAAA-BBBB-CCCC")
    page.locator("form button[type=submit]").last.click()
    check("key check wrong code")
    page.locator("input[name=code]").fill(code)
    page.locator("form button[type=submit]").last.click()
    check("key check passed")

    # A release request link (the cooling-off is off in tests: it works at once).
    made = site.api.post("/api/requesters", json={"name": "Ana", "email": "ana@example.org"})
    assert made.status_code == 201, made.text
    page.goto(made.json()["url"])
    check("release request", "en")  # the request page speaks English only, as yet

    # The reminder's check-in link, a day before the deadline.
    site.clock.advance(days=9, minutes=1)
    [reminder] = [m for m in site.run_worker() if m.purpose == "reminder"]
    page.goto(site.link(reminder, "l"))
    check("check-in link", "en")  # the owner's page: the owner's pages are English

    # Past the deadline and the grace: the verifier is asked; her answer fires the switch (quorum 1).
    site.clock.advance(days=2)
    [question] = [m for m in site.run_worker() if m.purpose == "verify"]
    verify_url = site.link(question, "v")
    page.goto(verify_url)
    check("verify question")
    page.locator("button[value=unreachable]").click()
    check("verify done")
    page.goto(verify_url)
    check("verify link used")

    mails = site.run_worker()
    site.clock.advance(minutes=5)
    mails += site.run_worker()
    [notice] = [m for m in mails if m.purpose == "notice"]
    page.goto(site.link(notice, "n"))
    check("notice")
    [release] = [m for m in mails if m.purpose == "release"]
    download = site.link(release, "d")
    page.goto(download)
    check("download")
    for _ in range(site.runtime.settings.download_uses):
        assert page.request.post(download).status == 200
    page.goto(download)
    check("spent download link")
    page.locator("a[href$='/reissue']").click()
    check("reissue offer")
    page.locator("form button[type=submit]").click()
    check("reissue key check")
    reissue_url = page.url
    code = _code(site, tmp_path, key_file, reissue_url, visit)
    page.locator("input[name=code]").fill(code)
    page.locator("form button[type=submit]").last.click()
    check("reissue done")
    assert len(checked) == 16
    (visit.camera.folder / "axe-lesser-violations.txt").write_text("\n".join(checked) + "\n", encoding="utf-8")


def test_the_helper_names_each_serious_violation_and_returns_the_rest(visit: Visit) -> None:
    """A page with a nameless button and a form field without a label fails with the rules named; a page that
    only lacks a landmark passes, its (moderate) violation returned."""
    page = visit.page
    page.set_content('<!doctype html><html lang="en"><head><title>t</title></head><body><main><h1>t</h1>'
                     '<button></button><input type="text"></main></body></html>')
    with pytest.raises(AssertionError) as failed:
        assert_accessible(page)
    said = str(failed.value)
    assert "serious or critical violation(s)" in said
    assert "- button-name (critical): Buttons must have discernible text" in said
    assert "- label (critical): Form elements must have labels" in said and "    input: " in said
    page.set_content('<!doctype html><html lang="en"><head><title>t</title></head><body><h1>t</h1></body></html>')
    assert {v["id"] for v in assert_accessible(page)} == {"landmark-one-main", "region"}
