"""The owner's pages in a real browser: sign-in with TOTP, the countdown and the check-in button,
the policy form with its preview and errors, people, the register upload, readiness and a drill."""

from __future__ import annotations

from pathlib import Path

from browser_support import DESKTOP, PHONE, Site, Visit, heading


def sign_in(site: Site, visit: Visit, shots: bool = False) -> None:
    page = visit.page
    page.goto(f"{site.url}/")
    assert page.url == f"{site.url}/signin?next=/"
    assert heading(page) == "Sign in to Baton"
    page.get_by_label("Email").fill(site.owner_email)
    page.get_by_label("Password").fill(site.password)
    if shots:
        visit.shot("sign-in")
        visit.shot("sign-in", phone=True)
    page.get_by_label("Code from your authenticator app").fill(site.totp_code())
    page.get_by_role("button", name="Sign in").click()
    assert page.url == f"{site.url}/"


def test_the_owner_signs_in_with_totp_checks_in_and_sees_the_countdown_move(owner_site: Site,
                                                                           visit: Visit) -> None:
    site, page = owner_site, visit.page
    page.goto(f"{site.url}/signin")
    page.get_by_label("Email").fill(site.owner_email)
    page.get_by_label("Password").fill(site.password)
    page.get_by_label("Code from your authenticator app").fill("000000" if site.totp_code() != "000000" else "111111")
    page.get_by_role("button", name="Sign in").click()
    assert page.locator("#form-error").inner_text() == ("The email, the password or the authenticator code is "
                                                        "not right (a code works once): please type them again.")
    assert page.get_by_label("Email").input_value() == site.owner_email  # kept; the password is not
    assert page.get_by_label("Password").input_value() == ""
    visit.shot("sign-in-wrong-code")

    sign_in(site, visit, shots=True)
    assert heading(page) == "Your switch is armed"
    assert page.locator("#countdown").inner_text() == "in 30 days"
    assert page.locator("#deadline").inner_text() == "2026-01-31 10:00 CET"
    visit.shot("dashboard")
    visit.shot("dashboard", phone=True)

    site.clock.advance(hours=1, minutes=30)
    page.reload()
    assert page.locator("#countdown").inner_text() == "in 29 days, 22 hours"
    before = site.runtime.service.status(site.owner_id).deadline
    page.get_by_role("button", name="I am here — check in").click()
    assert page.get_by_role("status").inner_text() == "Checked in. The switch is re-armed."
    assert page.locator("#countdown").inner_text() == "in 30 days"
    assert page.locator("#deadline").inner_text() == "2026-01-31 11:30 CET"
    assert site.runtime.service.status(site.owner_id).deadline > before
    visit.shot("checked-in")

    page.get_by_role("link", name="Timeline", exact=True).click()
    assert heading(page) == "Timeline"
    assert "signed and chained" in page.locator("#audit-state").inner_text()
    assert "Checked in" in page.locator("#timeline").inner_text()
    visit.shot("timeline")
    visit.shot("timeline", phone=True)

    page.get_by_role("button", name="Sign out").click()
    assert heading(page) == "Sign in to Baton"
    page.goto(f"{site.url}/")
    assert page.url.startswith(f"{site.url}/signin")


def test_the_policy_form_shows_errors_by_their_field_and_previews_the_timeline(owner_site: Site,
                                                                              visit: Visit) -> None:
    site, page = owner_site, visit.page
    sign_in(site, visit)
    page.get_by_role("link", name="Policy", exact=True).click()
    page.get_by_label("Reminders before the deadline").fill("7d, 45d")
    page.get_by_role("button", name="Save").click()
    assert page.locator("#reminders-error").inner_text() == (
        "Reminder 2 (45d) is not shorter than the interval (30d): a reminder comes that long before the deadline, "
        "so it must be shorter than 30d.")
    assert page.get_by_label("Reminders before the deadline").input_value() == "7d, 45d"
    visit.shot("policy-error")
    page.get_by_label("Grace after the deadline").fill("9999999d")
    page.get_by_label("Interval", exact=True).fill("soon")
    page.get_by_role("button", name="Save").click()  # every mistake at once, each by its field
    # Two mistakes: a reminder cannot be weighed against an interval that is not a duration.
    assert page.locator("#problems li").count() == 2
    assert page.locator("#interval-error").inner_text().startswith("Interval: “soon” is not a duration.")
    assert page.locator("#grace-error").inner_text() == (
        "Grace after the deadline (9999999d) is too long: the most Baton accepts is 3650d (ten years).")
    visit.shot("policy-every-error")
    visit.shot("policy-every-error", phone=True)
    page.get_by_label("Grace after the deadline").fill("7d")
    assert site.runtime.service.get_policy(site.owner_id)["reminders"] == ["7d", "1d"]

    page.get_by_label("Reminders before the deadline").fill("3d")
    page.get_by_label("Interval", exact=True).fill("14d")
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Preview").click()  # on a phone the page lands on the preview
    preview = page.locator("#preview")
    assert "(not saved yet)" in preview.inner_text() and page.url.endswith("/policy#preview")
    assert page.evaluate("Math.abs(document.getElementById('preview').getBoundingClientRect().top)") < 5
    page.set_viewport_size(DESKTOP)
    table = page.locator("table").last.inner_text()
    assert "2026-01-12 10:00 CET" in table and "Reminder" in table and "2026-01-15 10:00 CET" in table
    visit.shot("policy-preview")
    visit.shot("policy-preview", phone=True)
    page.get_by_role("button", name="Save").click()
    assert "Saved." in page.get_by_role("status").inner_text()
    stored = site.runtime.service.get_policy(site.owner_id)
    assert stored["interval"] == "14d" and stored["reminders"] == ["3d"]


