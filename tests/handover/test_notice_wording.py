"""The words of a notice as its readers expect them: the successor's role translated, Brazilian words in
Portuguese, no dangling "or" on the answer page, and the refund's first day stated."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from handover.i18n import render, render_blocks
from handover.model import (
    Customer,
    Cycle,
    Domain,
    Event,
    HandoverProfile,
    Hosting,
    Packaging,
    RefundFrom,
    Register,
    Registrar,
    Successor,
)
from handover.names import domain_name
from handover.notices import notice_context
from handover.rules import TransferRules

NOTICE = date(2026, 3, 2)  # act by 1 April, the transition ends 1 May
EXECUTOR = {"en": "executor", "pt": "inventariante", "id": "pelaksana wasiat", "it": "esecutore testamentario"}


def _register(language: str, move: bool = False) -> Register:
    reg = Register()
    reg.registrars["rc"] = Registrar("rc", "ResellerClub", reseller_move=move)
    reg.customers["c1"] = Customer("c1", "Ana Souza", "ana@example.com.br", language)
    reg.domains.append(Domain(domain_name("loja-ana.com.br"), "c1", "rc", date(2027, 3, 3)))
    reg.hosting.append(Hosting("h1", "c1", "HostGator", date(2026, 12, 31), "Plesk", price=Decimal("299.90"),
                               currency="BRL", cycle=Cycle.ANNUALLY, packaging=Packaging.POOLED))
    return reg


def _context(language: str, move: bool = False, role: str = "executor",
             refund_from: RefundFrom = RefundFrom.SUSPENSION) -> dict[str, object]:
    reg = _register(language, move)
    profile = HandoverProfile("Budi Hosting", "Budi", Event.PASSED_AWAY,
                              Successor("Sari", "sari@example.id", role))
    return notice_context(reg.customers["c1"], reg, profile, NOTICE, TransferRules(), link="http://baton.test/n/t",
                          refund_from=refund_from)


def _text(language: str, **fields: object) -> str:
    return render_blocks("notices/notice.j2", language, **_context(language, **fields))["text"]  # type: ignore[arg-type]


@pytest.mark.parametrize("language", ["en", "pt", "id", "it"])
def test_the_successors_role_is_in_the_customers_language(language: str) -> None:
    text = _text(language)
    assert f"Sari ({EXECUTOR[language]})" in text
    if language != "en":
        assert "(executor)" not in text


def test_a_role_the_catalog_does_not_know_is_printed_as_the_owner_wrote_it() -> None:
    assert "Sari (irmã do Budi)" in _text("pt", role="irmã do Budi")


def test_brazilian_notices_say_hospedagem_and_registradora() -> None:
    for form in (_text("pt"), render("pages/notice.html", "pt", **_context("pt"), typed={"read": ""}, errors={},
                                     answered_at=None)):
        plain = re.sub(r"<[^>]+>", " ", form).replace("Budi Hosting", "")
        assert "hospedagem" in plain.lower() and "registradora" in plain
        assert not re.search(r"\bhosting\b", plain, re.IGNORECASE), plain
        assert not re.search(r"\bregistrar\b", plain), plain
    assert render_blocks("notices/notice.j2", "pt", **_context("pt"))["subject"] == (  # type: ignore[arg-type]
        "Importante: seus domínios e sua hospedagem com Budi Hosting")


@pytest.mark.parametrize(("language", "alone", "after_a_move"), [
    ("en", "Transfer to another registrar", "Transfer to another registrar instead"),
    ("pt", "Transferir para outra registradora", "Ou transferir para outra registradora"),
    ("id", "Transfer ke registrar lain", "Atau transfer ke registrar lain"),
    ("it", "Trasferire a un altro registrar", "Oppure trasferire a un altro registrar"),
])
def test_the_transfer_choice_begins_with_or_only_after_another_choice(language: str, alone: str,
                                                                     after_a_move: str) -> None:
    def legend(move: bool) -> str:
        page = render("pages/notice.html", language, **_context(language, move=move), typed={"read": ""}, errors={},
                      answered_at=None)
        (found,) = re.findall(r"<legend>(.*?)</legend>", page)
        return found
    assert legend(move=False) == alone
    assert legend(move=True) == after_a_move


def test_the_refund_says_from_which_day_it_is_counted() -> None:
    """299.90 BRL a year, pooled: suspended on 1 May 2026, 244 of 365 days unused (the default); counted
    from the notice's date instead, 304 days."""
    assert ("Unused prepaid service, counted from May 1, 2026: R$200.48 (244 of 365 days), refunded to you."
            in _text("en"))
    assert ("Unused prepaid service, counted from March 2, 2026: R$249.78 (304 of 365 days), refunded to you."
            in _text("en", refund_from=RefundFrom.NOTICE))
    assert "contado a partir de 1 de maio de 2026: R$\xa0200,48 (244 de 365 dias)" in _text("pt")
