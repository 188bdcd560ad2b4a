"""Compartment documents: entries are validated in plain words, and pack into a zip a person can read without Baton."""

from __future__ import annotations

import html
import io
import json
import zipfile
from html.parser import HTMLParser
from typing import Any

import pytest

from vault.document import Compartment, pack, unpack
from vault.entries import Entry, entry_from_dict
from vault.errors import EntryError

UPDATED = "2026-03-01T09:00:00Z"
ATTACHMENT = bytes(range(256)) * 40 + b"\x00\xff"  # every byte value, and not text
SECRETS = {"password": "hunter2-Plesk!", "totp_secret": "JBSWY3DPEHPK3PXP", "api_key": "sk_live_4f1c9a"}


def _entry(**data: Any) -> Entry:
    return entry_from_dict({"updated_at": UPDATED, **data})


def _compartment() -> Compartment:
    """A compartment with one entry of several kinds, a multi-line note and a binary file."""
    compartment = Compartment("operations")
    compartment.put(_entry(id="hosting", kind="panel", title="Plesk <main> & backup",
                           fields={"panel": "plesk", "url": "https://panel.example.net:8443", "username": "admin",
                                   "password": SECRETS["password"], "totp_secret": SECRETS["totp_secret"]}))
    compartment.put(_entry(id="registrar", kind="registrar", title="Domain registrar",
                           fields={"registrar": "Gandi", "username": "ana", "api_key": SECRETS["api_key"]}))
    compartment.put(_entry(id="runbook", kind="note", title="Runbook: renewals",
                           fields={"text": "1. Log in.\n2. Renew the domains due this month.\n3. Pay."}))
    compartment.put(_entry(id="contract.pdf", kind="file", title="Datacentre contract — signed",
                           fields={"filename": "contract 2026.pdf", "description": "scanned"}), ATTACHMENT)
    return compartment


# Entries


INVALID_ENTRIES = [
    pytest.param({"id": "x", "kind": "wallet", "title": "t", "fields": {}},
                 "entry 'x': expected a kind among login, registrar, panel, server, auth_code, billing, note, file, "
                 "got 'wallet'", id="unknown-kind"),
    pytest.param({"id": "x", "kind": "login", "title": "Mail", "fields": {"password": "p"}},
                 "entry 'x': a login needs 'username', got nothing", id="missing-required-field"),
    pytest.param({"id": "x", "kind": "auth_code", "title": "example.net", "fields": {"domain": "example.net",
                                                                                    "code": "  "}},
                 "entry 'x': a auth_code needs 'code', got nothing", id="blank-required-field"),
    pytest.param({"id": "x", "kind": "login", "title": "Mail", "fields": {"username": "u", "pin": "1234"}},
                 "entry 'x': a login has the fields url, username, password, totp_secret, notes; got 'pin'",
                 id="unknown-field"),
    pytest.param({"id": "x", "kind": "panel", "title": "Panel", "fields": {"panel": "webmin", "url": "https://p"}},
                 "entry 'x', field 'panel': expected one of plesk, cpanel, whm, directadmin, other, got 'webmin'",
                 id="panel-not-a-choice"),
    pytest.param({"id": "Mail Login", "kind": "login", "title": "Mail", "fields": {"username": "u"}},
                 "expected an id of lower-case letters, digits, '.', '_' or '-' (at most 63), got 'Mail Login'",
                 id="bad-id"),
    pytest.param({"id": "x" * 64, "kind": "login", "title": "Mail", "fields": {"username": "u"}},
                 f"expected an id of lower-case letters, digits, '.', '_' or '-' (at most 63), got '{'x' * 64}'",
                 id="id-too-long"),
    pytest.param({"kind": "login", "title": "Mail", "fields": {"username": "u"}},
                 "expected an id of lower-case letters, digits, '.', '_' or '-' (at most 63), got ''",
                 id="no-id"),
    pytest.param({"id": "x", "kind": "file", "title": "Key", "fields": {"filename": "keys/id_ed25519"}},
                 "entry 'x', field 'filename': expected a plain file name without folders or control characters",
                 id="file-name-with-slash"),
    pytest.param({"id": "x", "kind": "file", "title": "Key", "fields": {"filename": "..\\id_ed25519"}},
                 "entry 'x', field 'filename': expected a plain file name without folders or control characters",
                 id="file-name-with-backslash"),
    pytest.param({"id": "x", "kind": "file", "title": "Key", "fields": {"filename": "id\ned25519"}},
                 "entry 'x', field 'filename': expected a plain file name without folders or control characters",
                 id="file-name-with-newline"),
    pytest.param({"id": "x", "kind": "login", "title": "  ", "fields": {"username": "u"}},
                 "entry 'x': expected a title, got nothing", id="blank-title"),
    pytest.param({"id": "x", "kind": "server", "title": "VPS", "fields": {"host": "h", "port": "22/tcp"}},
                 "entry 'x', field 'port': expected a number, got '22/tcp'", id="port-not-a-number"),
    pytest.param({"id": "x", "kind": "login", "title": "Mail", "fields": {"username": 42}},
                 "entry 'x', field 'username': expected text, got int", id="field-not-text"),
    pytest.param({"id": "x", "kind": "login", "title": "Mail", "fields": ["username", "u"]},
                 "entry 'x': expected fields as an object, got list", id="fields-not-an-object"),
]


