"""Reading a WHMCS export: the JSON of the WHMCS API's client, domain and product listings.

The input is what the API actions GetClients, GetClientsDomains and GetClientsProducts answer
(``{"clients": {"client": [...]}}``, ``{"domains": {"domain": [...]}}``, ``{"products": {"product":
[...]}}``), either

* one JSON file holding any of them, merged or each under its key (``{"clients": <GetClients
  response>, "domains": ..., "products": ...}``), or
* a folder with ``GetClients.json`` or ``clients.json``, ``GetClientsDomains.json`` or
  ``domains.json``, ``GetClientsProducts.json`` or ``products.json`` (any of them).

Shapes are found structurally: the list under ``clients.client`` (or ``clients`` itself, or the
file itself when it is a list). Each WHMCS entry becomes a row in the register's CSV columns and
goes through :func:`handover.rows.parse_row`, so a WHMCS export is checked exactly like a CSV
import; errors name the export file and section (``export.json (domains)``), the 1-based position in
the list, and the WHMCS field (``expirydate``), not the CSV column.

Mapping decisions:

* Registrars are not exported by WHMCS: there is one per registrar module the kept domains name
  (id = the module name, a readable name from :data:`REGISTRAR_NAMES`). ``reseller_move`` is set
  for DomainRegister, which moves domains from a reseller's account to the client's.
* WHMCS does not say who a domain's registrant is; every domain is imported as registered in the
  customer's name (``registrant = customer``). Domains held in the reseller's own name must be
  corrected in the register afterwards. ``auto_renew`` is the opposite of ``donotrenew``.
  ``regdate`` is the creation date for a registration, and the last transfer's date when the
  domain came in by transfer (``regtype = Transfer``).
* Domains that are Transferred Away, Cancelled or Fraud, or still pending with no expiry date, and
  services that are Terminated, Cancelled or Fraud are skipped: their result has no record and no
  errors, and a note saying why.
* A service's price needs its currency: the client's ``currencycode`` (or ``currency_code``) when
  the export has it, else a top-level ``"currency": {"code": "IDR"}`` (or ``"currency": "IDR"``).
  With neither, the price is left out and a note says so.
* WHMCS language names (english, indonesian, portuguese-br, italian, ...) become the register's
  codes; others are passed on, so the customer gets English notices and the report says so.

Security: keys that look like secrets (password, pass, secret, api key, token) are dropped while
the JSON is parsed, before anything else sees it; they are never kept, compared or shown.

Memory: each JSON file is loaded whole (a WHMCS export of a one-person business is small); the
CSV import is the streaming path for very large registers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from handover.errors import HandoverError, RowError
from handover.rows import Parsed, Source, parse_row

SECRET_KEY = re.compile(r"pass|secret|api_?key|token|private_?key", re.IGNORECASE)
EXPECTED = "WHMCS API JSON (GetClients, GetClientsDomains or GetClientsProducts responses)"
SECTIONS = {"clients": "client", "domains": "domain", "products": "product"}
FILE_STEMS = {"clients": ("getclients", "clients"), "domains": ("getclientsdomains", "domains"),
              "products": ("getclientsproducts", "products")}

LANGUAGE_NAMES = {"english": "en", "indonesian": "id", "indonesia": "id", "bahasa": "id", "bahasa-indonesia": "id",
                  "portuguese": "pt", "portuguese-pt": "pt", "portuguese-br": "pt", "italian": "it"}
REGISTRAR_NAMES = {
    "resellerclub": "ResellerClub", "enom": "eNom", "namecheap": "Namecheap", "domainregister": "DomainRegister",
    "opensrs": "OpenSRS", "godaddy": "GoDaddy", "netearthone": "NetEarthOne", "logicboxes": "LogicBoxes",
    "internetbs": "Internet.bs", "openprovider": "Openprovider", "centralnic": "CentralNic", "hexonet": "HEXONET",
    "rrpproxy": "RRPproxy", "realtimeregister": "Realtime Register", "namesilo": "NameSilo", "dynadot": "Dynadot",
    "tppwholesale": "TPP Wholesale", "nominet": "Nominet", "heartinternet": "Heart Internet", "gandi": "Gandi",
    "ovh": "OVH", "email": "E-mail registrar (manual)",
}
RESELLER_MOVE = {"domainregister"}
PANEL_NAMES = {"cpanel": "cPanel", "plesk": "Plesk", "directadmin": "DirectAdmin", "interworx": "InterWorx",
               "cyberpanel": "CyberPanel", "virtualmin": "Virtualmin", "ispconfig": "ISPConfig"}
SKIPPED_DOMAINS = {"transferred away", "cancelled", "fraud"}
SKIPPED_SERVICES = {"terminated", "cancelled", "fraud"}

# Where each register column comes from in WHMCS: errors name the WHMCS field.
SOURCES: dict[str, dict[str, str]] = {
    "registrars": {"id": "registrar", "name": "registrar"},
    "customers": {"id": "id", "name": "firstname", "email": "email", "language": "language", "country": "country",
                  "company": "companyname"},
    "domains": {"domain": "domainname", "customer": "userid", "registrar": "registrar", "expires": "expirydate",
                "created": "regdate", "last_transfer": "regdate", "auto_renew": "donotrenew"},
    "hosting": {"id": "id", "customer": "clientid", "provider": "servername", "paid_until": "nextduedate",
                "panel": "servertype", "plan": "name", "server": "serverhostname", "price": "recurringamount",
                "currency": "currencycode", "cycle": "billingcycle", "account": "username", "domain": "domain"},
}
CUSTOMERS_SOURCE = "the export's clients (GetClients)"
NO_DUE_DATE = ("a next due date, YYYY-MM-DD (WHMCS leaves it empty for One Time and Free Account services: "
               "set one, or import the service from hosting.csv)")


@dataclass(frozen=True, slots=True)
class Section:
    """One WHMCS listing: its label for messages, its entries, and problems with its shape."""

    file: str  # e.g. "export.json (domains)"
    items: list[object]
    problems: tuple[RowError, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a listing, as text: ``cells`` by WHMCS key; ``bad`` keys hold no scalar value."""

    row: int
    cells: dict[str, str]
    bad: dict[str, str]  # key -> the JSON type found instead
    read: set[str] = field(default_factory=set)  # the keys the mapping used

    def get(self, key: str) -> str:
        self.read.add(key)
        return self.cells.get(key, "").strip()


