"""Request bodies have a size limit, enforced before they are read (issue 12: a gigabyte posted to
``/n/<garbage>`` was spooled to the temporary folder before the page answered 404).

A real ``baton serve`` runs in a child process with its own, empty temporary folder (``TMPDIR``);
each oversized request is sent whole (64 MiB, with a Content-Length or chunked), and the folder is
listed before and after while ``/proc/<pid>/io`` shows what the server wrote meanwhile: a body
spooled to a temporary file (even an unnamed one) is written, a refused one is not.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.services.releases import vault_parts
from baton.store import links
from baton.store.links import Purpose
from baton.store.tables import audit_entries, outbox, people
from baton.store.tables import links as link_rows
from baton.testing import FakeClock
from tests_support import baton_serve, bytes_written, settings_for
from vault import keys

MiB = 1024**2
FORM_LIMIT = MiB  # Settings.max_body_bytes, the default
BIG = 64 * MiB
TOO_LARGE_EN = "What was sent is larger than the 1 MiB this page accepts, so it was not read and nothing was saved."
TOO_LARGE_IT = "Ciò che è stato inviato supera i 1 MiB che questa pagina accetta"
BOUNDARY = "baton-test-boundary"


@dataclass
class Served:
    url: str
    pid: int
    tmp: Path  # the server's TMPDIR
    runtime: Runtime  # the same database, from this process
    owner_email: str
    password: str
    enrol_paths: dict[str, str]  # a holder's name → their enrolment link's path (Italian speakers)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    database = f"sqlite:///{folder}/baton.db"
    runtime = build(settings_for(database, data_dir=folder / "data"))
    owner = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome").owner.id
    vault, _builder = vault_parts(runtime.service)
    paths = {name: vault.add_person(owner, name, name.title(), f"{name}@example.org", "it", "heir")["enrol_url"]
             .removeprefix(runtime.settings.base_url) for name in ("ana", "bruno")}
    tmp = folder / "tmp"
    tmp.mkdir()
    with baton_serve(folder, BATON_DATABASE_URL=database, TMPDIR=str(tmp)) as (url, proc):
        yield Served(url, proc.pid, tmp, runtime, "owner@example.org", "correct horse battery", paths)
    runtime.engine.dispose()


def _multipart(size: int, field: str = "recipient") -> Iterator[bytes]:
    """A form with one file part, ``size`` bytes in all, made as it is sent (1 MiB at a time)."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"big.csv\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    yield head
    left = size - len(head) - len(tail)
    chunk = b"x" * MiB
    while left > 0:
        yield chunk[:left]
        left -= len(chunk)
    yield tail


def _post_big(served: Served, path: str, chunked: bool) -> tuple[httpx.Response, int, list[str]]:
    """POST 64 MiB to ``path``: the answer, what the server wrote meanwhile, and its temporary folder after."""
    before = sorted(os.listdir(served.tmp))
    assert before == []
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Accept-Language": "pt-BR"}
    if not chunked:
        headers["Content-Length"] = str(BIG)
    written = bytes_written(served.pid)
    with httpx.Client(base_url=served.url, timeout=60) as client:
        response = client.post(path, content=_multipart(BIG), headers=headers)
    return response, bytes_written(served.pid) - written, sorted(os.listdir(served.tmp))


@pytest.mark.parametrize("path", ["/n/not-a-real-token-at-all", "/v/x", "/signin"])
def test_a_big_body_with_its_length_is_refused_before_it_is_read(served: Served, path: str) -> None:
    """64 MiB announced by Content-Length to a notice link, a verifier link, the sign-in form: 413 at once,
    with the reason in one line; nothing is written to the temporary folder (nor anywhere)."""
    response, written, tmp_after = _post_big(served, path, chunked=False)
    assert response.status_code == 413, response.text[:300]
    assert tmp_after == [] and written < MiB, (tmp_after, written)
    if path == "/signin":  # the owner's pages are English
        assert TOO_LARGE_EN in response.text
    else:  # a link's page: in the browser's language, as the link's other refusals
        assert "O que foi enviado é maior que os 1 MiB que esta página aceita" in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-frame-options"] == "DENY"  # the security headers are on this answer too


