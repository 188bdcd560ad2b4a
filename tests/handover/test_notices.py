"""What a customer's notice says: the prorated refund, the dates it promises, each domain's way out.

Pure: a register, a profile and a notice date go in, a JSON-ready dictionary comes out.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

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
from handover.names import domain_name
from handover.notices import Refund, months_before, notice_context, refund
from handover.rules import TransferRules

RULES = TransferRules()
NOTICE = date(2026, 1, 1)  # act_by 2026-01-31; the transition ends 2026-03-02 (30 + 30 days)
ACT_BY = date(2026, 1, 31)
KEEP_UNTIL = date(2026, 3, 2)
LINK = "http://baton.test/n/TOKEN"


def service(paid_until: date, price: str | None = "100", currency: str | None = "EUR",
            cycle: Cycle | None = Cycle.MONTHLY, **fields: Any) -> Hosting:
    return replace(Hosting("h1", "c1", "upcloud", paid_until, "cPanel", price=None if price is None else
                           Decimal(price), currency=currency, cycle=cycle), **fields)


# -- months_before ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2026, 3, 31), 1, date(2026, 2, 28)),  # clamped to February's end
    (date(2024, 3, 31), 1, date(2024, 2, 29)),  # a leap year's February
    (date(2024, 3, 30), 1, date(2024, 2, 29)),
    (date(2024, 2, 29), 12, date(2023, 2, 28)),  # a leap day, a year back
    (date(2028, 2, 29), 48, date(2024, 2, 29)),  # four years back: a leap day again
    (date(2026, 5, 31), 1, date(2026, 4, 30)),  # a 30-day month
    (date(2026, 1, 15), 1, date(2025, 12, 15)),  # across the year
    (date(2026, 3, 31), 13, date(2025, 2, 28)),
    (date(2026, 6, 30), 3, date(2026, 3, 30)),
    (date(2026, 7, 31), 0, date(2026, 7, 31)),
    (date(2026, 12, 31), 12, date(2025, 12, 31)),
])
def test_months_before_clamps_to_the_end_of_the_month(day: date, months: int, expected: date) -> None:
    assert months_before(day, months) == expected


# -- refunds ---------------------------------------------------------------------------------------
def test_a_monthly_service_is_refunded_day_by_day_over_its_cycle() -> None:
    """Paid to 31 March: the cycle is 28 Feb → 31 Mar (31 days); 15 days unused of 100 EUR = 48.39."""
    owed = refund(service(date(2026, 3, 31)), date(2026, 3, 16))
    assert owed == Refund(Decimal("48.39"), "EUR", 15, 31)


def test_an_annual_service_in_rupiah_has_no_decimals() -> None:
    """1 200 000 IDR a year, 183 of 365 days unused: 601 643.8… rounds to 601 644 (IDR has no minor unit)."""
    owed = refund(service(date(2027, 1, 1), "1200000", "IDR", Cycle.ANNUALLY), date(2026, 7, 2))
    assert owed == Refund(Decimal("601644"), "IDR", 183, 365)
    assert owed is not None and owed.amount.as_tuple().exponent == 0


def test_an_annual_cycle_across_a_leap_day_has_366_days() -> None:
    owed = refund(service(date(2024, 3, 1), "366", "EUR", Cycle.ANNUALLY), date(2024, 2, 1))
    assert owed == Refund(Decimal("29.00"), "EUR", 29, 366)


def test_a_quarterly_service_counts_its_three_months() -> None:
    """Paid to 30 June: the cycle is 30 March → 30 June (92 days); 30 unused of 300 USD = 97.83."""
    owed = refund(service(date(2026, 6, 30), "300", "USD", Cycle.QUARTERLY), date(2026, 5, 31))
    assert owed == Refund(Decimal("97.83"), "USD", 30, 92)


def test_several_cycles_paid_ahead_count_whole() -> None:
    """Paid three months ahead: all 91 unused days are owed, at the last cycle's daily price."""
    owed = refund(service(date(2026, 6, 30), "10"), date(2026, 3, 31))
    assert owed == Refund(Decimal("29.35"), "EUR", 91, 31)  # 10 × 91 / 31 = 29.354…
    assert owed is not None and owed.amount > Decimal("10")


def test_nothing_is_owed_on_the_paid_until_day_or_after() -> None:
    paid = date(2026, 3, 31)
    assert refund(service(paid), paid) is None
    assert refund(service(paid), paid + timedelta(days=1)) is None
    assert refund(service(paid), paid - timedelta(days=1)) == Refund(Decimal("3.23"), "EUR", 1, 31)