def test_people_register_readiness_and_a_drill(owner_site: Site, visit: Visit, tmp_path: Path) -> None:
    site, page = owner_site, visit.page
    sign_in(site, visit)
    page.get_by_role("link", name="People", exact=True).click()
    page.get_by_label("Short id").fill("ana")
    page.get_by_label("Full name").fill("Ana Souza")
    page.get_by_label("Email").fill("ana@heirs.example")
    page.get_by_label("Language of their pages and mail").select_option("pt")
    page.get_by_role("button", name="Add").click()
    assert "ana was added." in page.get_by_role("status").inner_text()
    assert "no key yet" in page.locator("#people").inner_text()
    visit.shot("people")
    visit.shot("people", phone=True)

    bad = tmp_path / "domains.csv"
    bad.write_text("domain,customer,registrar,expires\nnot a domain,ana,gd,2027-01-01\n", encoding="utf-8")
    page.get_by_role("link", name="Register", exact=True).click()
    page.get_by_label("Files").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    errors = page.locator("#import-errors").inner_text()
    assert "Nothing was imported" in errors and "domains.csv" in errors
    visit.shot("register-errors")
    visit.shot("register-errors", phone=True)

    page.get_by_role("link", name="Readiness", exact=True).click()
    assert heading(page) == "Readiness"
    assert "ana" in page.locator("#findings").inner_text()  # no key yet: named with what to do
    assert page.locator("#simulated").inner_text().startswith("Suppose the switch fired now, at 2026-01-01 10:00 CET")
    visit.shot("readiness")
    visit.shot("readiness", phone=True)

    page.get_by_role("link", name="Drills", exact=True).click()
    page.get_by_role("button", name="Start a drill").click()
    report = page.locator("#report")
    assert "Drill 1: things to fix" in report.inner_text() and report.get_attribute("class") == "warning"
    visit.shot("drill-report")
    visit.shot("drill-report", phone=True)
    site.clock.advance(minutes=11)
    page.get_by_role("button", name="Send ana the enrolment link again").click()  # re-sends, from the report
    assert "A new enrolment link was sent to ana (ana@heirs.example)" in page.get_by_role("status").inner_text()
    visit.shot("enrolment-sent-again")


def test_a_verifier_without_an_address_is_saved_with_a_warning_on_the_policy_page(owner_site: Site,
                                                                                  visit: Visit) -> None:
    """Saving verifiers one of whom has no e-mail: saved, and the page says who cannot be asked and why."""
    site, page = owner_site, visit.page
    sign_in(site, visit)
    page.get_by_role("link", name="Policy", exact=True).click()
    page.get_by_label("Ask verifiers for").fill("3d")
    page.get_by_label("Verifiers", exact=True).fill("Ana <ana@example.org>\nMarco")
    page.get_by_label("Quorum").fill("1")
    page.get_by_role("button", name="Save").click()
    assert "Saved." in page.get_by_role("status").inner_text()
    warning = page.locator("#unaskable")
    assert warning.inner_text().startswith("A verifier without an e-mail address: nobody can ask them")
    assert warning.locator("li").all_inner_texts() == ["Marco"]
    visit.shot("policy-verifier-without-address")
    visit.shot("policy-verifier-without-address", phone=True)
    stored = site.runtime.service.get_policy(site.owner_id)
    assert stored["confirm"]["verifiers"] == ["ana", "marco"]  # People entries, named by their ids
    assert {p["name"]: p["email"] for p in site.api.get("/api/people").json()} == {"ana": "ana@example.org",
                                                                                    "marco": None}