@pytest.mark.parametrize(("path", "status"), [("/n/not-a-real-token-at-all", 404), ("/v/x", 404), ("/signin", 413)])
def test_a_big_chunked_body_is_refused_without_being_spooled(served: Served, path: str, status: int) -> None:
    """64 MiB without a Content-Length (chunked): the sign-in form counts it as it streams and stops at the
    limit (413); a link page looks at its link first, and refuses an unknown one without reading a byte
    (404). Either way nothing is written to the temporary folder."""
    response, written, tmp_after = _post_big(served, path, chunked=True)
    assert response.status_code == status, response.text[:300]
    assert tmp_after == [] and written < MiB, (tmp_after, written)
    assert ("Este link não é reconhecido" if status == 404 else TOO_LARGE_EN) in response.text


def test_a_big_chunked_body_to_a_valid_link_is_cut_off_at_the_limit(served: Served) -> None:
    """A live enrolment link with 64 MiB chunked: read only up to the limit, then 413 in the holder's language
    (Italian); nothing written, the holder still without a key and the link still unused."""
    response, written, tmp_after = _post_big(served, served.enrol_paths["ana"], chunked=True)
    assert response.status_code == 413, response.text[:300]
    assert TOO_LARGE_IT in response.text and 'lang="it"' in response.text
    assert tmp_after == [] and written < MiB, (tmp_after, written)
    with served.runtime.engine.connect() as conn:
        assert conn.execute(select(people.c.recipient).where(people.c.name == "ana")).scalar_one() is None
        assert conn.execute(select(func.count()).select_from(link_rows).where(
            link_rows.c.purpose == "enrol", link_rows.c.used_at.is_not(None))).scalar_one() == 0


def test_a_register_import_checks_the_token_before_its_files_are_read(served: Served) -> None:
    """32 MiB of files (within the import limit) with a wrong token: 401, and not a byte spooled."""
    written = bytes_written(served.pid)
    with httpx.Client(base_url=served.url, timeout=60) as client:
        response = client.post("/api/register/import", content=_multipart(32 * MiB, "files"),
                                headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                                         "Content-Length": str(32 * MiB), "Authorization": "Bearer wrong"})
    assert response.status_code == 401 and response.json() == {"detail": "the token is not valid"}
    assert sorted(os.listdir(served.tmp)) == [] and bytes_written(served.pid) - written < MiB


