"""A notice greets a company as a company, a person as a person, in each language."""

from __future__ import annotations

from datetime import date

import pytest

from handover import i18n
from handover.addressing import is_company
from handover.model import Customer, Domain, HandoverProfile, Register, Registrar
from handover.names import domain_name
from handover.notices import notice_context
from handover.rules import TransferRules


@pytest.mark.parametrize(("name", "company", "expected"), [
    ("Padaria Pão Quente Ltda", None, True),
    ("PT Maju Jaya", None, True),
    ("Bianchi S.r.l.", None, True),
    ("Loja da Ana", "Loja da Ana", True),  # the name is the company's
    ("Ana Souza", "Loja da Ana", False),  # a person who has a company
    ("Luca Bianchi", None, False),
    ("Maria Sa", None, False),  # a surname, not a legal form
    ("Construtora Lima SA", None, True),
    ("Ltda", None, False),  # a single word is nobody's legal form
], ids=lambda v: str(v))
def test_who_is_a_company(name: str, company: str | None, expected: bool) -> None:
    assert is_company(Customer("c1", name, company=company)) is expected


def _greeting(customer: Customer) -> str:
    register = Register(customers={customer.id: customer},
                        domains=[Domain(domain_name("padaria.com.br"), customer.id, "rw", date(2027, 1, 1))],
                        registrars={"rw": Registrar("rw", "Registro")})
    context = notice_context(customer, register, HandoverProfile("Budi Hosting", "Budi"), date(2026, 3, 2),
                             TransferRules(), link="http://baton.test/n/x")
    text = i18n.render_blocks("notices/notice.j2", customer.notice_language, **context)["text"]
    return next(line for line in text.splitlines() if line.strip())


@pytest.mark.parametrize(("language", "company", "person"), [
    ("en", "Dear Padaria Pão Quente Ltda team,", "Dear Ana Souza,"),
    ("pt", "À equipe de Padaria Pão Quente Ltda,", "Prezado(a) Ana Souza,"),
    ("id", "Yth. Pimpinan Padaria Pão Quente Ltda,", "Yth. Ana Souza,"),
    ("it", "Spett.le Padaria Pão Quente Ltda,", "Gentile Ana Souza,"),
])
def test_the_greeting_addresses_a_company_and_a_person_correctly(language: str, company: str, person: str) -> None:
    assert _greeting(Customer("c1", "Padaria Pão Quente Ltda", language=language)) == company
    assert _greeting(Customer("c1", "Ana Souza", language=language, company="Padaria Pão Quente Ltda")) == person