@pytest.mark.parametrize("fields", [
    {"cycle": Cycle.ONE_TIME},
    {"price": None},
    {"price": "0"},
    {"currency": None},
    {"cycle": None},
], ids=["one-time", "no-price", "free", "no-currency", "no-cycle"])
def test_one_time_free_and_unpriced_services_owe_nothing(fields: dict[str, Any]) -> None:
    assert refund(service(date(2026, 12, 31), **fields), date(2026, 3, 1)) is None


def test_a_refund_that_rounds_to_nothing_is_none() -> None:
    """1 IDR a year, one day unused: 0.0027 rounds to 0 rupiah, nothing to refund."""
    assert refund(service(date(2027, 1, 1), "1", "IDR", Cycle.ANNUALLY), date(2026, 12, 31)) is None


@pytest.mark.parametrize(("price", "currency", "unused", "expected"), [
    ("0.05", "EUR", 15, "0.03"),  # 0.025: half up, not half even (0.02)
    ("0.15", "EUR", 1, "0.01"),  # 0.005 → 0.01
    ("0.30", "EUR", 1, "0.01"),  # exactly 0.01
    ("75", "IDR", 1, "3"),  # 2.5 rupiah: half up (half even would give 2); no decimals
    ("150000", "IDR", 15, "75000"),
    ("0.135", "KWD", 1, "0.005"),  # three decimals for the Kuwaiti dinar: 0.0045 → 0.005
])
def test_amounts_round_half_up_to_the_currency_precision(price: str, currency: str, unused: int,
                                                         expected: str) -> None:
    """A 30-day cycle (1 April → 1 May), stopped ``unused`` days before its end, lands exactly on a half."""
    owed = refund(service(date(2026, 5, 1), price, currency), date(2026, 5, 1) - timedelta(days=unused))
    assert owed is not None
    assert (str(owed.amount), owed.unused_days, owed.period_days) == (expected, unused, 30)


# -- the notice's context ----------------------------------------------------------------------------
def profile(**fields: Any) -> HandoverProfile:
    return replace(HandoverProfile("Hosting Bali", "Wayan", successor=Successor("Made", "made@example.org",
                                                                                  "executor", "+62 361 1")),
                   **fields)


def register() -> Register:
    """Customer c1 with two domains (one at a registrar that moves them) and three services; c2 beside."""
    reg = Register()
    reg.registrars["rw"] = Registrar("rw", "Rumahweb", "support@rumahweb.example", reseller_move=True,
                                     website="https://rumahweb.example")
    reg.registrars["gd"] = Registrar("gd", "GoDaddy")
    reg.customers["c1"] = Customer("c1", "Ana", "ana@example.org", "pt", "BR", "Ana Lda")
    reg.customers["c2"] = Customer("c2", "Budi", "budi@example.org", "id")
    reg.domains += [
        Domain(domain_name("bücher.co.id"), "c1", "rw", date(2026, 1, 31), registrant=Registrant.RESELLER),
        Domain(domain_name("ana.com.br"), "c1", "gd", date(2027, 5, 1), last_transfer=date(2025, 12, 1),
               statuses=("clientTransferProhibited",)),
        Domain(domain_name("budi.id"), "c2", "rw", date(2027, 1, 1)),
    ]
    reg.hosting += [
        Hosting("far", "c1", "upcloud", date(2026, 12, 31), "cPanel", price=Decimal("1200"), currency="EUR",
                cycle=Cycle.ANNUALLY),
        Hosting("pool", "c1", "reseller-pool", date(2026, 6, 30), "DirectAdmin", price=Decimal("150000"),
                currency="IDR", cycle=Cycle.MONTHLY, packaging=Packaging.POOLED),
        Hosting("ends", "c1", "upcloud", date(2026, 1, 15), "cPanel", price=Decimal("10"), currency="EUR",
                cycle=Cycle.MONTHLY),
        Hosting("budi", "c2", "upcloud", date(2026, 12, 31), "cPanel"),
    ]
    return reg


def context(reg: Register | None = None, customer: str = "c1", **fields: Any) -> dict[str, Any]:
    reg = reg or register()
    drill = fields.pop("drill", False)
    return notice_context(reg.customers[customer], reg, profile(**fields), NOTICE, RULES, link=LINK, drill=drill)