def test_forms_just_within_the_limit_still_work(served: Served) -> None:
    """A body of exactly the form limit: the sign-in form signs in, an enrolment link takes the key."""
    with httpx.Client(base_url=served.url, timeout=30) as client:
        form = client.get("/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        fields = f"email={served.owner_email}&password={served.password.replace(' ', '+')}&next=%2F" \
                 f"&csrf={token[1]}&padding="
        body = fields + "x" * (FORM_LIMIT - len(fields))
        assert len(body) == FORM_LIMIT
        signed_in = client.post("/signin", content=body, follow_redirects=False,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert signed_in.status_code == 303, signed_in.text[:300]
        assert client.get("/").status_code == 200  # the session works

        key = keys.public_of(keys.generate_identity()).text
        fields = f"recipient={key}&padding="
        body = fields + "x" * (FORM_LIMIT - len(fields))
        enrolled = client.post(served.enrol_paths["bruno"], content=body,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert enrolled.status_code == 200, enrolled.text[:300]
    with served.runtime.engine.connect() as conn:
        assert conn.execute(select(people.c.recipient).where(people.c.name == "bruno")).scalar_one() == key


# -- in process, on SQLite and PostgreSQL ----------------------------------------------------------------------
@dataclass
class Pages:
    runtime: Runtime
    client: TestClient
    owner_id: int

    def counts(self) -> tuple[int, int, int]:
        """Audit entries, messages, used links: what any act would add to."""
        with self.runtime.engine.connect() as conn:
            return (conn.execute(select(func.count()).select_from(audit_entries)).scalar_one(),
                    conn.execute(select(func.count()).select_from(outbox)).scalar_one(),
                    conn.execute(select(func.count()).select_from(link_rows).where(
                        link_rows.c.used_at.is_not(None))).scalar_one())


@pytest.fixture
def pages(db_url: str, clock: FakeClock) -> Iterator[Pages]:
    runtime = build(settings_for(db_url), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    with TestClient(create_app(runtime.service), base_url=runtime.settings.base_url) as client:
        yield Pages(runtime, client, made.owner.id)
    runtime.engine.dispose()


def _over(fields: str) -> bytes:
    """``fields`` padded to one byte over the form limit."""
    return (fields + "&padding=" + "x" * (FORM_LIMIT + 1 - len(fields) - 9)).encode()


def test_a_valid_link_with_a_too_large_form_changes_nothing(pages: Pages) -> None:
    """An enrolment link with a real key in a form one byte over the limit, with a Content-Length or
    chunked: 413 in the holder's language, no key stored, the link unused, nothing audited or sent; the
    same form within the limit then works."""
    vault, _builder = vault_parts(pages.runtime.service)
    path = vault.add_person(pages.owner_id, "ana", "Ana", "ana@example.org", "it", "heir")["enrol_url"] \
        .removeprefix(pages.runtime.settings.base_url)
    key = keys.public_of(keys.generate_identity()).text
    body = _over(f"recipient={key}")
    assert len(body) == FORM_LIMIT + 1
    before = pages.counts()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for content in (body, iter([body[:MiB // 2], body[MiB // 2:]])):  # the second is sent chunked
        refused = pages.client.post(path, content=content, headers=form)
        assert refused.status_code == 413 and TOO_LARGE_IT in refused.text, refused.text[:300]
        assert pages.counts() == before
        assert vault.list_people(pages.owner_id)[0]["recipient"] is None
    done = pages.client.post(path, data={"recipient": key})
    assert done.status_code == 200 and vault.list_people(pages.owner_id)[0]["recipient"] == key


def test_a_check_in_link_with_a_too_large_body_does_not_check_in(pages: Pages, clock: FakeClock) -> None:
    """A check-in link takes no form; a body announced over the limit is refused before the link acts."""
    now = clock.now()
    with pages.runtime.engine.begin() as conn:
        token = links.token(pages.runtime.service.key, links.create(conn, pages.owner_id, Purpose.CHECKIN, now,
                                                                    expires_at=now.replace(year=2027)))
    clock.advance(days=1)
    before = pages.counts()
    refused = pages.client.post(f"/l/{token}", content=b"x" * (FORM_LIMIT + 1))
    assert refused.status_code == 413 and TOO_LARGE_EN in refused.text
    assert pages.counts() == before and pages.runtime.service.timeline(pages.owner_id) == []
    assert pages.client.post(f"/l/{token}").status_code == 200  # the link still works
    assert [e["event"] for e in pages.runtime.service.timeline(pages.owner_id)] == ["checkin"]


def test_the_api_refuses_a_too_large_body_as_a_problem(pages: Pages) -> None:
    """On the API the same limit is problem JSON, in one line saying what was allowed and what came."""
    announced = pages.client.post("/api/requesters", content=b"{" + b" " * FORM_LIMIT + b"}",
                                  headers={"Content-Type": "application/json", "Authorization": "Bearer x"})
    assert announced.status_code == 413
    assert announced.json() == {"detail": f"body: expected at most {FORM_LIMIT} bytes (1 MiB) here, "
                                          f"got {FORM_LIMIT + 2}"}
    streamed = pages.client.post("/api/requesters", content=iter([b"{", b" " * FORM_LIMIT, b"}"]),
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer x"})
    assert streamed.status_code == 413
    assert streamed.json() == {"detail": f"body: expected at most {FORM_LIMIT} bytes (1 MiB) here, got more "
                                         "(the body was cut off there)"}
