"""The successors' table of answers: one row per customer, notes on one line, formulas made inert."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from handover.answers import COLUMNS, answers_csv
from handover.model import Answer, Customer, Register


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_every_customer_has_a_row_with_their_answer_and_what_is_owed() -> None:
    register = Register(customers={"c1": Customer("c1", "Budi", "budi@example.id", "id"),
                                   "c2": Customer("c2", "Ana", None, None)})
    answers = {"c1": Answer("c1", read_at=datetime(2026, 5, 1, tzinfo=UTC), accounts={"dr": "DR-9"},
                            auth_codes_for=("xn--bcher-kva.co.id",), note="BCA 123\nplease",
                            answered_at=datetime(2026, 5, 2, 9, tzinfo=UTC), hosting_accounts={"h1": "budi@host"})}
    data = answers_csv(register, answers, {"c1": [{"currency": "IDR", "amount": "904110"}]}, "refund")
    rows = _rows(data)
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0] == {"customer": "c1", "name": "Budi", "email": "budi@example.id", "language": "id", "read": "yes",
                       "answered": date(2026, 5, 2).isoformat(), "registrar_accounts": "dr: DR-9",
                       "hosting_accounts": "h1: budi@host", "auth_codes_for": "xn--bcher-kva.co.id",
                       "refund": "904110 IDR", "settlement": "refund", "note": "BCA 123 please"}
    assert rows[1]["customer"] == "c2" and rows[1]["read"] == "no" and rows[1]["answered"] == ""
    assert rows[1]["language"] == "en" and rows[1]["refund"] == "" and rows[1]["settlement"] == ""


def test_a_note_that_looks_like_a_formula_stays_text() -> None:
    register = Register(customers={"c1": Customer("c1", "=HYPERLINK(\"x\")", "a@b.co", "en")})
    answers = {"c1": Answer("c1", note="=1+1", answered_at=datetime(2026, 5, 2, tzinfo=UTC))}
    (row,) = _rows(answers_csv(register, answers, {}, "credit"))
    assert row["name"] == "'=HYPERLINK(\"x\")" and row["note"] == "'=1+1"


def test_the_domains_a_customer_asked_codes_for_read_in_unicode_with_the_a_label_beside() -> None:
    from handover.model import Domain
    from handover.names import domain_name
    register = Register(customers={"c3": Customer("c3", "Luca", "luca@example.it", "it")},
                        domains=[Domain(domain_name("straße.de"), "c3", "dr", date(2027, 5, 1)),
                                 Domain(domain_name("bianchi.it"), "c3", "dr", date(2027, 6, 30))])
    answers = {"c3": Answer("c3", auth_codes_for=("bianchi.it", "xn--strae-oqa.de"),
                            answered_at=datetime(2026, 3, 1, 17, tzinfo=UTC))}
    (row,) = _rows(answers_csv(register, answers, {}, "refund", ZoneInfo("Asia/Makassar")))
    assert row["auth_codes_for"] == "bianchi.it; straße.de (xn--strae-oqa.de)"
    assert row["answered"] == "2026-03-02"  # 17:00 UTC is already the next day in the owner's zone
