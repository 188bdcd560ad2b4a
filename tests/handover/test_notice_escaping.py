"""Names in notices are text: a registrar, business or plan named with HTML stays text in every HTML form."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from handover.i18n import LANGUAGES, render, render_blocks
from handover.model import (
    Customer,
    Cycle,
    Domain,
    Event,
    HandoverProfile,
    Hosting,
    Register,
    Registrar,
    Settlement,
    Successor,
)
from handover.names import domain_name
from handover.notices import notice_context
from handover.rules import TransferRules

EVIL = "<script>alert(1)</script>"


def _context(event: Event) -> dict[str, object]:
    register = Register(
        customers={"c1": Customer("c1", f"Budi {EVIL}", "budi@example.id", "id")},
        domains=[Domain(domain_name("toko-budi.id"), "c1", "rw", date(2027, 1, 1))],
        hosting=[Hosting("h1", "c1", f"Host {EVIL}", date(2027, 6, 1), plan=f"Plan {EVIL}", domain=f"x{EVIL}",
                         price=Decimal("120000"), currency="IDR", cycle=Cycle.ANNUALLY)],
        registrars={"rw": Registrar("rw", f"<b>Rumah</b>web {EVIL}", reseller_move=True)})
    profile = HandoverProfile(f"Biz {EVIL}", f"Owner {EVIL}", event, Successor(f"Sari {EVIL}", "s@example.id",
                                                                               f"role {EVIL}", f"+62 {EVIL}"),
                              settlement=Settlement.CREDIT, support_can=(f"can {EVIL}",),
                              support_cannot=(f"cannot {EVIL}",))
    return notice_context(register.customers["c1"], register, profile, date(2026, 12, 1), TransferRules(),
                          link="http://baton.test/n/token")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event", list(Event))
def test_no_name_becomes_markup_in_the_email_the_page_or_the_printed_notice(language: str, event: Event) -> None:
    context = _context(event)
    mail = render_blocks("notices/notice.j2", language, **context)
    page = render("pages/notice.html", language, **context, typed={"read": False}, errors={}, answered_at=None)
    printed = render("notices/printable.html", language, **context)
    for html in (mail["html"], page, printed):
        assert "<script>" not in html and "<b>Rumah" not in html
        assert "&lt;script&gt;" in html
    assert EVIL in mail["text"]  # the plain-text part is text: nothing to escape
