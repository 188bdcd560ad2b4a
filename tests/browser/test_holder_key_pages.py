"""A holder enrols a key made with the real age-keygen and proves it with the real age, in a real browser."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from browser_support import Site, Visit, heading

from tests_support import needs_tools, tool
from vault import challenge

pytestmark = needs_tools("age", "age-keygen")

POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "2d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
SECRET_REFUSED = ("expected a public key, got a secret key (AGE-SECRET-KEY-…): never share it; send the line "
                  "starting age1… instead")


def test_a_holder_enrols_an_age_key_and_proves_it_with_the_sealed_code(serve: Callable[..., Site], visit: Visit,
                                                                         tmp_path: Path) -> None:
    """Enrol through /e/ (a pasted key file refused), download the sealed code on /k/, open it with age."""
    site = serve(POLICY)
    page = visit.page
    made = site.api.post("/api/people", json={"name": "ana", "display_name": "Ana", "email": "ana@example.org",
                                              "role": "heir"})
    assert made.status_code == 201, made.text
    [invitation] = site.run_worker()
    assert (invitation.purpose, invitation.recipient) == ("enrol", "ana@example.org")
    key_file = tmp_path / "my-key.txt"
    subprocess.run([tool("age-keygen"), "-o", str(key_file)], check=True, capture_output=True)
    whole_file = key_file.read_text()
    [public_key] = re.findall(r"^# public key: (age1\w+)$", whole_file, re.M)

    page.goto(site.link(invitation, "e"))
    assert heading(page) == "Hello Ana"
    assert page.get_by_text(f"{site.owner_email} chose you to hold a key").is_visible()
    visit.shot("enrol-form")
    visit.shot("enrol-form", phone=True)

    # A person pastes the whole key file, secret key and all: refused, and the secret is not shown back.
    page.get_by_label("Paste your public key").fill(whole_file)
    page.get_by_role("button", name="Send my public key").click()
    assert page.get_by_role("alert").inner_text() == SECRET_REFUSED
    [secret] = re.findall(r"^AGE-SECRET-KEY-1\w+$", whole_file, re.M)
    assert secret not in page.content() and page.get_by_label("Paste your public key").input_value() == ""
    visit.shot("enrol-refused-secret", phone=True)
    assert site.api.get("/api/people").json()[0]["key"] == "none"

    page.get_by_label("Paste your public key").fill(public_key)
    page.get_by_role("button", name="Send my public key").click()
    assert heading(page) == "Thank you, Ana"
    visit.shot("enrol-done")
    [ana] = site.api.get("/api/people").json()
    assert (ana["recipient"], ana["key"]) == (public_key, "unverified")
    [check_mail] = site.run_worker()  # the key check's link, also e-mailed
    assert (check_mail.purpose, check_mail.recipient) == ("keycheck", "ana@example.org")

    page.get_by_role("link", name="Open the key check").click()
    assert heading(page) == "Key check for Ana"
    visit.shot("key-check")
    visit.shot("key-check", phone=True)
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download the sealed code").click()
    download = downloading.value
    assert download.suggested_filename == "baton-key-check.age"
    sealed = tmp_path / download.suggested_filename
    download.save_as(sealed)
    opened = subprocess.run([tool("age"), "-d", "-i", str(key_file), str(sealed)], capture_output=True, text=True,
                            check=True)
    code = challenge.code_from(opened.stdout.encode())

    page.get_by_label("Code").fill(code)
    visit.shot("key-check-code-typed", phone=True)
    page.get_by_role("button", name="Check").click()
    assert heading(page) == "Your key works"
    visit.shot("key-works")
    visit.shot("key-works", phone=True)
    [ana] = site.api.get("/api/people").json()
    assert ana["key"] == "verified"

    page.goto(site.link(check_mail, "k"))  # the e-mailed link to the same check, opened afterwards
    assert "already passed" in page.inner_text("main")
    visit.shot("emailed-key-check-after-success", phone=True)