def read_export(path: Path) -> dict[str, Iterator[Parsed]]:
    """The export at ``path`` (a JSON file or a folder), as results per register kind, in KIND_ORDER.

    The files are read and their shapes checked at once (``HandoverError`` for unreadable or
    non-WHMCS JSON); the rows are parsed as each iterator is consumed.
    """
    docs = _load_folder(path) if path.is_dir() else _load_file(path)
    sections = {name: _section(label, doc, name) for name, (label, doc) in docs.items()}
    empty = Section("", [])
    clients, domains, products = (sections.get(name, empty) for name in SECTIONS)
    currencies = _client_currencies(clients)
    default = _default_currency(doc for _, doc in docs.values())
    return {"registrars": _registrars(domains), "customers": _customers(clients), "domains": _domains(domains),
            "hosting": _hosting(products, currencies, default)}


# Loading -----------------------------------------------------------------------------------------------------


def _load_file(path: Path) -> dict[str, tuple[str, object]]:
    """The listings in one file: those under their keys, or the one its name says (domains.json: a bare list)."""
    doc = _load(path)
    if isinstance(doc, dict) and doc.keys() & SECTIONS.keys():
        return {name: (f"{path.name} ({name})", doc) for name in SECTIONS if name in doc}
    named = [name for name, stems in FILE_STEMS.items() if path.stem.lower() in stems]
    if named:
        return {named[0]: (f"{path.name} ({named[0]})", doc)}
    raise HandoverError(f"{path.name}: expected {EXPECTED}, got {_kind(doc)} with none of the keys "
                        f"clients, domains, products")