def by_id(items: list[dict[str, Any]], key: str = "id") -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


def test_the_dates_follow_the_profile() -> None:
    ctx = context()
    assert (ctx["notice_date"], ctx["act_by"]) == ("2026-01-01", ACT_BY.isoformat())
    assert ctx["backup_by"] == "2026-01-31"  # notice date + backup_days, before any suspension
    assert (ctx["event"], ctx["settlement"], ctx["language"]) == ("passed_away", "refund", "pt")
    assert ctx["customer"] == {"id": "c1", "name": "Ana", "company": "Ana Lda", "company_greeting": False}
    assert ctx["successor"] == {"name": "Made", "email": "made@example.org", "role": "executor",
                                "phone": "+62 361 1"}
    assert (ctx["business"], ctx["owner"], ctx["link"], ctx["auth_code_days"]) == ("Hosting Bali", "Wayan", LINK, 5)


def test_an_individual_package_paid_beyond_the_transition_keeps_running_to_its_paid_until() -> None:
    services = by_id(context()["services"])
    far = services["far"]
    assert (far["suspend_on"], far["end_on"]) == ("2026-12-31", "2027-01-30")
    assert far["movable"] is True and far["refund"] is None


def test_a_service_whose_paid_period_ends_early_still_runs_to_the_end_of_the_transition() -> None:
    """No abrupt cut-off: paid to 15 January, it is suspended only when the transition ends."""
    ends = by_id(context()["services"])["ends"]
    assert (ends["paid_until"], ends["suspend_on"], ends["end_on"]) == ("2026-01-15", KEEP_UNTIL.isoformat(),
                                                                         "2026-04-01")
    assert ends["refund"] is None


def test_a_pooled_package_stops_with_the_transition_and_is_refunded() -> None:
    """150 000 IDR a month paid to 30 June, stopped on 2 March: 120 of 31 days → 580 645 IDR."""
    pool = by_id(context()["services"])["pool"]
    assert pool["suspend_on"] == KEEP_UNTIL.isoformat() and pool["movable"] is False
    assert pool["refund"] == {"amount": "580645", "currency": "IDR", "unused_days": 120, "period_days": 31,
                              "from": KEEP_UNTIL.isoformat()}


def test_closing_the_business_stops_every_service_with_the_transition_and_refunds_the_rest() -> None:
    ctx = context(event=Event.CLOSING)
    assert ctx["event"] == "closing"
    services = by_id(ctx["services"])
    assert {s["suspend_on"] for s in services.values()} == {KEEP_UNTIL.isoformat()}
    assert {s["end_on"] for s in services.values()} == {"2026-04-01"}
    # 1200 EUR a year, 304 of 365 days unused: 999.452… → 999.45
    assert services["far"]["refund"] == {"amount": "999.45", "currency": "EUR", "unused_days": 304,
                                         "period_days": 365, "from": KEEP_UNTIL.isoformat()}
    assert ctx["refund_total"] == [{"currency": "EUR", "amount": "999.45"},
                                   {"currency": "IDR", "amount": "580645"}]


def test_refund_totals_add_up_per_currency_in_currency_order() -> None:
    reg = register()
    reg.hosting.append(Hosting("more", "c1", "upcloud", date(2026, 12, 31), "cPanel", price=Decimal("1200"),
                               currency="EUR", cycle=Cycle.ANNUALLY, packaging=Packaging.POOLED))
    ctx = context(reg, event=Event.CLOSING)
    assert ctx["refund_total"] == [{"currency": "EUR", "amount": "1998.90"},
                                   {"currency": "IDR", "amount": "580645"}]
    assert context(reg, customer="c2")["refund_total"] == []  # c2's service has no price


def test_the_last_day_to_download_backups_is_never_after_a_suspension() -> None:
    assert context(backup_days=90)["backup_by"] == KEEP_UNTIL.isoformat()
    reg = register()
    reg.hosting = [h for h in reg.hosting if h.customer != "c1"]
    assert context(reg, backup_days=90)["backup_by"] == "2026-04-01"  # no service of c1: no suspension bounds it


def test_the_grace_and_act_days_move_the_dates() -> None:
    ctx = context(act_within_days=10, grace_days=5)
    assert ctx["act_by"] == "2026-01-11"
    ends = by_id(ctx["services"])["ends"]
    assert (ends["suspend_on"], ends["end_on"]) == ("2026-01-16", "2026-01-21")


