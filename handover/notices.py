"""What each customer's notice says: their domains and services, the steps and dates, their refund.

Pure: the register, the owner's handover profile, the rules and the notice date come in;
a plain dictionary (JSON-ready) comes out, the same for the e-mail, the page and the
printable copy. The words are in the templates (``templates/notices``), translated
through the gettext catalogs; here are only facts and dates.

Dates the notice promises (all counted from the notice date, in the profile's days):
- ``act_by``: the customer should answer or act by then;
- the transition ends ``grace_days`` after ``act_by``: no service stops before that, even
  one whose paid period ended earlier (no abrupt cut-off);
- a service is then suspended; one paid beyond that keeps running to its paid-until date,
  unless the business is closing, in which case the unused part is refunded or credited
  (a package moved to the customer's own account keeps its paid period instead);
- a suspended service ends (its data deleted) another ``grace_days`` later;
- backups can be downloaded until ``backup_by``, never later than a suspension.

The refund or credit of a service that stops before its paid-until date counts the unused days
from the day it is suspended (``RefundFrom.SUSPENSION``: the customer is served until then, and
seed 002 pays back time not served), or from the notice's date (``RefundFrom.NOTICE``: for a
business that will not charge for a transition it imposed); the notice says which day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from babel.numbers import get_currency_precision

from handover.addressing import is_company
from handover.model import (
    Customer,
    Domain,
    Event,
    HandoverProfile,
    Hosting,
    Packaging,
    RefundFrom,
    Register,
    Registrant,
)
from handover.rules import TransferRules, eligibility


@dataclass(frozen=True, slots=True)
class Refund:
    """The unused part of a prepaid service on ``on``: ``unused_days`` of ``period_days`` at ``price``."""

    amount: Decimal
    currency: str
    unused_days: int
    period_days: int


def months_before(day: date, months: int) -> date:
    """The same day ``months`` earlier (clamped to the month's end: 31 March − 1 month = 28/29 February)."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def refund(service: Hosting, on: date) -> Refund | None:
    """The prorated refund (or credit) of ``service`` if it stops on ``on``; None if nothing is owed.

    The paid period is the billing cycle that ends on paid-until; what lies beyond ``on`` is
    owed back, day by day (several prepaid cycles count whole). One-time and free services
    owe nothing.
    """
    if service.price is None or service.currency is None or service.cycle is None:
        return None
    months = service.cycle.months
    if months is None or service.paid_until <= on or service.price <= 0:
        return None
    period = (service.paid_until - months_before(service.paid_until, months)).days
    unused = (service.paid_until - on).days
    digits = get_currency_precision(service.currency)
    amount = (service.price * unused / period).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return Refund(amount, service.currency, unused, period) if amount > 0 else None


def domain_path(domain: Domain, register: Register) -> str:
    """The way out we propose: ``move`` (reseller-to-client, same registrar) or ``transfer`` (auth code)."""
    return "move" if register.registrar(domain.registrar).reseller_move else "transfer"


def notice_context(customer: Customer, register: Register, profile: HandoverProfile, notice_date: date,
                   rules: TransferRules, *, link: str | None, drill: bool = False,
                   refund_from: RefundFrom = RefundFrom.SUSPENSION) -> dict[str, Any]:
    """Everything one customer's notice says, as JSON-ready values (dates as ISO text)."""
    act_by = notice_date + timedelta(days=profile.act_within_days)
    backup_by = notice_date + timedelta(days=profile.backup_days)
    services: list[dict[str, Any]] = []
    keep_until = act_by + timedelta(days=profile.grace_days)  # the end of the transition
    for service in register.hosting_of(customer.id):
        suspend_on = max(keep_until, service.paid_until) if service.packaging is Packaging.INDIVIDUAL \
            and profile.event is not Event.CLOSING else keep_until
        backup_by = min(backup_by, suspend_on)
        counted_from = notice_date if refund_from is RefundFrom.NOTICE and suspend_on < service.paid_until \
            else suspend_on
        owed = refund(service, counted_from)
        services.append({
            "id": service.id, "provider": service.provider, "plan": service.plan, "panel": service.panel,
            "domain": service.domain, "paid_until": service.paid_until.isoformat(),
            "suspend_on": suspend_on.isoformat(),
            "end_on": (suspend_on + timedelta(days=profile.grace_days)).isoformat(),
            "movable": service.packaging is Packaging.INDIVIDUAL,
            "refund": None if owed is None else {"amount": str(owed.amount), "currency": owed.currency,
                                                 "unused_days": owed.unused_days, "period_days": owed.period_days,
                                                 "from": counted_from.isoformat()},
        })
    names = []
    registrars: dict[str, dict[str, Any]] = {}
    for domain in register.domains_of(customer.id):
        registrar = register.registrar(domain.registrar)
        status = eligibility(domain, notice_date, rules)
        path = domain_path(domain, register)
        names.append({
            "name": domain.name.unicode, "ascii": domain.name.ascii, "expires": domain.expires.isoformat(),
            "registrar": registrar.id, "registrar_name": registrar.name, "path": path,
            "in_reseller_name": domain.registrant is Registrant.RESELLER,
            "locked": domain.transfer_prohibited,
            "transfer_from": status.earliest_transfer.isoformat(),
            "renew_by": status.renew_by.isoformat() if status.renew_by else None,
            "expires_soon": domain.expires <= act_by,
        })
        registrars.setdefault(registrar.id, {"id": registrar.id, "name": registrar.name,
                                             "website": registrar.website, "move": registrar.reseller_move})
    refunds = [s["refund"] for s in services if s["refund"]]
    successor = profile.successor
    return {
        "customer": {"id": customer.id, "name": customer.name, "company": customer.company,
                     "company_greeting": is_company(customer)},
        "language": customer.notice_language, "business": profile.business, "owner": profile.owner_name,
        "event": str(profile.event), "drill": drill,
        "successor": None if successor is None else {"name": successor.name, "email": successor.email,
                                                     "role": successor.role, "phone": successor.phone},
        "notice_date": notice_date.isoformat(), "act_by": act_by.isoformat(), "backup_by": backup_by.isoformat(),
        "domains": names, "registrars": list(registrars.values()), "services": services,
        "settlement": str(profile.settlement), "refund_total": _totals(refunds),
        "support_can": list(profile.support_can), "support_cannot": list(profile.support_cannot),
        "auth_code_days": rules.auth_code_days, "link": link,
    }


def _totals(refunds: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    by_currency: dict[str, Decimal] = {}
    for item in refunds:
        by_currency[item["currency"]] = by_currency.get(item["currency"], Decimal(0)) + Decimal(item["amount"])
    return [{"currency": c, "amount": str(a)} for c, a in sorted(by_currency.items())]
