"""The register in the database: all-or-nothing imports, and reading it back for reports.

An import runs in one transaction. Rows stream in batches: each batch is checked
against what the import already wrote (duplicates, unknown customers) with a query, so
memory stays flat however long the file; rows are upserted by their id, and the first
bad row marks the import as failed. At the end, any error rolls the whole transaction
back and every bad row is reported; nothing is half-imported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from baton.store.engine import insert_id, reading
from baton.store.tables import customers, domains, handover_profiles, hosting, register_imports, registrars
from handover.errors import ImportRejected, RowError
from handover.model import (
    Customer,
    Cycle,
    Domain,
    Event,
    HandoverProfile,
    Hosting,
    Packaging,
    Register,
    Registrant,
    Registrar,
    Settlement,
    Successor,
)
from handover.names import DomainName
from handover.rows import KIND_ORDER, Parsed
from switch.durations import kind

BATCH = 1000
MAX_REPORTED = 1000  # errors listed in full; beyond this, counted


@dataclass
class ImportReport:
    import_id: int = 0
    created: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KIND_ORDER})
    updated: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KIND_ORDER})
    notes: list[str] = field(default_factory=list)

    notes_left_out: int = 0

    def note(self, notes: Iterable[str]) -> None:
        """Keep the first ``MAX_REPORTED`` notes; count the rest (memory must not grow with the file)."""
        for note in notes:
            if len(self.notes) < MAX_REPORTED:
                self.notes.append(note)
            else:
                self.notes_left_out += 1

    def to_dict(self) -> dict[str, Any]:
        notes = self.notes + ([f"… and {self.notes_left_out} more notes like these"] if self.notes_left_out else [])
        return {"import": self.import_id, "created": self.created, "updated": self.updated, "notes": notes}


@dataclass(frozen=True)
class _Kind:
    table: Table
    key: str  # the table's id column
    label: str  # how the id is named in messages


KINDS = {"registrars": _Kind(registrars, "rid", "registrar id"), "customers": _Kind(customers, "cid", "customer id"),
         "domains": _Kind(domains, "ascii", "domain"), "hosting": _Kind(hosting, "hid", "service id")}


class _Errors:
    def __init__(self) -> None:
        self.shown: list[RowError] = []
        self.total = 0

    def add(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            self.total += 1
            if len(self.shown) < MAX_REPORTED:
                self.shown.append(error)


def import_register(engine: Engine, owner_id: int, streams: dict[str, Iterator[Parsed]], now: datetime
                    ) -> ImportReport:
    """Import every stream in one transaction; ``ImportRejected`` (and no change) if any row is bad."""
    report = ImportReport()
    errors = _Errors()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # The batch look-ups repeat with new keys; a generic plan (made after five runs, from the
            # statistics of tables still empty when the import began) scans every row imported so far
            # for each batch. Plans made for each batch's keys use the unique index: linear, not quadratic.
            conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        seq = insert_id(conn, insert(register_imports).values(owner_id=owner_id, at=now, report={}))
        report.import_id = seq
        for kind in KIND_ORDER:
            rows = streams.get(kind)
            while rows is not None and (batch := list(islice(rows, BATCH))):
                _import_batch(conn, owner_id, seq, kind, batch, errors, report)
        if errors.total:
            raise ImportRejected(errors.shown, errors.total)
        conn.execute(update(register_imports).where(register_imports.c.id == seq).values(report=report.to_dict()))
    return report


def _import_batch(conn: Connection, owner_id: int, seq: int, kind: str, batch: list[Parsed], errors: _Errors,
                  report: ImportReport) -> None:
    spec = KINDS[kind]
    good: dict[str, tuple[int, Parsed, dict[str, Any]]] = {}  # key → (row, parsed, values)
    for parsed in batch:
        report.note(parsed.notes)
        if parsed.record is None:
            errors.add(parsed.errors)
            continue
        values = _values(parsed.record)
        key = values[spec.key]
        if key in good:
            errors.add([RowError(_file_of(parsed), parsed.row, parsed.source.column(_column(kind)),
                                 f"a {spec.label} not already in this import",
                                 f"{_shown_key(parsed.record)}, already on row {good[key][0]}")])
            continue
        good[key] = (parsed.row, parsed, values)
    if not good:
        return
    table = spec.table
    seen = {r[0]: (r[1], r[2]) for r in conn.execute(
        select(table.c[spec.key], table.c.import_seq, table.c.import_row)
        .where(table.c.owner_id == owner_id, table.c[spec.key].in_(list(good))))}
    for key, (seq_before, row_before) in seen.items():
        if seq_before == seq:
            row, parsed, values = good.pop(key)
            errors.add([RowError(_file_of(parsed), row, parsed.source.column(_column(kind)),
                                 f"a {spec.label} not already in this import",
                                 f"{values.get('unicode', key)!r}, already on row {row_before}")])
    if kind in ("domains", "hosting"):
        _check_references(conn, owner_id, seq, kind, good, errors, report)
    if not good:
        return
    # Good rows are written even once the import is failing (the transaction is rolled back at
    # the end): later batches are checked against them, so a row that names a good customer, or
    # repeats a good row, is reported as what it is, and not because an unrelated row was bad.
    updated = sum(1 for key in good if key in seen)
    report.created[kind] += len(good) - updated
    report.updated[kind] += updated
    rows = [{**values, "owner_id": owner_id, "import_seq": seq, "import_row": row}
            for row, _parsed, values in good.values()]
    _upsert(conn, table, spec.key, rows)


def _check_references(conn: Connection, owner_id: int, seq: int, kind: str,
                      good: dict[str, tuple[int, Parsed, dict[str, Any]]], errors: _Errors,
                      report: ImportReport) -> None:
    wanted = {values["customer"] for _row, _parsed, values in good.values()}
    known = set(conn.execute(select(customers.c.cid).where(customers.c.owner_id == owner_id,
                                                          customers.c.cid.in_(wanted))).scalars())
    for key in list(good):
        row, parsed, values = good[key]
        if values["customer"] not in known:
            del good[key]
            errors.add([RowError(_file_of(parsed), row, parsed.source.column("customer"),
                                 f"the id of a customer in {parsed.source.customers} or already in the register",
                                 f"{values['customer']!r}, which is neither")])
    if kind != "domains":
        return
    wanted = {values["registrar"] for _row, _parsed, values in good.values()}
    known = set(conn.execute(select(registrars.c.rid).where(registrars.c.owner_id == owner_id,
                                                           registrars.c.rid.in_(wanted))).scalars())
    missing = sorted(wanted - known)
    if missing:
        report.note(f"registrar {rid!r} is not in registrars.csv: added with its id as name; add a "
                            f"row for it to say how it takes requests" for rid in missing)
        _upsert(conn, registrars, "rid", [
            {"owner_id": owner_id, "rid": rid, "name": rid, "documents": [], "reseller_move": False, "epp": False,
             "import_seq": seq, "import_row": 0} for rid in missing])


def _upsert(conn: Connection, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    columns = [c for c in rows[0] if c not in ("owner_id", key)]
    stmt = stmt.on_conflict_do_update(index_elements=["owner_id", key],
                                      set_={c: stmt.excluded[c] for c in columns})
    conn.execute(stmt, rows)


def _column(kind: str) -> str:
    return {"domains": "domain", "registrars": "id", "customers": "id", "hosting": "id"}[kind]


def _file_of(parsed: Parsed) -> str:
    return parsed.file or "import"


def _shown_key(record: Any) -> str:
    if isinstance(record, Domain):
        return repr(record.name.unicode)
    return repr(record.id)


def _values(record: Any) -> dict[str, Any]:
    if isinstance(record, Domain):
        return {"ascii": record.name.ascii, "unicode": record.name.unicode, "customer": record.customer,
                "registrar": record.registrar, "registrar_account": record.registrar_account,
                "expires": record.expires, "created": record.created, "last_transfer": record.last_transfer,
                "last_owner_change": record.last_owner_change, "owner_change_opt_out": record.owner_change_opt_out,
                "statuses": list(record.statuses), "auto_renew": record.auto_renew,
                "registrant": str(record.registrant)}
    if isinstance(record, Customer):
        return {"cid": record.id, "name": record.name, "email": record.email, "language": record.language,
                "country": record.country, "company": record.company}
    if isinstance(record, Hosting):
        return {"hid": record.id, "customer": record.customer, "provider": record.provider,
                "paid_until": record.paid_until, "panel": record.panel, "plan": record.plan,
                "server": record.server, "price": None if record.price is None else str(record.price),
                "currency": record.currency, "cycle": record.cycle and str(record.cycle),
                "packaging": str(record.packaging), "account": record.account, "domain": record.domain}
    assert isinstance(record, Registrar)
    return {"rid": record.id, "name": record.name, "ticket_email": record.ticket_email,
            "reseller_move": record.reseller_move, "epp": record.epp, "reseller_account": record.reseller_account,
            "documents": list(record.documents), "website": record.website}


# -- reading back --------------------------------------------------------------------------------
def domain_from_row(r: Any) -> Domain:
    return Domain(DomainName(r.ascii, r.unicode), r.customer, r.registrar, r.expires, r.registrar_account,
                  r.created, r.last_transfer, r.last_owner_change, r.owner_change_opt_out, tuple(r.statuses),
                  r.auto_renew, Registrant(r.registrant))


def load_register(conn: Connection, owner_id: int) -> Register:
    """The owner's whole register (for reports, notices and requests)."""
    register = Register()
    for r in conn.execute(select(registrars).where(registrars.c.owner_id == owner_id).order_by(registrars.c.rid)):
        register.registrars[r.rid] = Registrar(r.rid, r.name, r.ticket_email, r.reseller_move, r.epp,
                                               r.reseller_account, tuple(r.documents), r.website)
    for r in conn.execute(select(customers).where(customers.c.owner_id == owner_id).order_by(customers.c.cid)):
        register.customers[r.cid] = Customer(r.cid, r.name, r.email, r.language, r.country, r.company)
    register.domains = [domain_from_row(r) for r in conn.execute(
        select(domains).where(domains.c.owner_id == owner_id).order_by(domains.c.ascii))]
    register.hosting = [
        Hosting(r.hid, r.customer, r.provider, r.paid_until, r.panel, r.plan, r.server,
                None if r.price is None else Decimal(r.price), r.currency, Cycle(r.cycle) if r.cycle else None,
                Packaging(r.packaging), r.account, r.domain)
        for r in conn.execute(select(hosting).where(hosting.c.owner_id == owner_id).order_by(hosting.c.hid))]
    return register


