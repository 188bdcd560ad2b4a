"""The register as rows of text in the documented CSV columns, and back.

The same columns serve the CSV import, an export, and the JSON the server gives the
successors' machine for ``baton handover build``; reading back goes through the
import's own row parser, so what arrives is checked the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from handover.errors import ImportRejected, RowError
from handover.model import Answer, Customer, Domain, Hosting, Register, Registrar
from handover.rows import COLUMNS, KIND_ORDER, parse_row


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return ";".join(value) if value and ";" not in "".join(value) else " ".join(value)
    return str(value)


def record_row(record: Customer | Domain | Hosting | Registrar) -> dict[str, str]:
    """A record as its CSV row (column name → text)."""
    if isinstance(record, Domain):
        values: dict[str, Any] = {
            "domain": record.name.unicode, "customer": record.customer, "registrar": record.registrar,
            "expires": record.expires, "registrar_account": record.registrar_account, "created": record.created,
            "last_transfer": record.last_transfer, "last_owner_change": record.last_owner_change,
            "owner_change_opt_out": record.owner_change_opt_out, "statuses": " ".join(record.statuses),
            "auto_renew": record.auto_renew, "registrant": str(record.registrant)}
    elif isinstance(record, Registrar):
        values = {"id": record.id, "name": record.name, "ticket_email": record.ticket_email,
                  "reseller_move": record.reseller_move, "epp": record.epp,
                  "reseller_account": record.reseller_account, "documents": ";".join(record.documents),
                  "website": record.website}
    else:
        values = {column.name: getattr(record, column.name, None) for column in COLUMNS[_kind(record)]}
    return {name: _text(value) for name, value in values.items()}


def _kind(record: Any) -> str:
    return {Customer: "customers", Domain: "domains", Hosting: "hosting", Registrar: "registrars"}[type(record)]


def register_rows(register: Register) -> dict[str, list[dict[str, str]]]:
    return {"registrars": [record_row(r) for r in register.registrars.values()],
            "customers": [record_row(c) for c in register.customers.values()],
            "domains": [record_row(d) for d in register.domains],
            "hosting": [record_row(h) for h in register.hosting]}


def register_from_rows(rows: Mapping[str, Sequence[Mapping[str, str]]], source: str = "register") -> Register:
    """Rebuild a register; ``ImportRejected`` listing every row that does not parse."""
    register = Register()
    errors: list[RowError] = []
    for kind in KIND_ORDER:
        for number, values in enumerate(rows.get(kind, ()), start=1):
            parsed = parse_row(kind, values, f"{source} ({kind})", number)
            errors += parsed.errors
            record = parsed.record
            if isinstance(record, Registrar):
                register.registrars[record.id] = record
            elif isinstance(record, Customer):
                register.customers[record.id] = record
            elif isinstance(record, Domain):
                register.domains.append(record)
            elif isinstance(record, Hosting):
                register.hosting.append(record)
    if errors:
        raise ImportRejected(errors)
    return register


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    return {"customer": answer.customer, "read_at": answer.read_at and answer.read_at.isoformat(),
            "accounts": dict(answer.accounts), "auth_codes_for": list(answer.auth_codes_for), "note": answer.note,
            "answered_at": answer.answered_at and answer.answered_at.isoformat(),
            "hosting_accounts": dict(answer.hosting_accounts)}


def answer_from_dict(data: Mapping[str, Any]) -> Answer:
    from datetime import datetime

    def moment(value: Any) -> datetime | None:
        return datetime.fromisoformat(value) if isinstance(value, str) and value else None

    return Answer(str(data["customer"]), moment(data.get("read_at")),
                  {str(k): str(v) for k, v in dict(data.get("accounts") or {}).items()},
                  tuple(str(d) for d in data.get("auth_codes_for") or ()), data.get("note"),
                  moment(data.get("answered_at")),
                  {str(k): str(v) for k, v in dict(data.get("hosting_accounts") or {}).items()})