@pytest.mark.parametrize(("data", "message"), INVALID_ENTRIES)
def test_an_invalid_entry_is_refused_saying_what_was_expected(data: dict[str, Any], message: str) -> None:
    """An entry that breaks its kind's rules is an EntryError naming the entry, the field and what was expected."""
    with pytest.raises(EntryError) as raised:
        entry_from_dict({"updated_at": UPDATED, **data})
    assert str(raised.value) == message


def test_shown_masks_secret_fields_unless_revealed() -> None:
    """Secret fields show as stars (empty ones stay empty); the rest shows as it is; reveal shows all."""
    entry = _entry(id="mail", kind="login", title="Mail", fields={"url": "https://mail.example.net", "username": "ana",
                                                                  "password": "hunter2", "totp_secret": ""})
    assert entry.shown() == {"url": "https://mail.example.net", "username": "ana", "password": "********",
                             "totp_secret": ""}
    assert entry.shown(reveal=True) == dict(entry.fields)


def test_the_repr_of_entries_and_compartments_shows_no_field_value() -> None:
    """repr and str of an entry or a compartment name it without any field value, secret or not."""
    compartment = _compartment()
    shown = [repr(compartment), str(compartment), *(f"{e!r} {e}" for e in compartment.entries.values())]
    values = [v for e in compartment.entries.values() for v in e.fields.values()]
    assert repr(compartment) == "Compartment('operations', 4 entries)"
    assert repr(compartment.entries["hosting"]) == "Entry(id='hosting', kind='panel', title='Plesk <main> & backup')"
    assert not [(v, s) for v in values for s in shown if v in s]


def test_a_file_entry_needs_its_file() -> None:
    """A file entry put without its bytes (and none kept from before) is refused."""
    with pytest.raises(EntryError) as raised:
        Compartment("operations").put(_entry(id="scan", kind="file", title="Scan", fields={"filename": "a.pdf"}))
    assert str(raised.value) == "entry 'scan': a file entry needs the file"


def test_removing_an_unknown_entry_lists_the_entries_there_are() -> None:
    """Removing an id that is not there names the ids that are."""
    compartment = _compartment()
    with pytest.raises(EntryError) as raised:
        compartment.remove("plesk-old")
    assert str(raised.value) == ("compartment 'operations': no entry 'plesk-old' (entries: contract.pdf, hosting, "
                                 "registrar, runbook)")
    assert compartment.remove("contract.pdf").kind == "file"
    assert "contract.pdf" not in compartment.attachments


# Packing


def test_pack_and_unpack_round_trip_with_a_binary_attachment() -> None:
    """unpack(pack(c)) gives back every entry and the attachment's bytes unchanged."""
    compartment = _compartment()
    opened = unpack(pack(compartment), "compartment operations")
    assert opened.name == "operations"
    assert {k: e.to_dict() for k, e in opened.entries.items()} == {k: e.to_dict()
                                                                  for k, e in compartment.entries.items()}
    assert opened.attachments == {"contract.pdf": ATTACHMENT}


