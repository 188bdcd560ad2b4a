"""EPP command documents for a domain handover (RFC 5730 envelope, RFC 5731 domain mapping).

The successor (or their registrar) submits these to move a domain away: a transfer
request carrying the auth code, an info query, and an update that removes the
``clientTransferProhibited`` lock. Every document is built with lxml (values are escaped
by the library), uses the domain's ASCII (A-label) form, and is validated against the
official schemas in ``handover/schemas/epp`` before it is returned, so an invalid
document is never written to disk. Output is deterministic: the same inputs give
byte-identical UTF-8 documents.

The auth code is a secret: no error raised here ever contains it, including the
schema validator's messages, which are taken from a copy with every ``pw`` redacted.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from handover.errors import HandoverError
from handover.names import DomainName

EPP_NS = "urn:ietf:params:xml:ns:epp-1.0"
DOMAIN_NS = "urn:ietf:params:xml:ns:domain-1.0"
SCHEMA_DIR = Path(__file__).parent / "schemas" / "epp"
SCHEMA_FILES = {
    "urn:ietf:params:xml:ns:eppcom-1.0": "eppcom-1.0.xsd",
    EPP_NS: "epp-1.0.xsd",
    "urn:ietf:params:xml:ns:host-1.0": "host-1.0.xsd",
    DOMAIN_NS: "domain-1.0.xsd",
    "urn:ietf:params:xml:ns:contact-1.0": "contact-1.0.xsd",
}

# eppcom:pwAuthInfoType is a normalizedString with no length facets, so the schema accepts
# an empty code and any length. These bounds are Baton's: a code must be there, and
# anything longer than this is a paste accident, not a registry's auth code.
MIN_AUTH_CODE = 1
MAX_AUTH_CODE = 255
# epp:trIDStringType: a token of 3 to 64 characters.
MIN_TRID = 3
MAX_TRID = 64
TRID_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
TRID_HASH_LENGTH = 12
REDACTED = "[redacted]"
INVALID = "EPP document is not valid against RFC 5730/5731"


# --- the documents -------------------------------------------------------------------------------------------


def transfer_request(domain: DomainName, auth_code: str, cltrid: str) -> bytes:
    """``<transfer op="request">`` for ``domain``, carrying its auth code."""
    _check_auth_code(domain, auth_code)
    command, verb = _command("transfer")
    verb.set("op", "request")
    transfer = _domain_element(verb, "transfer")
    _sub(transfer, "name", domain.ascii)
    _auth_info(transfer, auth_code)
    return _finish(command, cltrid)


def info(domain: DomainName, cltrid: str, auth_code: str | None = None) -> bytes:
    """``<info>`` for ``domain`` with all its hosts; the auth code (when given) lets a non-sponsor read it."""
    if auth_code is not None:
        _check_auth_code(domain, auth_code)
    command, verb = _command("info")
    query = _domain_element(verb, "info")
    _sub(query, "name", domain.ascii).set("hosts", "all")
    if auth_code is not None:
        _auth_info(query, auth_code)
    return _finish(command, cltrid)


def remove_transfer_lock(domain: DomainName, cltrid: str) -> bytes:
    """``<update>`` removing the ``clientTransferProhibited`` status from ``domain``."""
    command, verb = _command("update")
    update = _domain_element(verb, "update")
    _sub(update, "name", domain.ascii)
    _sub(_sub(update, "rem"), "status").set("s", "clientTransferProhibited")
    return _finish(command, cltrid)


def cltrid(prefix: str, domain: DomainName, kind: str) -> str:
    """A deterministic client transaction id: ``<prefix>-<kind>-<12 hex digits of SHA-256 of the ASCII name>``.

    Valid per ``epp:trIDStringType`` (a token of 3 to 64 characters), so rebuilding gives identical files.
    """
    for what, part in (("prefix", prefix), ("kind", kind)):
        if not TRID_PART.fullmatch(part):
            raise HandoverError(f"transaction id {what}: expected letters, digits, '.', '_' or '-' "
                                f"(starting with a letter or digit), got {part!r}")
    digest = hashlib.sha256(domain.ascii.encode("ascii")).hexdigest()[:TRID_HASH_LENGTH]
    value = f"{prefix}-{kind}-{digest}"
    if len(value) > MAX_TRID:
        raise HandoverError(f"transaction id: expected at most {MAX_TRID} characters, got {len(value)} "
                            f"(prefix {prefix!r}, kind {kind!r} are too long)")
    return value


# --- validation ----------------------------------------------------------------------------------------------


def validate(document: bytes) -> None:
    """Nothing, or ``HandoverError`` saying why ``document`` is not a valid EPP document.

    The message never contains a ``pw`` element's content: the schema checks a copy where each is redacted
    (``pw`` has no facets, so this changes no verdict), and any original secret left in a message is masked.
    """
    secrets = _raw_secrets(document)
    try:
        root = etree.fromstring(document, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise HandoverError(f"{INVALID}: not well-formed XML: {_mask(str(exc), secrets)}") from None
    secrets |= _redact(root)
    schema = _schema()
    if schema.validate(root):
        return
    errors = [f"{_mask(error.message, secrets)} (line {error.line})" for error in schema.error_log]
    raise HandoverError(f"{INVALID}: " + "; ".join(errors))


@cache
def _schema() -> Any:
    """The EPP schemas, compiled once: a wrapper importing each namespace from its local file (no network)."""
    xs = "http://www.w3.org/2001/XMLSchema"
    wrapper = etree.Element(f"{{{xs}}}schema", nsmap={"xs": xs})
    for namespace, filename in SCHEMA_FILES.items():
        etree.SubElement(wrapper, f"{{{xs}}}import", namespace=namespace, schemaLocation=filename)
    source = etree.tostring(wrapper)
    base = (SCHEMA_DIR / "wrapper.xsd").as_uri()
    return etree.XMLSchema(etree.fromstring(source, parser=_parser(), base_url=base))


def _parser() -> Any:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _redact(root: Any) -> set[str]:
    """Replace the text of every ``pw`` element (in any namespace) with a placeholder; return the texts."""
    secrets: set[str] = set()
    for element in root.iter("{*}pw"):
        if element.text:
            secrets.add(element.text)
            element.text = REDACTED
    return secrets


def _raw_secrets(document: bytes) -> set[str]:
    """The raw content of ``pw`` elements found textually, to mask them in well-formedness errors."""
    found = re.findall(rb"<(?:[\w.-]+:)?pw\b[^>]*>(.*?)</", document, flags=re.DOTALL)
    return {raw.decode("utf-8", "replace") for raw in found if raw}


def _mask(message: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if secret.strip():
            message = message.replace(secret, REDACTED)
    return message


# --- building blocks -----------------------------------------------------------------------------------------


def _check_auth_code(domain: DomainName, auth_code: str) -> None:
    """Baton's rules for an auth code, in plain words; the code itself never appears in a message."""
    where = f"auth code for {_label(domain)}"
    length = len(auth_code)
    if length < MIN_AUTH_CODE:
        raise HandoverError(f"{where}: expected {MIN_AUTH_CODE} to {MAX_AUTH_CODE} characters, got an empty value")
    if length > MAX_AUTH_CODE:
        raise HandoverError(f"{where}: expected {MIN_AUTH_CODE} to {MAX_AUTH_CODE} characters, "
                            f"got {length} characters")
    for position, char in enumerate(auth_code, start=1):
        if unicodedata.category(char) in ("Cc", "Cs") or char in "\ufffe\uffff":
            raise HandoverError(f"{where}: expected printable characters, got a tab, line break or other "
                                f"control character at position {position} of {length}")
    if auth_code != auth_code.strip():
        raise HandoverError(f"{where}: expected no spaces at the start or end (a copy-and-paste slip?), "
                            f"got {length} characters with surrounding spaces")


