"""Every e-mail a holder receives carries the deployment key's fingerprint, in the holder's language.

The fingerprint is what a holder checks a package against, so it must reach them from outside
any package: the enrolment e-mail (long before anything is released), every key check, and
the release e-mail itself. Each is written here by the real service for one holder per
language (en, id, pt, it), and the fingerprint read in each is compared with what Debian's
``openssl`` and ``sha256sum`` print for the deployment's public key — the very command the
packages' instructions give.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from baton.cli.ownervault import OwnerVault
from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.store.tables import outbox
from baton.testing import FakeClock
from tests_support import needs_tools, settings_for
from vault import keys, policy_from_dict, signature
from vault.entries import entry_from_dict

pytestmark = needs_tools("openssl", "sha256sum")

HOLDERS = {"ana": "en", "budi": "id", "joana": "pt", "marco": "it"}
# A sentence of each language's fingerprint paragraph, to tell that it came in the holder's language.
SAYS = {"en": "fingerprint is:", "id": "Sidik jari", "pt": "impressão digital", "it": "impronta digitale"}
POLICY = {"interval": "30d", "grace": "1d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
PASSPHRASE = "owner passphrase long enough"


@pytest.fixture
def mails(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[tuple[Runtime, list[tuple[str, str, str, str]]]]:
    """Enrolment, key-check and release e-mails to four holders: (purpose, recipient, text, html)."""
    runtime = build(settings_for(db_url, data_dir=tmp_path / "server"), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome", policy=POLICY)
    client = TestClient(create_app(runtime.service), base_url=runtime.settings.base_url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"
    try:
        owner = OwnerVault(client, tmp_path / "owner" / "vault-key.age", lambda: PASSPHRASE)
        owner.init(PASSPHRASE)
        owner.ensure_compartment("operations")
        version, opened = owner.open("operations")
        opened.put(entry_from_dict({"id": "note", "kind": "note", "title": "Runbook",
                                    "fields": {"text": "restart nginx"}, "updated_at": "2026-11-22"}))
        owner.save("operations", version, opened)
        for name, language in HOLDERS.items():
            client.post("/api/people", json={"name": name, "email": f"{name}@example.org", "language": language,
                                             "role": "heir"}).raise_for_status()
            public = keys.public_of(keys.generate_identity()).text
            client.put(f"/api/people/{name}/key", json={"recipient": public, "source": "owner"}).raise_for_status()
        client.post("/api/people/checks", json={}).raise_for_status()
        owner.split("operations", policy_from_dict({"threshold": 2, "holders": list(HOLDERS)}))
        clock.advance(days=32)
        runtime.worker(senders={}).run_switches()
        with runtime.engine.connect() as conn:
            rows = conn.execute(select(outbox.c.purpose, outbox.c.recipient, outbox.c.body_text, outbox.c.body_html)
                                .where(outbox.c.purpose.in_(("enrol", "keycheck", "release")))).all()
        yield runtime, [tuple(row) for row in rows]  # type: ignore[misc]
    finally:
        client.close()
        runtime.engine.dispose()


def _printed_by_openssl(runtime: Runtime, folder: Path) -> str:
    """The deployment key as a package carries it, and what the instructions' command prints for it."""
    (folder / "signing-key.pem").write_text(signature.public_pem(bytes.fromhex(runtime.service.signer.public_hex)))
    printed = subprocess.run(["bash", "-c", signature.FINGERPRINT_COMMAND], cwd=folder, capture_output=True,
                             text=True, timeout=30, check=True)
    [found] = re.findall(r"^([0-9a-f]{64})  -$", printed.stdout)
    return str(found)


def test_every_holder_email_in_every_language_carries_the_fingerprint(
        mails: tuple[Runtime, list[tuple[str, str, str, str]]], tmp_path: Path) -> None:
    runtime, sent = mails
    expected = _printed_by_openssl(runtime, tmp_path)
    seen = set()
    for purpose, recipient, text, html in sent:
        language = HOLDERS[recipient.split("@")[0]]
        assert re.findall(r"^    ([0-9a-f]{64})$", text, flags=re.M) == [expected], (purpose, recipient, text)
        assert f"<code>{expected}</code>" in html, (purpose, recipient)
        assert SAYS[language] in " ".join(text.split()) and SAYS[language] in " ".join(html.split()), \
            (purpose, recipient, text)
        seen.add((purpose, language))
    assert seen == {(purpose, language) for purpose in ("enrol", "keycheck", "release")
                    for language in HOLDERS.values()}
