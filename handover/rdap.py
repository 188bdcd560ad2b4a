"""RDAP answers, read without I/O: the IANA bootstrap (RFC 9224), domain objects (RFC 9083), and what differs.

``parse_bootstrap`` turns the IANA ``dns.json`` into a ``Bootstrap`` that names the RDAP
service of a domain (the longest matching label suffix wins, HTTPS before HTTP).
``parse_domain`` reads a domain object into an ``Observed``: its dates (in UTC), its
statuses (RDAP's words mapped to EPP's names, RFC 8056 section 2) and its registrar.
``compare`` lists where the register and the registry disagree.

Only what the registry published is compared: a missing expiry, an empty status list or
an unnamed registrar is not a difference (many ccTLD registries leave some of them out).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from handover.errors import HandoverError
from handover.model import Domain
from handover.names import DomainName

# RFC 8056 section 2: the RDAP status for each EPP status. Keyed by RDAP word, valued by EPP name.
EPP_OF_RDAP: Mapping[str, str] = {
    "add period": "addPeriod",
    "auto renew period": "autoRenewPeriod",
    "client delete prohibited": "clientDeleteProhibited",
    "client hold": "clientHold",
    "client renew prohibited": "clientRenewProhibited",
    "client transfer prohibited": "clientTransferProhibited",
    "client update prohibited": "clientUpdateProhibited",
    "inactive": "inactive",
    "associated": "linked",
    "active": "ok",
    "pending create": "pendingCreate",
    "pending delete": "pendingDelete",
    "pending renew": "pendingRenew",
    "pending restore": "pendingRestore",
    "pending transfer": "pendingTransfer",
    "pending update": "pendingUpdate",
    "redemption period": "redemptionPeriod",
    "renew period": "renewPeriod",
    "server delete prohibited": "serverDeleteProhibited",
    "server hold": "serverHold",
    "server renew prohibited": "serverRenewProhibited",
    "server transfer prohibited": "serverTransferProhibited",
    "server update prohibited": "serverUpdateProhibited",
    "transfer period": "transferPeriod",
}
_EPP_BY_FOLDED = {epp.lower(): epp for epp in EPP_OF_RDAP.values()}

EVENTS = {"expiration": "expires", "registration": "created", "transfer": "last_transfer",
          "last changed": "last_changed"}

# Legal-form words dropped at either end of a registrar's name before names are compared.
LEGAL_FORMS = frozenset({
    "inc", "incorporated", "llc", "ltd", "limited", "corp", "corporation", "co", "company", "plc", "lp", "llp",
    "gmbh", "ag", "kg", "ug", "srl", "spa", "sas", "sarl", "sa", "sl", "bv", "nv", "ab", "oy", "as", "aps",
    "pty", "kk", "pt", "tbk", "cv", "ltda", "sro", "se", "uab", "dba",
})


@dataclass(frozen=True)
class Observed:
    """What the registry publishes about one domain (``domain`` in ASCII)."""

    domain: str
    expires: date | None
    created: date | None
    last_transfer: date | None
    last_changed: date | None
    statuses: tuple[str, ...]
    registrar_name: str | None
    registrar_iana_id: str | None


@dataclass(frozen=True)
class Difference:
    """One field where the register and the registry disagree, both sides as text."""

    domain: str
    field: str  # "expires" | "statuses" | "registrar"
    register: str
    rdap: str


@dataclass(frozen=True)
class Bootstrap:
    """The IANA DNS bootstrap: each entry (a TLD or longer suffix, in ASCII) with its base URLs."""

    services: Mapping[str, tuple[str, ...]]

    def url_for(self, name: DomainName) -> str | None:
        """The base URL for ``name``: the longest matching suffix's first HTTPS URL, else its first HTTP one."""
        labels = name.ascii.lower().split(".")
        for start in range(len(labels)):
            urls = self.services.get(".".join(labels[start:]))
            if urls:
                return _preferred(urls)
        return None