def _load_folder(path: Path) -> dict[str, tuple[str, object]]:
    docs: dict[str, tuple[str, object]] = {}
    for name, stems in FILE_STEMS.items():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json" and p.stem.lower() in stems)
        if len(found) > 1:
            raise HandoverError(f"{path.name}: expected one file with the {name}, got {len(found)}: "
                                f"{', '.join(p.name for p in found)}")
        if found:
            docs[name] = (f"{found[0].name} ({name})", _load(found[0]))
    if not docs:
        raise HandoverError(f"{path.name}: expected a folder with GetClients.json, GetClientsDomains.json or "
                            f"GetClientsProducts.json (or clients.json, domains.json, products.json), got none")
    return docs


def _load(path: Path) -> object:
    """The JSON at ``path`` without any secret-like key; ``HandoverError`` if it is not WHMCS API JSON."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise HandoverError(f"{path.name}: expected a readable file, got {reason}") from None
    except UnicodeDecodeError as exc:
        raise HandoverError(f"{path.name}: expected {EXPECTED}, got bytes that are not UTF-8 text "
                            f"(at byte {exc.start})") from None
    try:
        doc: object = json.loads(text, object_pairs_hook=_without_secrets)
    except json.JSONDecodeError as exc:
        raise HandoverError(f"{path.name}: expected {EXPECTED}, got invalid JSON: {exc.msg} "
                            f"(line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise HandoverError(f"{path.name}: expected {EXPECTED}, got JSON nested too deeply") from None
    if isinstance(doc, dict) and str(doc.get("result", "")).lower() == "error":
        raise HandoverError(f"{path.name}: expected {EXPECTED}, got a WHMCS error response: "
                            f"{_excerpt(str(doc.get('message', '')))}")
    return doc


def _without_secrets(pairs: list[tuple[str, object]]) -> dict[str, object]:
    return {key: value for key, value in pairs if not SECRET_KEY.search(key)}


def _section(label: str, doc: object, name: str) -> Section:
    """The list of ``name`` in ``doc``: under name.singular, under name, or ``doc`` itself."""
    singular, node, total = SECTIONS[name], doc, None
    for _ in range(2):  # the merged response, then a whole response under its key
        if isinstance(node, dict) and name in node:
            if "totalresults" in node and not (node.keys() - {name}) & SECTIONS.keys():
                total = node["totalresults"]
            node = node[name]
    if isinstance(node, dict) and singular in node:
        node = node[singular]
    if node is None or node == "" or node == {}:  # WHMCS answers an empty listing with an empty value
        node = []
    if not isinstance(node, list):
        where = f"{name}.{singular}"
        return Section(label, [], (RowError(label, 0, where, f"a list under {where}", f"a {type(node).__name__}"),))
    return Section(label, node, _truncated(label, name, node, total))


def _truncated(label: str, name: str, items: list[object], total: object) -> tuple[RowError, ...]:
    """An error when WHMCS paged the listing (limitnum defaults to 25): the export lacks entries."""
    try:
        expected = int(str(total))
    except ValueError:
        return ()
    if expected <= len(items):
        return ()
    return (RowError(label, 0, "totalresults", f"all {expected} {name} (WHMCS pages its answers: export again "
                                               f"with limitnum={expected} or more)", f"{len(items)} of them"),)


# Entries -----------------------------------------------------------------------------------------------------


def _problems(section: Section) -> Iterator[Parsed]:
    """A row-0 result with the listing's shape problems, as read_csv gives for a bad header."""
    if section.problems:
        yield Parsed(0, None, section.problems, file=section.file)


