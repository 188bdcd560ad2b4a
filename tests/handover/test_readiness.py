"""The register's readiness: each finding appears exactly when it should, in a stable order, with a fix."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from handover.model import Customer, Domain, HandoverProfile, Hosting, Register, Registrant, Registrar, Successor
from handover.names import domain_name
from handover.readiness import Finding, findings
from handover.rules import TransferRules

RULES = TransferRules()
TODAY = date(2026, 1, 1)
REACH = date(2026, 1, 22)  # the fire moment plus the notice stage's delay
FAR = date(2030, 1, 1)
PROFILE = HandoverProfile("Hosting Bali", "Wayan", successor=Successor("Made", "made@example.org"))


def clean() -> Register:
    """A register without a single finding."""
    reg = Register()
    reg.registrars["rw"] = Registrar("rw", "Rumahweb", "support@rumahweb.example")
    reg.customers["c1"] = Customer("c1", "Ana", "ana@example.org", "pt")
    reg.domains.append(Domain(domain_name("ana.com.br"), "c1", "rw", FAR))
    reg.hosting.append(Hosting("h1", "c1", "upcloud", FAR, "cPanel"))
    return reg


def with_domain(**fields: Any) -> Register:
    reg = clean()
    reg.domains = [replace(reg.domains[0], **fields)]
    return reg


def kinds(reg: Register, profile: HandoverProfile | None = PROFILE, reach: date | None = REACH) -> list[str]:
    return [f.kind for f in findings(reg, profile, TODAY, reach, RULES)]


def test_a_clean_register_has_no_finding() -> None:
    assert findings(clean(), PROFILE, TODAY, REACH, RULES) == []
    assert kinds(clean(), reach=None) == []


# -- the profile and the register as a whole --------------------------------------------------------
def test_no_profile_is_a_finding_and_hides_the_missing_successor() -> None:
    assert kinds(clean(), None) == ["no-profile"]


def test_a_profile_without_a_successor_is_a_finding() -> None:
    assert kinds(clean(), replace(PROFILE, successor=None)) == ["no-successor"]


def test_an_empty_register_is_a_finding() -> None:
    assert kinds(Register()) == ["empty-register"]
    assert kinds(Register(), None) == ["empty-register", "no-profile"]


# -- domains ---------------------------------------------------------------------------------------
def test_a_domain_in_the_resellers_name_is_a_finding() -> None:
    found = findings(with_domain(registrant=Registrant.RESELLER), PROFILE, TODAY, REACH, RULES)
    assert [(f.kind, f.subject) for f in found] == [("reseller-registrant", "ana.com.br")]
    assert "(c1)" in found[0].what


@pytest.mark.parametrize(("expires", "found"), [
    (REACH - timedelta(days=1), True),  # expires the day before the notices reach the customer
    (REACH, False),  # expires on the day they reach them: still registered that day
    (REACH + timedelta(days=1), False),
])
def test_a_domain_expiring_before_the_notices_reach_is_a_finding(expires: date, found: bool) -> None:
    assert kinds(with_domain(expires=expires)) == (["expires-before-release"] if found else [])
    assert kinds(with_domain(expires=expires), reach=None) == []  # no notice stage: nothing to reach


def test_the_expiry_finding_names_the_dates() -> None:
    (finding,) = findings(with_domain(expires=date(2026, 1, 10)), PROFILE, TODAY, REACH, RULES)
    assert finding.subject == "ana.com.br"
    assert "2026-01-10" in finding.what and "2026-01-22" in finding.what


@pytest.mark.parametrize(("field", "days_before_reach", "found"), [
    ("created", 59, True),  # the lock lifts the day after the notices reach the customer
    ("created", 60, False),  # the lock lifts on that very day
    ("last_transfer", 59, True),
    ("last_transfer", 60, False),
    ("last_owner_change", 59, True),
    ("last_owner_change", 61, False),
])
def test_a_transfer_lock_lasting_beyond_the_reach_is_a_finding(field: str, days_before_reach: int,
                                                                found: bool) -> None:
    reg = with_domain(**{field: REACH - timedelta(days=days_before_reach)})
    assert kinds(reg) == (["transfer-lock"] if found else [])
    assert kinds(reg, reach=None) == []


def test_an_owner_change_with_the_opt_out_sets_no_lock() -> None:
    assert kinds(with_domain(last_owner_change=REACH, owner_change_opt_out=True)) == []


def test_the_lock_finding_says_until_when_and_why() -> None:
    (finding,) = findings(with_domain(last_transfer=REACH - timedelta(days=10)), PROFILE, TODAY, REACH, RULES)
    assert (finding.kind, finding.subject) == ("transfer-lock", "ana.com.br")
    assert "2026-03-13" in finding.what and "transferred" in finding.what  # 12 January + 60 days


def test_a_domain_of_an_unknown_customer_is_a_finding() -> None:
    found = findings(with_domain(customer="ghost"), PROFILE, TODAY, REACH, RULES)
    assert [(f.kind, f.subject) for f in found] == [("unknown-customer", "ana.com.br")]
    assert "ghost" in found[0].what


def test_an_internationalised_domain_is_named_in_unicode() -> None:
    found = findings(with_domain(name=domain_name("bücher.co.id"), registrant=Registrant.RESELLER), PROFILE,
                     TODAY, REACH, RULES)
    assert [f.subject for f in found] == ["bücher.co.id"]


# -- customers, hosting, registrars ------------------------------------------------------------------
def test_a_customer_without_e_mail_or_language_is_a_finding() -> None:
    reg = clean()
    reg.customers["c1"] = Customer("c1", "Ana")
    found = findings(reg, PROFILE, TODAY, REACH, RULES)
    assert [(f.kind, f.subject) for f in found] == [("customer-no-email", "c1"), ("customer-no-language", "c1")]
    reg.customers["c1"] = Customer("c1", "Ana", email="ana@example.org")
    assert kinds(reg) == ["customer-no-language"]
    reg.customers["c1"] = Customer("c1", "Ana", language="it")
    assert kinds(reg) == ["customer-no-email"]


def test_a_hosting_service_without_a_panel_is_a_finding() -> None:
    reg = clean()
    reg.hosting = [replace(reg.hosting[0], panel=None)]
    found = findings(reg, PROFILE, TODAY, REACH, RULES)
    assert [(f.kind, f.subject) for f in found] == [("hosting-no-panel", "h1")]
    reg.hosting = [replace(reg.hosting[0], panel="")]
    assert kinds(reg) == ["hosting-no-panel"]


@pytest.mark.parametrize(("fields", "found"), [
    ({}, True),
    ({"ticket_email": "t@example.org"}, False),
    ({"epp": True}, False),
    ({"website": "https://registrar.example"}, False),
])
def test_a_registrar_with_no_way_to_ask_it_is_a_finding(fields: dict[str, Any], found: bool) -> None:
    reg = clean()
    reg.registrars["rw"] = Registrar("rw", "Rumahweb", **fields)
    assert kinds(reg) == (["registrar-no-channel"] if found else [])


# -- order and fixes -------------------------------------------------------------------------------
def messy() -> Register:
    """A register with every kind of finding, several times."""
    reg = Register()
    reg.registrars["zz"] = Registrar("zz", "Zed")
    reg.registrars["aa"] = Registrar("aa", "Aye")
    reg.customers["c2"] = Customer("c2", "Budi")
    reg.customers["c1"] = Customer("c1", "Ana")
    reg.domains += [
        Domain(domain_name("zeta.com"), "c1", "zz", REACH - timedelta(days=3), registrant=Registrant.RESELLER,
               created=REACH - timedelta(days=70), last_transfer=REACH - timedelta(days=5)),
        Domain(domain_name("alpha.com"), "ghost", "aa", REACH - timedelta(days=1), registrant=Registrant.RESELLER,
               last_owner_change=REACH - timedelta(days=1)),
        Domain(domain_name("mid.com"), "c2", "aa", FAR),
    ]
    reg.hosting += [Hosting("h2", "c2", "upcloud", FAR), Hosting("h1", "c1", "upcloud", FAR)]
    return reg


def test_findings_are_sorted_by_kind_then_subject() -> None:
    found = findings(messy(), replace(PROFILE, successor=None), TODAY, REACH, RULES)
    keys = [(f.kind, f.subject) for f in found]
    assert keys == sorted(keys)
    assert keys == [
        ("customer-no-email", "c1"), ("customer-no-email", "c2"),
        ("customer-no-language", "c1"), ("customer-no-language", "c2"),
        ("expires-before-release", "alpha.com"), ("expires-before-release", "zeta.com"),
        ("hosting-no-panel", "h1"), ("hosting-no-panel", "h2"),
        ("no-successor", "profile"),
        ("registrar-no-channel", "aa"), ("registrar-no-channel", "zz"),
        ("reseller-registrant", "alpha.com"), ("reseller-registrant", "zeta.com"),
        ("transfer-lock", "alpha.com"), ("transfer-lock", "zeta.com"),
        ("unknown-customer", "alpha.com"),
    ]


def test_the_order_does_not_depend_on_the_order_of_the_register() -> None:
    expected = findings(messy(), None, TODAY, REACH, RULES)
    for seed in range(5):
        reg = messy()
        shuffle = random.Random(seed).shuffle
        shuffle(reg.domains)
        shuffle(reg.hosting)
        customers, registrars = list(reg.customers.items()), list(reg.registrars.items())
        shuffle(customers)
        shuffle(registrars)
        reg.customers, reg.registrars = dict(customers), dict(registrars)
        assert findings(reg, None, TODAY, REACH, RULES) == expected


def test_every_finding_says_what_and_how_to_fix_it() -> None:
    found = findings(messy(), None, TODAY, REACH, RULES) + findings(Register(), replace(PROFILE, successor=None),
                                                                    TODAY, REACH, RULES)
    assert {f.kind for f in found} == {
        "no-profile", "no-successor", "empty-register", "reseller-registrant", "expires-before-release",
        "transfer-lock", "customer-no-email", "customer-no-language", "hosting-no-panel",
        "registrar-no-channel", "unknown-customer"}
    for finding in found:
        assert finding.kind and finding.subject and finding.what.strip() and finding.fix.strip(), finding
        assert finding.to_dict() == {"kind": finding.kind, "subject": finding.subject, "what": finding.what,
                                     "fix": finding.fix}


def test_a_finding_is_a_value() -> None:
    assert Finding("k", "s", "w", "f") == Finding("k", "s", "w", "f")