def _check_trid(trid: str) -> None:
    """A ``trIDStringType`` token exactly as given: the schema would collapse spaces, and the id would change."""
    printable = all(unicodedata.category(char) not in ("Cc", "Cs") for char in trid)
    if not MIN_TRID <= len(trid) <= MAX_TRID or not printable or trid != " ".join(trid.split()):
        raise HandoverError(f"transaction id: expected {MIN_TRID} to {MAX_TRID} printable characters without "
                            f"surrounding or repeated spaces, got {trid!r}")


def _label(domain: DomainName) -> str:
    return domain.ascii if domain.ascii == domain.unicode else f"{domain.unicode} ({domain.ascii})"


def _command(verb: str) -> tuple[Any, Any]:
    """``<epp><command><verb/>…``: the command element and the verb element."""
    root = etree.Element(f"{{{EPP_NS}}}epp", nsmap={None: EPP_NS})
    command = etree.SubElement(root, f"{{{EPP_NS}}}command")
    return command, etree.SubElement(command, f"{{{EPP_NS}}}{verb}")


def _domain_element(parent: Any, name: str) -> Any:
    return etree.SubElement(parent, f"{{{DOMAIN_NS}}}{name}", nsmap={"domain": DOMAIN_NS})


def _sub(parent: Any, name: str, text: str | None = None) -> Any:
    element = etree.SubElement(parent, f"{{{DOMAIN_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _auth_info(parent: Any, auth_code: str) -> None:
    _sub(_sub(parent, "authInfo"), "pw", auth_code)


def _finish(command: Any, trid: str) -> bytes:
    """Add ``<clTRID>``, serialise (UTF-8, declaration, indented) and validate."""
    _check_trid(trid)
    etree.SubElement(command, f"{{{EPP_NS}}}clTRID").text = trid
    document: bytes = etree.tostring(command.getroottree(), xml_declaration=True, encoding="UTF-8",
                                     pretty_print=True)
    validate(document)
    return document
