"""EPP documents: schema-valid (checked here with lxml directly, not only by epp.validate), ASCII names,
auth codes escaped and never in error messages, deterministic output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree

from handover import epp
from handover.errors import HandoverError
from handover.names import DomainName, domain_name
from tests_support import epp_schema

NS = {"epp": "urn:ietf:params:xml:ns:epp-1.0", "domain": "urn:ietf:params:xml:ns:domain-1.0"}
CODE = "Xk9#mQ2$vL7!"
SPECIAL_CODE = "<&>\"' a&amp;b<![CDATA[x]]>"

Builder = Callable[[DomainName, str], bytes]
BUILDERS: dict[str, Builder] = {
    "transfer": lambda d, trid: epp.transfer_request(d, CODE, trid),
    "info": lambda d, trid: epp.info(d, trid),
    "info-with-code": lambda d, trid: epp.info(d, trid, auth_code=CODE),
    "unlock": lambda d, trid: epp.remove_transfer_lock(d, trid),
}
DOMAINS = ["example.com", "straße.de", "bücher.co.id", "EXAMPLE.ORG."]


def _assert_schema_valid(document: bytes) -> Any:
    root = etree.fromstring(document)
    schema = epp_schema()
    assert schema.validate(root), schema.error_log
    return root


def _build(kind: str, text: str) -> bytes:
    domain = domain_name(text)
    return BUILDERS[kind](domain, epp.cltrid("baton", domain, kind))


@pytest.mark.parametrize("kind", BUILDERS)
@pytest.mark.parametrize("text", DOMAINS)
def test_every_document_is_schema_valid(kind: str, text: str) -> None:
    document = _build(kind, text)
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n")
    root = _assert_schema_valid(document)
    assert root.tag == "{urn:ietf:params:xml:ns:epp-1.0}epp"
    epp.validate(document)  # and the module agrees


def test_the_independent_schema_is_strict_about_objects() -> None:
    """Guard for the check above: the loaded schemas really reject a bad domain element."""
    document = _build("transfer", "example.com").replace(b"domain:name>", b"domain:nom>")
    assert not epp_schema().validate(etree.fromstring(document))


def test_transfer_request_shape() -> None:
    root = _assert_schema_valid(_build("transfer", "example.com"))
    transfer = root.find("epp:command/epp:transfer", NS)
    assert transfer.get("op") == "request"
    assert transfer.findtext("domain:transfer/domain:name", namespaces=NS) == "example.com"
    assert transfer.findtext("domain:transfer/domain:authInfo/domain:pw", namespaces=NS) == CODE
    assert root.findtext("epp:command/epp:clTRID", namespaces=NS) == epp.cltrid(
        "baton", domain_name("example.com"), "transfer")


@pytest.mark.parametrize(("auth_code", "has_auth_info"), [(None, False), (CODE, True)])
def test_info_shape(auth_code: str | None, has_auth_info: bool) -> None:
    domain = domain_name("example.net")
    root = _assert_schema_valid(epp.info(domain, "baton-info-1", auth_code=auth_code))
    query = root.find("epp:command/epp:info/domain:info", NS)
    name = query.find("domain:name", NS)
    assert (name.text, name.get("hosts")) == ("example.net", "all")
    assert (query.find("domain:authInfo", NS) is not None) is has_auth_info
    assert query.findtext("domain:authInfo/domain:pw", namespaces=NS) == auth_code


def test_remove_transfer_lock_shape() -> None:
    root = _assert_schema_valid(epp.remove_transfer_lock(domain_name("example.com"), "baton-unlock-1"))
    update = root.find("epp:command/epp:update/domain:update", NS)
    assert update.findtext("domain:name", namespaces=NS) == "example.com"
    statuses = update.findall("domain:rem/domain:status", NS)
    assert [s.get("s") for s in statuses] == ["clientTransferProhibited"]
    assert update.find("domain:add", NS) is None and update.find("domain:chg", NS) is None


@pytest.mark.parametrize("kind", BUILDERS)
@pytest.mark.parametrize(("text", "ascii_form"), [("straße.de", "xn--strae-oqa.de"),
                                                  ("bücher.co.id", "xn--bcher-kva.co.id")])
def test_idn_names_appear_in_ascii_form(kind: str, text: str, ascii_form: str) -> None:
    document = _build(kind, text)
    root = _assert_schema_valid(document)
    assert root.xpath("string(//domain:name)", namespaces=NS) == ascii_form
    assert text.encode() not in document


@pytest.mark.parametrize("code", [SPECIAL_CODE, "&lt;not-an-entity&gt;", "üñí€ode 漢字", "a b  c", "x"])
@pytest.mark.parametrize("build", [
    lambda d, c: epp.transfer_request(d, c, "baton-t-1"),
    lambda d, c: epp.info(d, "baton-i-1", auth_code=c),
], ids=["transfer", "info"])
def test_auth_codes_round_trip_exactly(code: str, build: Callable[[DomainName, str], bytes]) -> None:
    root = _assert_schema_valid(build(domain_name("example.com"), code))
    assert root.findtext(".//domain:authInfo/domain:pw", namespaces=NS) == code


@pytest.mark.parametrize(("code", "expected", "got"), [
    ("", f"expected 1 to {epp.MAX_AUTH_CODE} characters", "got an empty value"),
    ("Zq7" * 100, f"expected 1 to {epp.MAX_AUTH_CODE} characters", "got 300 characters"),
    ("Zq7\tsecret", "expected printable characters", "position 4 of 10"),
    ("Zq7\nsecret", "expected printable characters", "position 4 of 10"),
    ("Zq7\x00secret", "expected printable characters", "position 4 of 10"),
    (" Zq7secret", "expected no spaces at the start or end", "got 10 characters"),
], ids=["empty", "too-long", "tab", "newline", "nul", "leading-space"])
@pytest.mark.parametrize("build", [
    lambda d, c: epp.transfer_request(d, c, "baton-t-1"),
    lambda d, c: epp.info(d, "baton-i-1", auth_code=c),
], ids=["transfer", "info"])
def test_bad_auth_codes_are_refused_without_echoing_them(
        code: str, expected: str, got: str, build: Callable[[DomainName, str], bytes]) -> None:
    with pytest.raises(HandoverError) as caught:
        build(domain_name("straße.de"), code)
    message = str(caught.value)
    assert message.startswith("auth code for straße.de (xn--strae-oqa.de): ")
    assert expected in message and got in message
    if code.strip():
        assert code not in message and code.strip() not in message and "secret" not in message


def test_longest_allowed_auth_code_is_accepted() -> None:
    code = "k" * epp.MAX_AUTH_CODE
    root = _assert_schema_valid(epp.transfer_request(domain_name("example.com"), code, "baton-t-1"))
    assert root.findtext(".//domain:pw", namespaces=NS) == code


SECRET = "S3cr3t-Pw!x"


def _transfer_with_secret() -> bytes:
    return epp.transfer_request(domain_name("example.com"), SECRET, "baton-transfer-1")


@pytest.mark.parametrize(("breakage", "explanation"), [
    (lambda doc: doc.replace(b"<domain:name>example.com</domain:name>", b""), "domain-1.0}name"),
    (lambda doc: doc.replace(b'op="request"', b'op="steal"'), "'steal' is not an element of the set"),
    (lambda doc: doc.replace(b'op="request"', b""), "attribute 'op' is required"),
    (lambda doc: doc.replace(b"baton-transfer-1", b"b"), "clTRID"),
    (lambda doc: doc.replace(b"<domain:pw>", b'<domain:pw roid="?">'), "roid"),
    (lambda doc: doc.replace(b"<domain:authInfo>", b"<domain:authInfo><domain:pw>one</domain:pw>"),
     "domain-1.0}pw': This element is not expected"),
    (lambda doc: doc.replace(b"domain:transfer ", b"domain:transfr ").replace(b"/domain:transfer>",
                                                                             b"/domain:transfr>"),
     "transfr"),
    (lambda doc: doc.replace(b"</domain:pw>", b"</domain:pass>"), "not well-formed XML"),
    (lambda doc: doc.replace(b"</domain:pw>", b"<domain:pw/></domain:pw>"), "pw"),
], ids=["no-name", "wrong-op", "no-op", "short-trid", "bad-roid", "two-pws", "unknown-element", "malformed",
        "child-in-pw"])
def test_validate_rejects_broken_documents_without_the_pw(breakage: Callable[[bytes], bytes],
                                                          explanation: str) -> None:
    broken = breakage(_transfer_with_secret())
    if explanation != "not well-formed XML":
        assert not epp_schema().validate(etree.fromstring(broken))
    with pytest.raises(HandoverError) as caught:
        epp.validate(broken)
    message = str(caught.value)
    assert message.startswith("EPP document is not valid against RFC 5730/5731: ")
    assert explanation in message
    assert "line " in message
    assert SECRET not in message


def test_validate_masks_a_secret_misplaced_into_another_element() -> None:
    broken = _transfer_with_secret().replace(b'op="request"', f'op="{SECRET}"'.encode())
    with pytest.raises(HandoverError, match="is not an element of the set") as caught:
        epp.validate(broken)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("document", [b"", b"not xml", b"<epp/>", b'<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"/>'])
def test_validate_rejects_non_epp(document: bytes) -> None:
    with pytest.raises(HandoverError, match="^EPP document is not valid against RFC 5730/5731: "):
        epp.validate(document)


@pytest.mark.parametrize("text", DOMAINS)
@pytest.mark.parametrize("kind", ["transfer", "info", "unlock"])
def test_cltrid_is_deterministic_and_schema_valid(text: str, kind: str) -> None:
    domain = domain_name(text)
    trid = epp.cltrid("baton", domain, kind)
    assert trid == epp.cltrid("baton", domain_name(text), kind)
    assert trid.startswith(f"baton-{kind}-") and 3 <= len(trid) <= 64
    assert trid != epp.cltrid("baton", domain_name("other-" + domain.ascii), kind)
    trid_type = epp_schema()  # the clTRID inside a real document is checked by the schema
    document = epp.remove_transfer_lock(domain, trid)
    assert trid_type.validate(etree.fromstring(document))
    assert etree.fromstring(document).findtext("epp:command/epp:clTRID", namespaces=NS) == trid


def test_cltrid_ignores_spelling_of_the_same_name() -> None:
    assert epp.cltrid("baton", domain_name("STRASSE.de"), "x") == epp.cltrid("baton", domain_name("strasse.de."), "x")
    assert epp.cltrid("baton", domain_name("Straße.de"), "x") == epp.cltrid("baton", domain_name("xn--strae-oqa.de"),
                                                                             "x")


@pytest.mark.parametrize(("prefix", "kind", "fragment"), [
    ("", "transfer", "prefix"),
    ("baton team", "transfer", "prefix"),
    ("baton", "trans fer", "kind"),
    ("baton", "-x", "kind"),
    ("b" * 40, "k" * 20, "at most 64 characters"),
])
def test_cltrid_refuses_bad_parts(prefix: str, kind: str, fragment: str) -> None:
    with pytest.raises(HandoverError, match=fragment):
        epp.cltrid(prefix, domain_name("example.com"), kind)


@pytest.mark.parametrize("trid", ["ab", "x" * 65, "two  spaces", " edge", "tab\there", "nul\x00"])
def test_builders_refuse_a_bad_transaction_id(trid: str) -> None:
    with pytest.raises(HandoverError, match="^transaction id: expected 3 to 64 printable characters"):
        epp.remove_transfer_lock(domain_name("example.com"), trid)


@pytest.mark.parametrize("kind", BUILDERS)
def test_same_inputs_give_byte_identical_documents(kind: str) -> None:
    first = _build(kind, "bücher.co.id")
    assert first == _build(kind, "bücher.co.id")
    assert first == _build(kind, "BÜCHER.co.id.")
    assert first != _build(kind, "bücher.co.uk")