def read_register(engine: Engine, owner_id: int) -> Register:
    with reading(engine) as conn:
        return load_register(conn, owner_id)


# -- the handover profile -------------------------------------------------------------------------
def profile_to_dict(profile: HandoverProfile) -> dict[str, Any]:
    successor = profile.successor
    return {"business": profile.business, "owner_name": profile.owner_name, "event": str(profile.event),
            "successor": None if successor is None else {"name": successor.name, "email": successor.email,
                                                         "role": successor.role, "phone": successor.phone},
            "act_within_days": profile.act_within_days, "grace_days": profile.grace_days,
            "backup_days": profile.backup_days, "settlement": str(profile.settlement),
            "support_can": list(profile.support_can), "support_cannot": list(profile.support_cannot)}


def profile_from_dict(data: Any) -> HandoverProfile:
    """A profile from JSON, or ``ValueError`` naming the field that is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"profile: expected an object with business, owner_name, …, got {kind(data)}")

    def text(name: str, default: str | None = None) -> str:
        value = data.get(name, default)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name}: expected a non-empty text, got {value!r}")
        return one_line(name, value)

    def days(name: str, default: int) -> int:
        value = data.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 365:
            raise ValueError(f"{name}: expected a number of days from 0 to 365, got {value!r}")
        return value

    def texts(name: str) -> tuple[str, ...]:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{name}: expected a list of sentences, got {value!r}")
        return tuple(one_line(f"{name}[{i}]", v) for i, v in enumerate(value) if v.strip())

    unknown = set(data) - {"business", "owner_name", "event", "successor", "act_within_days", "grace_days",
                           "backup_days", "settlement", "support_can", "support_cannot"}
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: not a field of the handover profile")
    try:
        event = Event(data.get("event", "passed_away"))
    except ValueError:
        raise ValueError(f"event: expected one of {', '.join(e.value for e in Event)}, "
                         f"got {data.get('event')!r}") from None
    try:
        settlement = Settlement(data.get("settlement", "refund"))
    except ValueError:
        raise ValueError(f"settlement: expected refund or credit, got {data.get('settlement')!r}") from None
    successor = None
    raw = data.get("successor")
    if raw is not None:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or "@" not in str(raw.get("email")):
            raise ValueError(f"successor: expected {{name, email, role, phone}}, got {raw!r}")
        phone = raw.get("phone")
        successor = Successor(one_line("successor.name", raw["name"]), one_line("successor.email", raw["email"]),
                              one_line("successor.role", str(raw.get("role") or "heir")),
                              None if phone in (None, "") else one_line("successor.phone", str(phone)))
    return HandoverProfile(text("business"), text("owner_name"), event, successor, days("act_within_days", 30),
                           days("grace_days", 30), days("backup_days", 30), settlement, texts("support_can"),
                           texts("support_cannot"))


def one_line(name: str, value: str) -> str:
    """``value`` stripped; ``ValueError`` if it holds a line break or another control character (it goes
    into mail headers and letters, where a line break would forge a line of its own)."""
    value = value.strip()
    bad = next((ch for ch in value if ord(ch) < 32 or ord(ch) == 127), None)
    if bad is not None:
        raise ValueError(f"{name}: expected one line of text, got a control character (U+{ord(bad):04X})")
    if len(value) > 300:
        raise ValueError(f"{name}: expected at most 300 characters, got {len(value)}")
    return value


def read_profile(conn: Connection, owner_id: int) -> HandoverProfile | None:
    data = conn.execute(select(handover_profiles.c.data).where(handover_profiles.c.owner_id == owner_id)).scalar()
    return None if data is None else profile_from_dict(data)


def save_profile(engine: Engine, owner_id: int, profile: HandoverProfile, now: datetime) -> None:
    data = profile_to_dict(profile)
    with engine.begin() as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(handover_profiles).values(owner_id=owner_id, data=data, updated_at=now)
        conn.execute(stmt.on_conflict_do_update(index_elements=["owner_id"],
                                                set_={"data": data, "updated_at": now}))
