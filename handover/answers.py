"""The customers' answers as the successors' to-do list: who answered what, their notes, what is owed.

Written beside the registrar requests by ``baton handover build``: one row per customer of
the register, with their answer (accounts given, auth codes asked for, the note they left,
e.g. where to send a refund) and the refund or credit their notice announced. Domains are named
as everywhere in the successors' files: Unicode, with the A-label beside it when it differs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, tzinfo

from handover.calendar import spreadsheet_cell
from handover.model import Answer, Register
from handover.plaintext import domain_label

COLUMNS = ("customer", "name", "email", "language", "read", "answered", "registrar_accounts", "hosting_accounts",
           "auth_codes_for", "refund", "settlement", "note")


def answers_csv(register: Register, answers: Mapping[str, Answer], refunds: Mapping[str, Sequence[Mapping[str, str]]],
                settlement: str, zone: tzinfo = UTC) -> bytes:
    """A CSV (UTF-8, a header line first) of every customer and their answer; ``refunds`` maps a customer
    to the totals their notice announced (``[{"currency", "amount"}]``); answers are dated in ``zone``
    (the owner's)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for customer in register.customers.values():
        answer = answers.get(customer.id)
        owed = refunds.get(customer.id) or ()
        writer.writerow([spreadsheet_cell(value) for value in (
            customer.id, customer.name, customer.email, customer.notice_language,
            "yes" if answer and answer.read_at else "no",
            answer.answered_at.astimezone(zone).date() if answer and answer.answered_at else "",
            _pairs(answer.accounts) if answer else "", _pairs(answer.hosting_accounts) if answer else "",
            "; ".join(_labels(register, customer.id, answer.auth_codes_for)) if answer else "",
            " + ".join(f"{item['amount']} {item['currency']}" for item in owed), settlement if owed else "",
            " ".join((answer.note or "").split()) if answer else "")])
    return out.getvalue().encode("utf-8")


def _labels(register: Register, customer: str, names: Sequence[str]) -> list[str]:
    """The customer's domains by the names their answer gave (ASCII), as people read them (Unicode, A-label beside)."""
    own = {d.name.ascii: domain_label(d.name) for d in register.domains_of(customer)}
    return [own.get(name, name) for name in names]


def _pairs(accounts: Mapping[str, str]) -> str:
    return "; ".join(f"{where}: {account}" for where, account in sorted(accounts.items()))