def test_a_registrar_that_moves_domains_offers_a_move_the_others_a_transfer() -> None:
    ctx = context()
    names = by_id(ctx["domains"], "ascii")
    moved = names["xn--bcher-kva.co.id"]
    assert (moved["name"], moved["path"], moved["registrar"], moved["registrar_name"]) == (
        "bücher.co.id", "move", "rw", "Rumahweb")
    assert names["ana.com.br"]["path"] == "transfer"
    assert ctx["registrars"] == [
        {"id": "rw", "name": "Rumahweb", "website": "https://rumahweb.example", "move": True},
        {"id": "gd", "name": "GoDaddy", "website": None, "move": False}]


def test_a_registrar_missing_from_the_register_is_named_by_its_id_and_transfers() -> None:
    reg = register()
    reg.domains.append(Domain(domain_name("ana.pt"), "c1", "ptisp", date(2027, 1, 1)))
    ana = by_id(context(reg)["domains"], "ascii")["ana.pt"]
    assert (ana["registrar_name"], ana["path"]) == ("ptisp", "transfer")


def test_domain_flags_reseller_registrant_lock_and_earliest_transfer() -> None:
    names = by_id(context()["domains"], "ascii")
    moved, locked = names["xn--bcher-kva.co.id"], names["ana.com.br"]
    assert moved["in_reseller_name"] is True and locked["in_reseller_name"] is False
    assert locked["locked"] is True and moved["locked"] is False
    assert locked["transfer_from"] == "2026-01-30"  # transferred in on 1 December: 60 days
    assert moved["transfer_from"] == NOTICE.isoformat()  # no lock: from the notice date


@pytest.mark.parametrize(("expires", "soon"), [(ACT_BY - timedelta(days=1), True), (ACT_BY, True),
                                               (ACT_BY + timedelta(days=1), False)])
def test_a_domain_expiring_by_the_act_by_date_expires_soon(expires: date, soon: bool) -> None:
    reg = register()
    reg.domains = [Domain(domain_name("ana.com.br"), "c1", "gd", expires)]
    assert context(reg)["domains"][0]["expires_soon"] is soon


def test_renew_by_is_given_when_a_renewal_must_come_first() -> None:
    reg = register()
    reg.domains = [
        Domain(domain_name("fine.com"), "c1", "gd", date(2027, 1, 1)),
        Domain(domain_name("lapsed.com"), "c1", "gd", date(2025, 12, 20)),  # in the auto-renew grace
        Domain(domain_name("young.com"), "c1", "gd", date(2026, 1, 20), created=date(2025, 12, 1)),
    ]
    names = by_id(context(reg)["domains"], "ascii")
    assert names["fine.com"]["renew_by"] is None
    assert names["lapsed.com"]["renew_by"] == "2026-02-03"  # 45 days after the expiry
    assert names["young.com"]["renew_by"] == "2026-01-20"  # it expires before its lock lifts (30 January)
    assert names["young.com"]["transfer_from"] == "2026-01-30"


def test_a_customer_sees_only_their_own_domains_and_services() -> None:
    ctx = context(customer="c2")
    assert [d["ascii"] for d in ctx["domains"]] == ["budi.id"]
    assert [s["id"] for s in ctx["services"]] == ["budi"]
    assert ctx["language"] == "id"


def test_a_customer_without_a_language_reads_english_and_one_without_anything_gets_empty_lists() -> None:
    reg = register()
    reg.customers["c3"] = Customer("c3", "Carla")
    ctx = context(reg, customer="c3")
    assert ctx["language"] == "en"
    assert (ctx["domains"], ctx["services"], ctx["registrars"], ctx["refund_total"]) == ([], [], [], [])
    assert ctx["backup_by"] == "2026-01-31"


def test_the_drill_flag_and_the_profile_lists_are_carried() -> None:
    ctx = context(drill=True, settlement=Settlement.CREDIT, support_can=("answer mail",),
                  support_cannot=("fix sites",), successor=None)
    assert ctx["drill"] is True and context()["drill"] is False
    assert (ctx["settlement"], ctx["support_can"], ctx["support_cannot"]) == ("credit", ["answer mail"],
                                                                              ["fix sites"])
    assert ctx["successor"] is None


@pytest.mark.parametrize("event", list(Event))
def test_the_context_is_plain_json(event: Event) -> None:
    ctx = context(event=event, drill=True)
    assert json.loads(json.dumps(ctx)) == ctx
