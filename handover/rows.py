"""Register rows: the documented CSV columns, and turning one row of text into a record.

Every cell is checked; a bad row yields every problem it has (file, row, column, what was
expected, what arrived), so one import run reports them all. An unsupported language is
not an error: the customer gets English and the import report says so.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from handover.cycles import cycle_from_text
from handover.errors import HandoverError, RowError
from handover.model import LANGUAGES, Customer, Cycle, Domain, Hosting, Packaging, Registrant, Registrar
from handover.names import domain_name

EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
EPP_STATUS = re.compile(r"^(client|server)?[A-Za-z]+$")
YES = {"yes", "y", "true", "1", "on"}
NO = {"no", "n", "false", "0", "off", ""}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    required: bool
    kind: str  # how the cell is read: text, email, date, bool, language, domain, decimal, …
    help: str


def _c(name: str, kind: str, help: str, required: bool = False) -> Column:
    return Column(name, required, kind, help)


COLUMNS: dict[str, tuple[Column, ...]] = {
    "customers": (
        _c("id", "id", "your customer id (as in your billing system)", True),
        _c("name", "text", "the customer's name", True),
        _c("email", "email", "where notices go"),
        _c("language", "language", f"notice language: {', '.join(LANGUAGES)} (others fall back to en)"),
        _c("country", "country", "ISO 3166 two-letter code, e.g. ID, BR, IT"),
        _c("company", "text", "company name, if any"),
    ),
    "domains": (
        _c("domain", "domain", "the name, Unicode or ASCII (IDNA 2008)", True),
        _c("customer", "id", "the customer id it belongs to", True),
        _c("registrar", "id", "the registrar's id (see registrars)", True),
        _c("expires", "date", "expiry date, YYYY-MM-DD", True),
        _c("registrar_account", "text", "the account at the registrar that holds it"),
        _c("created", "date", "registration date"),
        _c("last_transfer", "date", "date of the last inter-registrar transfer"),
        _c("last_owner_change", "date", "date of the last change of registrant"),
        _c("owner_change_opt_out", "bool", "yes if the 60-day lock was opted out at that change"),
        _c("statuses", "statuses", "EPP statuses, space-separated (e.g. clientTransferProhibited)"),
        _c("auto_renew", "bool", "yes or no"),
        _c("registrant", "registrant", "customer (the customer owns it) or reseller (in your name)"),
    ),
    "hosting": (
        _c("id", "id", "your service id", True),
        _c("customer", "id", "the customer id", True),
        _c("provider", "text", "the upstream provider", True),
        _c("paid_until", "date", "the end of the paid period, YYYY-MM-DD", True),
        _c("panel", "text", "control panel (cPanel, Plesk, DirectAdmin, …)"),
        _c("plan", "text", "plan or package name"),
        _c("server", "text", "server host name"),
        _c("price", "decimal", "price per billing cycle, e.g. 150000 or 9.90"),
        _c("currency", "currency", "ISO 4217 code, e.g. IDR, EUR, BRL"),
        _c("cycle", "cycle", f"billing cycle: {', '.join(c.value for c in Cycle)} (or a synonym, see the README)"),
        _c("packaging", "packaging", "individual (own package upstream) or pooled (shared reseller pool)"),
        _c("account", "text", "the package's id or user name at the provider"),
        _c("domain", "text", "the site's main domain"),
    ),
    "registrars": (
        _c("id", "id", "a short id used in domains.csv", True),
        _c("name", "text", "the registrar's name", True),
        _c("ticket_email", "email", "where support tickets go"),
        _c("reseller_move", "bool", "yes if it moves domains from a reseller's account to the client's"),
        _c("epp", "bool", "yes if requests can be sent over EPP"),
        _c("reseller_account", "text", "your reseller account id there"),
        _c("documents", "list", "documents it requires for a succession, separated by ;"),
        _c("website", "text", "its website"),
    ),
}
KIND_ORDER = ("registrars", "customers", "domains", "hosting")  # references point backwards


def _text(value: str) -> str | None:
    value = value.strip()
    return value or None


def _id(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 100 or any(ch in value for ch in "\r\n\t"):
        raise HandoverError(f"an id of 1 to 100 characters on one line, got {_shown(value)}")
    return value


def _email(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if not EMAIL.match(value) or len(value) > 320:
        raise HandoverError(f"an e-mail address like name@example.com, got {_shown(value)}")
    return value


def _date(value: str) -> date | None:
    value = value.strip()
    if not value or value.startswith("0000-00-00"):
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value).date()  # WHMCS writes "2027-01-31 00:00:00"
    except ValueError:
        raise HandoverError(f"a date as YYYY-MM-DD, got {_shown(value)}") from None


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in YES:
        return True
    if v in NO:
        return False
    raise HandoverError(f"yes or no, got {_shown(value)}")


def _decimal(value: str) -> Decimal | None:
    v = value.strip()
    if not v:
        return None
    if len(v) > 24:
        raise HandoverError(f"an amount of at most 24 characters, got {len(v)} characters")
    try:
        amount = Decimal(v)
    except InvalidOperation:
        raise HandoverError(f"an amount like 150000 or 9.90 (a dot for decimals, no thousands separator), "
                            f"got {_shown(value)}") from None
    if not amount.is_finite() or amount < 0:
        raise HandoverError(f"an amount of zero or more, got {_shown(value)}")
    return amount


def _currency(value: str) -> str | None:
    v = value.strip().upper()
    if not v:
        return None
    if not CURRENCY.match(v):
        raise HandoverError(f"a three-letter ISO 4217 code like IDR or EUR, got {_shown(value)}")
    return v


def _country(value: str) -> str | None:
    v = value.strip().upper()
    if not v:
        return None
    if not re.fullmatch(r"[A-Z]{2}", v):
        raise HandoverError(f"a two-letter ISO 3166 code like ID or IT, got {_shown(value)}")
    return v


def _choice(enum: Any) -> Callable[[str], Any]:
    def read(value: str) -> Any:
        v = value.strip().lower()
        if not v:
            return None
        try:
            return enum(v)
        except ValueError:
            raise HandoverError(f"one of {', '.join(e.value for e in enum)}, got {_shown(value)}") from None
    return read


def _statuses(value: str) -> tuple[str, ...]:
    found = tuple(dict.fromkeys(s for s in re.split(r"[\s,;]+", value.strip()) if s))
    for status in found:
        if not EPP_STATUS.match(status):
            raise HandoverError(f"EPP statuses such as clientTransferProhibited, got {_shown(status)}")
    return found


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(";") if item.strip())


def _domain(value: str) -> Any:
    try:
        return domain_name(value)
    except HandoverError as exc:
        raise HandoverError(str(exc).removeprefix("expected ")) from None


READERS: dict[str, Callable[[str], Any]] = {
    "id": _id, "text": _text, "email": _email, "date": _date, "bool": _bool, "decimal": _decimal,
    "currency": _currency, "country": _country, "cycle": cycle_from_text, "packaging": _choice(Packaging),
    "registrant": _choice(Registrant), "statuses": _statuses, "list": _list, "domain": _domain,
    "language": lambda v: v.strip().lower().replace("_", "-") or None,
}


def _shown(value: str) -> str:
    if not value.strip():
        return "an empty value"
    return repr(value if len(value) <= 80 else value[:77] + "...")


Record = Customer | Domain | Hosting | Registrar


@dataclass(frozen=True, slots=True)
class Source:
    """How the file a row came from names things, for the errors found after parsing (a duplicate, an
    unknown customer): its name for each register column, and where its customers are listed."""

    columns: Mapping[str, str] = field(default_factory=dict)  # register column -> the file's own name for it
    customers: str = "customers.csv"

    def column(self, name: str) -> str:
        return self.columns.get(name, name)


CSV_SOURCE = Source()


@dataclass(frozen=True, slots=True)
class Parsed:
    """One data row: its record, or the errors that kept it from being one; and notes for the report."""

    row: int
    record: Record | None
    errors: tuple[RowError, ...] = ()
    notes: tuple[str, ...] = ()
    file: str = ""
    source: Source = CSV_SOURCE


def check_header(kind: str, header: Iterable[str], file: str) -> list[RowError]:
    """Errors for missing required columns and unknown ones (a typo must not silently drop data)."""
    names = [h.strip() for h in header]
    known = {c.name for c in COLUMNS[kind]}
    errors = [RowError(file, 0, c.name, f"a column {c.name!r} ({c.help})", "no such column in the header")
              for c in COLUMNS[kind] if c.required and c.name not in names]
    errors += [RowError(file, 0, name, f"one of the {kind} columns: {', '.join(sorted(known))}",
                        f"an unknown column {name!r}") for name in names if name and name not in known]
    duplicated = {n for n in names if n and names.count(n) > 1}
    errors += [RowError(file, 0, name, "each column once", "it twice") for name in sorted(duplicated)]
    return errors


def parse_row(kind: str, values: Mapping[str, str | None], file: str, row: int) -> Parsed:
    """Read one row of ``kind`` (a mapping of column name to text)."""
    return replace(_parse_row(kind, values, file, row), file=file)


def _parse_row(kind: str, values: Mapping[str, str | None], file: str, row: int) -> Parsed:
    cells: dict[str, Any] = {}
    errors: list[RowError] = []
    notes: list[str] = []
    for column in COLUMNS[kind]:
        text = values.get(column.name) or ""
        if column.required and not text.strip():
            errors.append(RowError(file, row, column.name, column.help, "an empty value"))
            continue
        if "\x00" in text:  # never meant, and PostgreSQL cannot store it in text
            errors.append(RowError(file, row, column.name, "text without NUL characters", "a NUL (U+0000)"))
            continue
        try:
            cells[column.name] = READERS[column.kind](text)
        except HandoverError as exc:
            errors.append(RowError(file, row, column.name, *_split(str(exc))))
            continue
        if column.required and cells[column.name] is None:  # e.g. a 0000-00-00 date
            errors.append(RowError(file, row, column.name, column.help, repr(text.strip())))
    if errors:
        return Parsed(row, None, tuple(errors))
    record: Record
    if kind == "customers":
        language = cells["language"]
        if language is not None and language not in LANGUAGES:
            base = language.split("-")[0]
            if base in LANGUAGES:
                language = base
            else:
                notes.append(f"{file}, row {row}: customer {cells['id']}: language {cells['language']!r} "
                             f"is not supported; notices to them will be in English")
                language = "en"
        record = Customer(cells["id"], cells["name"], cells["email"], language, cells["country"], cells["company"])
    elif kind == "domains":
        record = Domain(cells["domain"], cells["customer"], cells["registrar"], cells["expires"],
                        cells["registrar_account"], cells["created"], cells["last_transfer"],
                        cells["last_owner_change"], cells["owner_change_opt_out"], cells["statuses"],
                        cells["auto_renew"], cells["registrant"] or Registrant.CUSTOMER)
        order = [(n, cells[n]) for n in ("created", "last_transfer", "last_owner_change") if cells[n]]
        for name, when in order:
            if when > record.expires:
                return Parsed(row, None, (RowError(file, row, name, f"a date before the expiry ({record.expires})",
                                                   str(when)),))
    elif kind == "hosting":
        if cells["price"] is not None and cells["currency"] is None:
            return Parsed(row, None, (RowError(file, row, "currency", "a currency for the price",
                                               "an empty value"),))
        record = Hosting(cells["id"], cells["customer"], cells["provider"], cells["paid_until"], cells["panel"],
                         cells["plan"], cells["server"], cells["price"], cells["currency"], cells["cycle"],
                         cells["packaging"] or Packaging.INDIVIDUAL, cells["account"], cells["domain"])
    else:
        record = Registrar(cells["id"], cells["name"], cells["ticket_email"], cells["reseller_move"], cells["epp"],
                           cells["reseller_account"], cells["documents"], cells["website"])
    return Parsed(row, record, (), tuple(notes))


def _split(message: str) -> tuple[str, str]:
    """``"X, got Y"`` → (X, Y)."""
    expected, sep, got = message.partition(", got ")
    return (expected, got) if sep else (message, "a value that does not fit")


def kind_of(path: Path) -> str | None:
    """The kind a CSV file holds, from its name (customers.csv, domains.csv, hosting.csv, registrars.csv)."""
    stem = path.stem.lower()
    for kind in COLUMNS:
        if stem == kind or stem.endswith(("-" + kind, "_" + kind)) or stem == kind.rstrip("s"):
            return kind
    return None


def read_csv(path: Path, kind: str) -> Iterator[Parsed]:
    """Parse ``path`` row by row (constant memory); a bad header yields one row-0 result with its errors.

    Rows are numbered as a spreadsheet shows them, the header being row 0: a cell spanning
    several lines is one row, and a blank line is a row too (skipped, but counted).
    """
    file = path.name
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip() for name in next(reader, [])]
            problems = check_header(kind, header, file) if header else [
                RowError(file, 0, "*", f"a header line with the {kind} columns", "an empty file")]
            if problems:
                yield Parsed(0, None, tuple(problems), file=file)
                return
            for number, cells in enumerate(reader, start=1):
                if len(cells) > len(header):
                    yield Parsed(number, None, (RowError(file, number, "*", f"{len(header)} cells",
                                                         f"{len(cells)} (a stray comma?)"),), file=file)
                    continue
                if not any(cell.strip() for cell in cells):
                    continue  # a blank line
                yield parse_row(kind, dict(zip(header, cells, strict=False)), file, number)  # short rows: empty
        except (csv.Error, UnicodeDecodeError) as exc:
            yield Parsed(0, None, (RowError(file, 0, "*", "UTF-8 CSV text", f"unreadable text ({exc})"),), file=file)