def _entries(section: Section, what: str) -> Iterator[Entry | Parsed]:
    """Each entry of ``section`` as text, or a result with the error when it is not a JSON object."""
    for row, item in enumerate(section.items, start=1):
        if not isinstance(item, dict):
            yield Parsed(row, None, (RowError(section.file, row, "*", f"a JSON object (one {what})",
                                              f"a {type(item).__name__}"),), file=section.file)
            continue
        cells: dict[str, str] = {}
        bad: dict[str, str] = {}
        for key, value in item.items():
            text = _scalar(value)
            if text is None:
                bad[key] = type(value).__name__
            else:
                cells[key] = text
        yield Entry(row, cells, bad)


def _scalar(value: object) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _parse(kind: str, values: dict[str, str], section: Section, entry: Entry, notes: list[str]) -> Parsed:
    """``parse_row`` on the values, with errors naming the WHMCS field, and the mapping's notes added."""
    bad = [RowError(section.file, entry.row, key, "a text or number value", f"a {entry.bad[key]}")
           for key in sorted(entry.read & entry.bad.keys())]
    if bad:
        return Parsed(entry.row, None, tuple(bad), file=section.file)
    parsed = parse_row(kind, values, section.file, entry.row)
    errors = tuple(replace(e, column=SOURCES[kind].get(e.column, e.column)) for e in parsed.errors)
    return replace(parsed, errors=errors, notes=parsed.notes + tuple(notes),
                   source=Source(SOURCES[kind], CUSTOMERS_SOURCE))


def _skipped(section: Section, entry: Entry, why: str) -> Parsed:
    return Parsed(entry.row, None, (), (f"{section.file}, row {entry.row}: {why}; not imported",), file=section.file)


def _date(text: str) -> str:
    """WHMCS writes an unset date as 0000-00-00: that is an empty cell."""
    return "" if text.startswith("0000-00-00") else text