# -- showing what arrived -----------------------------------------------------------------------------------------
def _shown(value: object) -> str:
    """A short description of an unexpected value: its repr for scalars, its type for containers."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expect_list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise HandoverError(f"expected {what} to be a list, got {_shown(value)}")
    return value


# -- the bootstrap ------------------------------------------------------------------------------------------------
def parse_bootstrap(data: object) -> Bootstrap:
    """Read an RFC 9224 DNS bootstrap file: ``{"services": [[[entries], [urls]], ...]}``."""
    if not isinstance(data, Mapping):
        raise HandoverError(f"expected an RDAP bootstrap (a JSON object), got {_shown(data)}")
    services: dict[str, tuple[str, ...]] = {}
    for index, service in enumerate(_expect_list(data.get("services"), "the bootstrap's 'services'")):
        if not (isinstance(service, list) and len(service) >= 2):
            raise HandoverError(f"expected bootstrap service {index} to be [[entries], [urls]], got {_shown(service)}")
        entries = _strings(service[0], f"the entries of bootstrap service {index}")
        urls = tuple(u for u in _strings(service[1], f"the URLs of bootstrap service {index}")
                     if u.lower().startswith(("https://", "http://")))
        for entry in entries:
            services[entry.lower().strip(".")] = urls
    return Bootstrap(services)


def _strings(value: object, what: str) -> list[str]:
    items = _expect_list(value, what)
    if not all(isinstance(item, str) for item in items):
        raise HandoverError(f"expected {what} to be strings, got {_shown(items)}")
    return items


def _preferred(urls: Iterable[str]) -> str | None:
    ordered = sorted(urls, key=lambda u: not u.lower().startswith("https://"))  # stable: HTTPS first, else in order
    return ordered[0] if ordered else None


# -- the domain object --------------------------------------------------------------------------------------------
def parse_domain(data: Mapping[str, Any], asked: DomainName) -> Observed:
    """Read an RFC 9083 domain object answering for ``asked``, or ``HandoverError`` saying what is wrong."""
    if not isinstance(data, Mapping):
        raise HandoverError(f"expected an RDAP domain object (a JSON object), got {_shown(data)}")
    _check_identity(data, asked)
    dates = _events(data.get("events"))
    name, iana_id = _registrar(data.get("entities"))
    return Observed(
        domain=asked.ascii,
        expires=dates.get("expires"),
        created=dates.get("created"),
        last_transfer=dates.get("last_transfer"),
        last_changed=dates.get("last_changed"),
        statuses=statuses_of(_strings(data.get("status"), "'status'")),
        registrar_name=name,
        registrar_iana_id=iana_id,
    )


def _check_identity(data: Mapping[str, Any], asked: DomainName) -> None:
    kind = data.get("objectClassName")
    if kind != "domain":
        raise HandoverError(f"expected an RDAP object of class 'domain', got {_shown(kind)}")
    ldh = data.get("ldhName")
    if not isinstance(ldh, str):
        raise HandoverError(f"expected the domain's 'ldhName' as text, got {_shown(ldh)}")
    folded = ldh.strip().lower()
    folded = folded[:-1] if folded.endswith(".") else folded
    if folded not in (asked.ascii, asked.unicode.lower()):
        raise HandoverError(f"expected the RDAP answer for {asked.ascii}, got one for {_shown(ldh)}")


def _events(value: object) -> dict[str, date]:
    """The latest date of each event we keep, by Observed field name."""
    dates: dict[str, date] = {}
    for event in _expect_list(value, "'events'"):
        if not isinstance(event, Mapping):
            raise HandoverError(f"expected each event to be an object, got {_shown(event)}")
        action = event.get("eventAction")
        field = EVENTS.get(action.strip().lower()) if isinstance(action, str) else None
        if field is None:
            continue
        when = utc_date(event.get("eventDate"), f"the {action} event")
        dates[field] = max(when, dates.get(field, when))
    return dates


def utc_date(value: object, what: str = "a date") -> date:
    """The UTC calendar date of an ISO 8601 timestamp (``Z`` or an offset; no offset is taken as UTC)."""
    if not isinstance(value, str):
        raise HandoverError(f"expected an ISO 8601 date in {what}, got {_shown(value)}")
    try:
        moment = datetime.fromisoformat(value.strip().upper())
    except ValueError:
        raise HandoverError(f"expected an ISO 8601 date in {what}, got {_shown(value)}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def epp_status(status: str) -> str:
    """The EPP name of an RDAP (or EPP) status; one this module does not know is kept as given."""
    folded = " ".join(status.replace("_", " ").split()).lower()
    return EPP_OF_RDAP.get(folded) or _EPP_BY_FOLDED.get(folded) or status.strip()


def statuses_of(values: Iterable[str]) -> tuple[str, ...]:
    """EPP names for RDAP statuses, in order, without repeats or empty strings."""
    return tuple(dict.fromkeys(epp_status(v) for v in values if v.strip()))


def _registrar(value: object) -> tuple[str | None, str | None]:
    """The name and IANA id of the first top-level entity with the role ``registrar``."""
    for entity in _expect_list(value, "'entities'"):
        if not isinstance(entity, Mapping):
            raise HandoverError(f"expected each entity to be an object, got {_shown(entity)}")
        roles = entity.get("roles")
        if isinstance(roles, list) and "registrar" in roles:
            return _vcard_name(entity.get("vcardArray")), _iana_id(entity.get("publicIds"))
    return None, None


def _vcard_name(value: object) -> str | None:
    """The ``fn`` of a jCard (RFC 7095), else its ``org``; None when neither is there."""
    if not (isinstance(value, list) and len(value) >= 2 and isinstance(value[1], list)):
        return None
    found: dict[str, str] = {}
    for prop in value[1]:
        if isinstance(prop, list) and len(prop) >= 4 and prop[0] in ("fn", "org"):
            text = prop[3] if isinstance(prop[3], str) else " ".join(p for p in prop[3] if isinstance(p, str))
            if text.strip():
                found.setdefault(prop[0], text.strip())
    return found.get("fn") or found.get("org")


def _iana_id(value: object) -> str | None:
    if not isinstance(value, list):
        return None
    for public in value:
        if isinstance(public, Mapping) and str(public.get("type", "")).strip().lower() == "iana registrar id":
            identifier = public.get("identifier")
            if isinstance(identifier, str | int) and str(identifier).strip():
                return str(identifier).strip()
    return None


# -- comparing ----------------------------------------------------------------------------------------------------
def compare(domain: Domain, registrar_name: str, observed: Observed) -> list[Difference]:
    """Where the register (``domain`` and its registrar's name) and the registry's answer disagree."""
    if observed.domain != domain.name.ascii:
        raise HandoverError(f"expected the RDAP answer for {domain.name.ascii}, got one for {observed.domain}")
    name = domain.name.ascii
    found: list[Difference] = []
    if observed.expires is not None and observed.expires != domain.expires:
        found.append(Difference(name, "expires", domain.expires.isoformat(), observed.expires.isoformat()))
    ours, theirs = _status_set(domain.statuses), _status_set(observed.statuses)
    if observed.statuses and ours != theirs:
        found.append(Difference(name, "statuses", _listed(ours), _listed(theirs)))
    if observed.registrar_name and not same_registrar(registrar_name, observed.registrar_name):
        found.append(Difference(name, "registrar", registrar_name, observed.registrar_name))
    return found


def _status_set(statuses: Iterable[str]) -> frozenset[str]:
    """Statuses as EPP names, without ``ok`` (which only says that no other status is set)."""
    return frozenset(statuses_of(statuses)) - {"ok"}


def _listed(statuses: frozenset[str]) -> str:
    return " ".join(sorted(statuses)) or "ok"


def registrar_key(name: str) -> str:
    """A registrar's name reduced for comparison.

    Unicode-normalised (NFKC) and case-folded; a web address's ending dropped (``GoDaddy.com``
    is ``godaddy``); dots and apostrophes removed (``S.r.l.`` is ``srl``); other punctuation
    splits words; legal-form words (``LEGAL_FORMS``: Inc, LLC, Ltd, S.r.l., GmbH, PT, ...)
    dropped at either end (unless nothing else is left); the words then joined without spaces
    (so ``Go Daddy`` and ``GoDaddy`` agree). ``GoDaddy.com, LLC`` becomes ``godaddy``.
    """
    text = unicodedata.normalize("NFKC", name).casefold()
    text = re.sub(r"(?<=\w\w)\.[a-z]{2,6}(?![\w.])", "", text)  # a web address's ending: GoDaddy.com
    text = re.sub(r"[.'\u2019]", "", text)
    words = re.sub(r"[\W_]+", " ", text).split()
    start, end = 0, len(words)
    while end > start and words[end - 1] in LEGAL_FORMS:
        end -= 1
    while start < end and words[start] in LEGAL_FORMS:
        start += 1
    return "".join(words[start:end] or words)


def same_registrar(register: str, rdap: str) -> bool:
    """Whether two registrar names are the same once reduced by ``registrar_key``."""
    return registrar_key(register) == registrar_key(rdap)