def test_the_zip_holds_the_documents_and_the_attachment_by_entry() -> None:
    """The zip has vault.json, README.md, vault.html and attachments/<id>/<file name>, the file stored as it is."""
    with zipfile.ZipFile(io.BytesIO(pack(_compartment()))) as archive:
        assert sorted(archive.namelist()) == ["README.md", "attachments/contract.pdf/contract 2026.pdf",
                                              "vault.html", "vault.json"]
        member = archive.getinfo("attachments/contract.pdf/contract 2026.pdf")
        assert member.compress_type == zipfile.ZIP_STORED
        assert archive.read(member) == ATTACHMENT
        doc = json.loads(archive.read("vault.json"))
    assert doc["format"] == "baton-compartment/1"
    assert [e["id"] for e in doc["entries"] if e["kind"] == "file"] == ["contract.pdf"]
    file_entry = next(e for e in doc["entries"] if e["kind"] == "file")
    assert file_entry["file"] == "attachments/contract.pdf/contract 2026.pdf"


class _Text(HTMLParser):
    """The text of an HTML page, and its tags left open."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("meta", "br"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing open"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_readme_and_html_show_every_entry_to_a_person() -> None:
    """README.md and vault.html are UTF-8 text naming every entry by title, with its values and the file's path."""
    compartment = _compartment()
    with zipfile.ZipFile(io.BytesIO(pack(compartment))) as archive:
        readme = archive.read("README.md").decode("utf-8")
        page = archive.read("vault.html").decode("utf-8")
    parser = _Text()
    parser.feed(page)
    parser.close()
    assert parser.open == []
    text = "".join(parser.text)
    assert readme.startswith("# Vault compartment: operations\n")
    for entry in compartment.entries.values():
        assert f"\n## {entry.title}\n" in readme
        assert entry.title in text
        for value in entry.fields.values():
            assert value in readme
            assert value in text
    assert "<main>" not in page  # the title is escaped, not markup
    assert html.escape("Plesk <main> & backup") in page
    assert "attachments/contract.pdf/contract 2026.pdf" in readme
    assert "```\n1. Log in.\n2. Renew the domains due this month.\n3. Pay.\n```" in readme


def _zip(**members: bytes | str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name.replace("__", "/"), data)
    return out.getvalue()


DOC = {"format": "baton-compartment/1", "compartment": "operations"}

NOT_COMPARTMENTS = [
    pytest.param(b"", "compartment operations: expected a compartment (a zip with vault.json), got something else "
                      "(BadZipFile)", id="empty"),
    pytest.param(b"PK\x03\x04 garbage", "compartment operations: expected a compartment (a zip with vault.json), got "
                                        "something else (BadZipFile)", id="garbage"),
    pytest.param(_zip(**{"README.md": "hello"}), "compartment operations: expected a compartment (a zip with "
                                                 "vault.json), got something else (KeyError)", id="no-vault-json"),
    pytest.param(_zip(**{"vault.json": "{not json"}), "compartment operations: expected a compartment (a zip with "
                                                      "vault.json), got something else (JSONDecodeError)",
                 id="vault-json-not-json"),
    pytest.param(_zip(**{"vault.json": json.dumps({**DOC, "format": "baton-compartment/2"})}),
                 "compartment operations: expected format baton-compartment/1, got 'baton-compartment/2'",
                 id="other-format"),
    pytest.param(_zip(**{"vault.json": json.dumps([1, 2])}),
                 "compartment operations: expected format baton-compartment/1, got [1, 2]", id="json-list"),
    pytest.param(_zip(**{"vault.json": json.dumps({**DOC, "entries": [
        {"id": "scan", "kind": "file", "title": "Scan", "fields": {"filename": "a.pdf"}, "updated_at": UPDATED}]})}),
                 "compartment operations: the file of entry 'scan' is missing", id="attachment-missing"),
]


@pytest.mark.parametrize(("data", "message"), NOT_COMPARTMENTS)
def test_unpacking_something_else_is_an_entry_error_naming_it(data: bytes, message: str) -> None:
    """Bytes that are not a packed compartment give an EntryError naming the compartment and what was found."""
    with pytest.raises(EntryError) as raised:
        unpack(data, "compartment operations")
    assert str(raised.value) == message


@pytest.mark.parametrize("entries", [["plesk"], 5, {"plesk": {}}], ids=["list-of-text", "number", "object"])
def test_unpacking_entries_that_are_not_a_list_of_objects_is_an_entry_error(entries: object) -> None:
    """A vault.json whose entries are not a list of objects is an EntryError, not a TypeError or AttributeError."""
    data = _zip(**{"vault.json": json.dumps({**DOC, "entries": entries})})
    with pytest.raises(EntryError) as raised:
        unpack(data, "compartment operations")
    assert str(raised.value).startswith("compartment operations: ")