def _flag(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


# Registrars and customers ------------------------------------------------------------------------------------


def _registrars(domains: Section) -> Iterator[Parsed]:
    """One registrar per module the kept domains name, at the row of the first such domain."""
    seen: set[str] = set()
    for entry in _entries(domains, "domain"):
        if isinstance(entry, Parsed) or _domain_skip(entry):
            continue
        module = entry.get("registrar")
        if not module or module in seen:
            continue
        seen.add(module)
        values = {"id": module, "name": registrar_name(module),
                  "reseller_move": "yes" if module.lower() in RESELLER_MOVE else "no"}
        yield _parse("registrars", values, domains, entry, [])


def registrar_name(module: str) -> str:
    """A readable name for a WHMCS registrar module (``enom`` → ``eNom``)."""
    return REGISTRAR_NAMES.get(module.lower(), module.replace("_", " ").title())


def _customers(clients: Section) -> Iterator[Parsed]:
    yield from _problems(clients)
    for entry in _entries(clients, "client"):
        if isinstance(entry, Parsed):
            yield entry
            continue
        name = " ".join(part for part in (entry.get("firstname"), entry.get("lastname")) if part)
        values = {"id": entry.get("id"), "name": name or entry.get("companyname"), "email": entry.get("email"),
                  "language": language_code(entry.get("language")),
                  "country": entry.get("countrycode") or entry.get("country"), "company": entry.get("companyname")}
        yield _parse("customers", values, clients, entry, [])


def language_code(name: str) -> str:
    """The register's code for a WHMCS language name; other names are passed on as they are."""
    key = re.sub(r"[\s_]+", "-", name.strip().lower())
    return LANGUAGE_NAMES.get(key, key)


def _client_currencies(clients: Section) -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in _entries(clients, "client"):
        if isinstance(entry, Entry):
            code = entry.get("currencycode") or entry.get("currency_code")
            if code and entry.get("id"):
                found[entry.get("id")] = code
    return found


def _default_currency(docs: Iterator[object]) -> str:
    for doc in docs:
        currency = doc.get("currency") if isinstance(doc, dict) else None
        if isinstance(currency, dict):
            currency = currency.get("code")
        if isinstance(currency, str) and currency.strip():
            return currency.strip()
    return ""


# Domains -----------------------------------------------------------------------------------------------------


def _domain_skip(entry: Entry) -> str | None:
    """Why a domain is not imported, or None."""
    status = entry.get("status")
    name = entry.get("domainname") or "(no name)"
    if status.lower() in SKIPPED_DOMAINS:
        return f"domain {name} is {status} in WHMCS"
    if status.lower().startswith("pending") and not _date(entry.get("expirydate")):
        return f"domain {name} is {status} in WHMCS and has no expiry date yet"
    return None


def _domains(domains: Section) -> Iterator[Parsed]:
    yield from _problems(domains)
    for entry in _entries(domains, "domain"):
        if isinstance(entry, Parsed):
            yield entry
            continue
        why = _domain_skip(entry)
        if why:
            yield _skipped(domains, entry, why)
            continue
        transferred = entry.get("regtype").lower() == "transfer"
        regdate = _date(entry.get("regdate"))
        values = {"domain": entry.get("domainname"), "customer": entry.get("userid"),
                  "registrar": entry.get("registrar"), "expires": _date(entry.get("expirydate")),
                  "registrar_account": "", "created": "" if transferred else regdate,
                  "last_transfer": regdate if transferred else "",
                  "auto_renew": "no" if _flag(entry.get("donotrenew")) else "yes", "registrant": "customer"}
        yield _parse("domains", values, domains, entry, [])


# Hosting -----------------------------------------------------------------------------------------------------


def _hosting(products: Section, currencies: Mapping[str, str], default: str) -> Iterator[Parsed]:
    yield from _problems(products)
    for entry in _entries(products, "service"):
        if isinstance(entry, Parsed):
            yield entry
            continue
        status = entry.get("status")
        if status.lower() in SKIPPED_SERVICES:
            yield _skipped(products, entry, f"service {entry.get('id')} ({entry.get('domain') or entry.get('name')}) "
                                            f"is {status} in WHMCS")
            continue
        yield _service(products, entry, currencies.get(entry.get("clientid")) or default)


def _service(products: Section, entry: Entry, currency: str) -> Parsed:
    notes: list[str] = []
    where = f"{products.file}, row {entry.row}: service {entry.get('id')}"
    provider = entry.get("servername") or entry.get("serverhostname")
    if not provider:
        notes.append(f"{where}: WHMCS names no server; the provider is recorded as 'unknown'")
    price = entry.get("recurringamount")
    if price and not currency:
        if price.strip("0."):  # a zero amount goes without a word
            notes.append(f"{where}: no currency known for client {entry.get('clientid')}, so the price is left out "
                         f"(add \"currency\": {{\"code\": \"IDR\"}} at the top of the export)")
        price = ""
    module = entry.get("servertype") or entry.get("module")
    values = {"id": entry.get("id"), "customer": entry.get("clientid"), "provider": provider or "unknown",
              "paid_until": _date(entry.get("nextduedate")), "panel": PANEL_NAMES.get(module.lower(), module),
              "plan": entry.get("name"), "server": entry.get("serverhostname"), "price": price,
              "currency": currency if price else "", "cycle": entry.get("billingcycle"),
              "packaging": "individual", "account": entry.get("username"), "domain": entry.get("domain")}
    parsed = _parse("hosting", values, products, entry, notes)
    errors = tuple(replace(e, expected=NO_DUE_DATE) if e.column == "nextduedate" and not values["paid_until"]
                   else e for e in parsed.errors)
    return replace(parsed, errors=errors)


# Messages ----------------------------------------------------------------------------------------------------


def _kind(doc: object) -> str:
    return f"a JSON {'object' if isinstance(doc, dict) else type(doc).__name__}"


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= 80 else text[:77] + "...")
