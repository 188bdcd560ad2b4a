"""Registrar and provider requests (handover.requests): tickets, letters, EPP documents, the index."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from lxml import etree

from handover import epp
from handover.errors import HandoverError
from handover.model import (
    Answer,
    Customer,
    Domain,
    Event,
    HandoverProfile,
    Hosting,
    Packaging,
    Register,
    Registrant,
    Registrar,
    Successor,
)
from handover.names import domain_name
from handover.requests import Action, BuildInput, OutputFile, build, decide, slug
from handover.rules import TransferRules
from tests_support import epp_schema

TODAY = date(2025, 3, 1)
ANSWERED = datetime(2025, 2, 20, 10, 0, tzinfo=UTC)
CODE = "Secr3t-AuthCode!"
UNUSED_CODE = "MoveNotTransfer-9"  # in the vault, but its domain moves: it must appear nowhere
DR = "domainregister"
OTHER = "other-reg"


def _domain(name: str, customer: str, registrar: str, **extra: object) -> Domain:
    fields: dict[str, object] = {"expires": date(2026, 1, 15), "registrar_account": "R-1001"}
    fields.update(extra)
    return Domain(domain_name(name), customer, registrar, **fields)  # type: ignore[arg-type]


def _register() -> Register:
    registrars = {
        DR: Registrar(DR, "DomainRegister", ticket_email="support@domainregister.example", reseller_move=True,
                      epp=True, reseller_account="R-1001"),
        OTHER: Registrar(OTHER, "Other Registrar", reseller_account="OR-77",
                         documents=("certified copy of the death certificate", "notarised heirs' declaration")),
    }
    customers = {
        "c1": Customer("c1", "Ana Lima", "ana@example.com", language="pt"),
        "c2": Customer("c2", "Bruno Rossi", "bruno@example.com", language="it"),
        "c3": Customer("c3", "Chiara Sari", "chiara@example.com", language="id"),
    }
    domains = [
        _domain("ana.it", "c1", DR),
        _domain("transfer-me.it", "c1", DR, statuses=("clientTransferProhibited",)),
        _domain("bücher.de", "c1", DR, created=TODAY - timedelta(days=20)),  # IDN, locked, no auth code
        _domain("old-ana.com", "c1", OTHER, expires=TODAY - timedelta(days=10), registrar_account="OR-77"),
        _domain("newly.com", "c2", DR, created=TODAY - timedelta(days=10)),  # locked: the move goes ahead
        _domain("bruno-reseller.com", "c2", DR, registrant=Registrant.RESELLER),
        _domain("bruno.net", "c2", OTHER, registrar_account="OR-77"),
        _domain("chiara.com", "c3", DR),
        _domain("chiara.org", "c3", OTHER, registrar_account="OR-78"),
    ]
    hosting = [
        Hosting("h1", "c1", DR, date(2025, 9, 1), plan="Linux S", account="pkg-ana", domain="ana.it"),
        Hosting("h2", "c2", "Hosting Fracto", date(2025, 6, 1), packaging=Packaging.POOLED, account="fr-bruno",
                domain="bruno.net"),
        Hosting("h3", "c3", DR, date(2025, 4, 1), account="pkg-chiara", domain="chiara.com"),
    ]
    return Register(customers, domains, hosting, registrars)


def _answers() -> dict[str, Answer]:
    return {
        "c1": Answer("c1", accounts={DR: "DR-C1"}, auth_codes_for=("transfer-me.it", "xn--bcher-kva.de"),
                     answered_at=ANSWERED, hosting_accounts={"h1": "DR-C1"}),
        "c2": Answer("c2", accounts={DR: "DR-C2", OTHER: "OR-C2"}, answered_at=ANSWERED),
    }


def _inputs(**changes: object) -> BuildInput:
    profile = HandoverProfile("Hosting Rossi & Figli", "Marco Rossi", event=Event.PASSED_AWAY)
    requester = Successor("Giulia Rossi", "giulia@example.com", role="executor", phone="+39 055 123456")
    base = BuildInput(_register(), _answers(), {"transfer-me.it": CODE, "ana.it": UNUSED_CODE}, profile,
                      requester, TODAY, TransferRules())
    return replace(base, **changes)  # type: ignore[arg-type]


def _files(**changes: object) -> dict[str, OutputFile]:
    return {f.path: f for f in build(_inputs(**changes))}


def _text(files: dict[str, OutputFile], path: str) -> str:
    return files[path].content.decode("utf-8")


def _section(text: str, start: str, end: str | None = None) -> str:
    after = text.split(start, 1)[1]
    return after.split(end, 1)[0] if end else after


@pytest.fixture(scope="module")
def files() -> dict[str, OutputFile]:
    return _files()


# --- decisions -----------------------------------------------------------------------------------------------


def test_the_decision_for_each_domain_follows_the_rule(files: dict[str, OutputFile]) -> None:
    register, answers = _register(), _answers()
    actions = {d.name.ascii: decide(d, register.registrar(d.registrar), answers.get(d.customer), TODAY,
                                    TransferRules()).action for d in register.domains}
    assert actions == {
        "ana.it": Action.MOVE, "transfer-me.it": Action.TRANSFER, "xn--bcher-kva.de": Action.TRANSFER,
        "old-ana.com": Action.KEEP, "newly.com": Action.MOVE, "bruno-reseller.com": Action.MOVE,
        "bruno.net": Action.KEEP, "chiara.com": Action.AWAITING, "chiara.org": Action.AWAITING,
    }


def test_reading_the_notice_is_not_answering() -> None:
    register = _register()
    domain = next(d for d in register.domains if d.customer == "c3" and d.registrar == DR)
    read_only = Answer("c3", read_at=ANSWERED)
    assert decide(domain, register.registrar(DR), read_only, TODAY, TransferRules()).action is Action.AWAITING


# --- the move ticket -----------------------------------------------------------------------------------------


def test_move_ticket_lists_answered_domains_with_their_accounts_and_unanswered_apart(
        files: dict[str, OutputFile]) -> None:
    ticket = _text(files, f"{DR}/move-ticket.txt")
    moves = _section(ticket, "Domains to move:", "Not to move yet")
    waiting = _section(ticket, "Not to move yet")
    assert "ana.it -> customer account DR-C1" in moves
    assert "bruno-reseller.com -> customer account DR-C2" in moves
    assert "newly.com -> customer account DR-C2" in moves
    assert "chiara.com" in waiting and "chiara.com" not in moves
    assert "transfer-me.it" not in ticket and "bcher" not in ticket  # transfers are not moved
    assert "R-1001" in ticket and "support@domainregister.example" in ticket
    assert "keep its expiry date" in ticket and "DNS" in ticket and "untouched" in ticket


def test_move_ticket_asks_for_a_registrant_change_for_reseller_registered_domains(
        files: dict[str, OutputFile]) -> None:
    ticket = _text(files, f"{DR}/move-ticket.txt")
    entry = _section(ticket, "bruno-reseller.com", "\n- ")
    assert "registered in the reseller's name" in entry and "change the registrant to the customer" in entry
    assert "registered in the reseller's name" not in _section(ticket, "ana.it", "\n- ")


def test_a_60_day_lock_does_not_block_a_move_but_blocks_a_transfer(files: dict[str, OutputFile]) -> None:
    ticket = _text(files, f"{DR}/move-ticket.txt")
    assert "locked" not in _section(ticket, "newly.com", "\n- ")
    request = _text(files, f"{DR}/auth-code-request.txt")
    entry = _section(request, "bücher.de (xn--bcher-kva.de)", "\n- ")
    assert f"locked until {TODAY + timedelta(days=40)} (registered less than 60 days ago)" in entry


def test_no_move_ticket_where_the_registrar_does_not_move_between_accounts(files: dict[str, OutputFile]) -> None:
    assert f"{OTHER}/move-ticket.txt" not in files
    assert f"{OTHER}/auth-code-request.txt" not in files  # no transfer wish there


# --- auth codes and EPP --------------------------------------------------------------------------------------


def test_auth_code_request_lists_the_transfer_wishes_and_the_days(files: dict[str, OutputFile]) -> None:
    request = _text(files, f"{DR}/auth-code-request.txt")
    assert "transfer-me.it" in request and "bücher.de (xn--bcher-kva.de)" in request
    assert "ana.it" not in request and "chiara.com" not in request
    assert "clientTransferProhibited" in request
    assert f"within 5 days, by {TODAY + timedelta(days=5)}" in request


def test_auth_code_request_follows_the_rules_given() -> None:
    request = _text(_files(rules=TransferRules(auth_code_days=7)), f"{DR}/auth-code-request.txt")
    assert f"within 7 days, by {TODAY + timedelta(days=7)}" in request and "5 days" not in request


def test_epp_documents_only_for_epp_registrars(files: dict[str, OutputFile]) -> None:
    epp_paths = {p for p in files if "/epp/" in p}
    assert epp_paths == {
        f"{DR}/epp/transfer-me.it-info.xml", f"{DR}/epp/transfer-me.it-unlock.xml",
        f"{DR}/epp/transfer-me.it-transfer.xml",
        f"{DR}/epp/xn--bcher-kva.de-info.xml", f"{DR}/epp/xn--bcher-kva.de-unlock.xml",
    }
    as_non_epp = _register()
    as_non_epp.registrars[DR] = replace(as_non_epp.registrars[DR], epp=False)
    assert not [p for p in _files(register=as_non_epp) if "/epp/" in p]


@pytest.mark.parametrize("drill", [False, True])
def test_epp_documents_are_valid_rfc_5730_5731(drill: bool) -> None:
    schema = epp_schema()
    documents = [f for f in build(_inputs(drill=drill)) if f.path.endswith(".xml")]
    assert len(documents) == 5
    for document in documents:
        epp.validate(document.content)
        root = etree.fromstring(document.content)
        assert schema.validate(root), (document.path, schema.error_log)
        assert root.find(".//{urn:ietf:params:xml:ns:domain-1.0}name").text in ("transfer-me.it", "xn--bcher-kva.de")


def test_epp_documents_say_what_they_do(files: dict[str, OutputFile]) -> None:
    transfer = files[f"{DR}/epp/transfer-me.it-transfer.xml"].content
    assert b'op="request"' in transfer and CODE.encode() in transfer
    unlock = files[f"{DR}/epp/xn--bcher-kva.de-unlock.xml"].content
    assert b"<domain:rem>" in unlock and b'clientTransferProhibited' in unlock and b"<domain:pw>" not in unlock
    assert b"<domain:pw>" not in files[f"{DR}/epp/xn--bcher-kva.de-info.xml"].content


def test_a_transfer_with_no_auth_code_gets_info_and_unlock_and_is_listed_as_missing(
        files: dict[str, OutputFile]) -> None:
    assert f"{DR}/epp/xn--bcher-kva.de-info.xml" in files and f"{DR}/epp/xn--bcher-kva.de-unlock.xml" in files
    assert f"{DR}/epp/xn--bcher-kva.de-transfer.xml" not in files
    missing = _section(_text(files, "README.md"), "## Missing", "## Files")
    assert ("bücher.de (xn--bcher-kva.de) at DomainRegister: no transfer request yet: locked until 2025-04-10 "
            "(registered less than 60 days ago); build the requests again on or after 2025-04-10; no auth code in "
            "the vault") in missing
    assert "transfer-me.it" not in missing


def test_an_unusable_auth_code_is_not_written_and_is_reported() -> None:
    bad = "bad-code-with-space "
    built = _files(auth_codes={"transfer-me.it": bad})
    assert f"{DR}/epp/transfer-me.it-transfer.xml" not in built
    assert not built[f"{DR}/epp/transfer-me.it-info.xml"].secret
    assert "the auth code in the vault is not usable" in _text(built, "README.md")
    assert not [f.path for f in built.values() if bad.strip().encode() in f.content]


def test_auth_codes_appear_only_in_secret_files(files: dict[str, OutputFile]) -> None:
    secret = {p for p, f in files.items() if f.secret}
    assert secret == {f"{DR}/epp/transfer-me.it-transfer.xml", f"{DR}/epp/transfer-me.it-info.xml"}
    for code in (CODE, UNUSED_CODE):
        leaks = [p for p, f in files.items() if not f.secret and code.encode() in f.content]
        assert leaks == [], code
    assert not [p for p, f in files.items() if UNUSED_CODE.encode() in f.content]
    assert all(CODE.encode() in files[p].content for p in secret)


# --- the succession letter -----------------------------------------------------------------------------------


def test_succession_letter_says_who_asks_for_what(files: dict[str, OutputFile]) -> None:
    letter = _text(files, f"{DR}/succession-letter.txt")
    for expected in ("Giulia Rossi", "executor", "giulia@example.com", "+39 055 123456", "Marco Rossi",
                     "Hosting Rossi & Figli", str(TODAY), "has passed away", "R-1001",
                     "keep renewals running", "keep DNS running", "delete, suspend or release no domain",
                     "keep each domain's expiry date"):
        assert expected in letter, expected
    assert "move to the customer's own account DR-C1" in _section(letter, "- ana.it", "\n- ")
    assert "give the auth code" in _section(letter, "- transfer-me.it", "\n- ")
    assert "awaiting the customer's answer" in _section(letter, "- chiara.com", "\n- ")
    other = _text(files, f"{OTHER}/succession-letter.txt")
    assert "OR-77, OR-78" in other
    bruno = _section(other, "- bruno.net", "\n- ")
    assert "keep renewing until the customer decides" in bruno and "OR-C2" in bruno
    assert "renew first, before" in _section(other, "- old-ana.com", "\n- ")
    assert "awaiting the customer's answer" in _section(other, "- chiara.org", "\n- ")


def test_succession_letter_flags_reseller_registered_domains(files: dict[str, OutputFile]) -> None:
    letter = _text(files, f"{DR}/succession-letter.txt")
    assert "registered in the reseller's name" in _section(letter, "- bruno-reseller.com", "\n- ")


@pytest.mark.parametrize(("event", "expected", "absent"), [
    (Event.PASSED_AWAY, ["death certificate", "letter of administration, grant of probate or certificate of "
                         "inheritance", "the requester's ID", "proof of the requester's role"], "medical"),
    (Event.INCAPACITATED, ["medical certificate", "power of attorney or guardianship order", "the requester's ID"],
     "death certificate"),
    (Event.CLOSING, ["the company's resolution or the owner's signed instruction", "the requester's ID"],
     "death certificate"),
])
def test_succession_letter_checklist_follows_the_event(event: Event, expected: list[str], absent: str) -> None:
    built = _files(profile=HandoverProfile("Hosting Rossi & Figli", "Marco Rossi", event=event))
    checklist = _section(_text(built, f"{DR}/succession-letter.txt"), "Enclosed", "Please reply")
    for item in expected:
        assert f"[ ] {item}" in checklist
    assert absent not in checklist
    assert all(f"<li>{item.replace(chr(39), '&#39;')}" in _text(built, f"{DR}/succession-letter.html")
               for item in expected)


def test_the_registrars_own_document_list_wins(files: dict[str, OutputFile]) -> None:
    checklist = _section(_text(files, f"{OTHER}/succession-letter.txt"), "Enclosed", "Please reply")
    assert checklist.count("[ ] ") == 2
    assert "[ ] certified copy of the death certificate" in checklist
    assert "[ ] notarised heirs' declaration" in checklist


def test_printable_letter_is_escaped_html(files: dict[str, OutputFile]) -> None:
    html = _text(files, f"{DR}/succession-letter.html")
    assert html.startswith("<!DOCTYPE html>") and "@media print" in html
    assert "Hosting Rossi &amp; Figli" in html and "Rossi & Figli" not in html
    assert "bücher.de (xn--bcher-kva.de)" in html and "DR-C1" in html


# --- hosting -------------------------------------------------------------------------------------------------


def test_hosting_requests_move_individual_packages_and_list_pooled_ones(files: dict[str, OutputFile]) -> None:
    individual = _text(files, f"hosting/{DR}.txt")
    move = "package pkg-ana (site ana.it) -> customer account DR-C1\n    paid until 2025-09-01; plan Linux S\n"
    assert move in individual
    assert "paid-until date" in individual and "without interruption" in individual
    assert "pkg-chiara" in _section(individual, "Not to move yet")
    pooled = _text(files, "hosting/hosting-fracto.txt")
    assert "fr-bruno" in pooled and "extracting" in pooled and "->" not in pooled
    missing = _section(_text(files, "README.md"), "### Pooled hosting", "## Files")
    assert "fr\\-bruno" in missing or "fr-bruno" in missing


# --- the index, drills, determinism, safety ------------------------------------------------------------------


def test_readme_counts_per_registrar_and_lists_what_is_missing(files: dict[str, OutputFile]) -> None:
    readme = _text(files, "README.md")
    assert build(_inputs())[0].path == "README.md"
    assert f"| DomainRegister | `{DR}/` | 6 | 3 | 2 | 1 | 0 | 5 |" in readme
    assert f"| Other Registrar | `{OTHER}/` | 3 | 0 | 0 | 1 | 2 | 0 |" in readme
    assert "Chiara Sari (c3)" in _section(readme, "### Customers who have not answered", "###")
    assert f"- `{DR}/epp/transfer-me.it-transfer.xml` (secret: carries an auth code)" in readme
    assert f"- `{DR}/epp/transfer-me.it-unlock.xml`\n" in readme
    assert "DRILL" not in readme


def test_drill_marks_every_file() -> None:
    built = build(_inputs(drill=True))
    for file in built:
        head = file.content.decode("utf-8")[:300]
        assert "DRILL" in head, file.path
    assert built[0].content.startswith(b"# DRILL")
    assert all(b"baton-drill-" in f.content for f in built if f.path.endswith(".xml"))
    assert not [f.path for f in build(_inputs()) if b"DRILL" in f.content]


def test_build_is_deterministic() -> None:
    first = build(_inputs())
    shuffled = _register()
    shuffled.domains.reverse()
    shuffled.hosting.reverse()
    again = build(_inputs(register=shuffled, answers=dict(reversed(list(_answers().items())))))
    assert first == build(_inputs()) == again


def test_paths_are_safe_relative_posix_names(files: dict[str, OutputFile]) -> None:
    for path in files:
        assert re.fullmatch(r"[a-z0-9-]+(/[a-z0-9.-]+)*(\.txt|\.html|\.xml|\.md)|README\.md", path), path
        assert ".." not in path.split("/")


def test_slugs() -> None:
    assert slug("Hosting Fracto") == "hosting-fracto"
    assert slug("Registro.it / Società") == "registro-it-societa"
    assert slug("../../etc") == "etc"
    assert slug("日本") == "x"


def test_folders_never_clash() -> None:
    register = _register()
    register.registrars["DomainRegister"] = Registrar("DomainRegister", "DomainRegister (again)")
    register.domains.append(_domain("second.com", "c3", "DomainRegister"))
    register.domains.append(_domain("third.com", "c3", "Hosting"))  # a registrar whose slug is "hosting"
    built = _files(register=register)
    folders = {p.split("/")[0] for p in built if "/" in p}
    assert folders == {"domainregister", "domainregister-2", "hosting-2", "hosting", OTHER}
    assert "third.com" in _text(built, "hosting-2/succession-letter.txt")
    hosting = {p for p in built if p.startswith("hosting/")}
    assert hosting == {"hosting/domainregister.txt", "hosting/hosting-fracto.txt"}


def test_customer_text_cannot_add_lines_to_a_ticket() -> None:
    answers = _answers()
    answers["c1"] = replace(answers["c1"], accounts={DR: "DR-C1\nPlease also move every domain to EVIL"})
    ticket = _text(_files(answers=answers), f"{DR}/move-ticket.txt")
    assert "\nPlease also move" not in ticket
    assert "ana.it -> customer account DR-C1 Please also move every domain to EVIL" in ticket


def test_an_answer_under_the_wrong_customer_is_refused() -> None:
    with pytest.raises(HandoverError, match="under 'c2'"):
        build(_inputs(answers={"c2": _answers()["c1"]}))


# --- transfers that cannot go yet ----------------------------------------------------------------------------


def test_a_locked_domain_gets_no_transfer_request_even_with_its_code_and_the_readme_says_until_when() -> None:
    """bücher.de was registered 20 days ago: its code is in the vault, but the request would be refused."""
    built = _files(auth_codes={"transfer-me.it": CODE, "bücher.de": "Locked-Code-1"})
    assert f"{DR}/epp/xn--bcher-kva.de-transfer.xml" not in built
    assert built[f"{DR}/epp/xn--bcher-kva.de-info.xml"].secret  # the info document still reads it, with the code
    missing = _section(_text(built, "README.md"), "## Missing", "## Files")
    assert ("- bücher.de (xn--bcher-kva.de) at DomainRegister: no transfer request yet: locked until 2025-04-10 "
            "(registered less than 60 days ago); build the requests again on or after 2025-04-10\n") in missing
    assert f"{DR}/epp/transfer-me.it-transfer.xml" in built


def test_a_domain_expiring_before_the_registrar_must_answer_is_renew_first_and_not_transferred() -> None:
    """transfer-me.it expires in three days, before the auth code is due (five days): renew it first."""
    register = _register()
    register.domains = [replace(d, expires=TODAY + timedelta(days=3)) if d.name.ascii == "transfer-me.it" else d
                        for d in register.domains]
    built = _files(register=register)
    assert f"{DR}/epp/transfer-me.it-transfer.xml" not in built
    request = _section(_text(built, f"{DR}/auth-code-request.txt"), "- transfer-me.it", "\n- ")
    assert "note: renew first, before 2025-03-04\n" in request
    assert "note: expires on 2025-03-04, before anything can be done about it on 2025-03-06: renew it first" in request
    missing = _section(_text(built, "README.md"), "## Missing", "## Files")
    assert ("- transfer-me.it at DomainRegister: no transfer request yet: expires on 2025-03-04, before anything can "
            "be done about it on 2025-03-06: renew it first\n") in missing


def test_the_readme_names_an_idn_once_in_unicode_with_its_a_label_and_escapes_no_parenthesis(
        files: dict[str, OutputFile]) -> None:
    readme = _text(files, "README.md")
    assert "bücher.de (xn--bcher-kva.de)" in readme and "\\(" not in readme
