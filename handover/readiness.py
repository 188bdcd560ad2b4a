"""The register's readiness: what would go wrong with the handover if the switch fired today.

Each finding names what is wrong, for which record, and what to do about it. ``reach``
is the day the customer notices would go out if the switch fired now (the fire moment
plus the notice stage's delay); a domain that expires before then, or is still inside a
transfer lock then, is a finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from handover.model import HandoverProfile, Register, Registrant
from handover.rules import TransferRules, earliest_transfer


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # a stable code for scripts
    subject: str  # the record it is about (a domain, a customer id, …)
    what: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "what": self.what, "fix": self.fix}


def findings(register: Register, profile: HandoverProfile | None, today: date, reach: date | None,
             rules: TransferRules) -> list[Finding]:
    """Every problem of the register, in a stable order (by kind, then subject)."""
    found: list[Finding] = []
    if profile is None:
        found.append(Finding("no-profile", "profile", "no handover profile: notices would name your e-mail address "
                             "as the business and nobody as your successor",
                             "set one with `baton handover profile FILE` (business, your name, successor, terms)"))
    elif profile.successor is None:
        found.append(Finding("no-successor", "profile", "the handover profile names no successor: customers would "
                             "not know whom to write to", "add a successor (name, e-mail, role) to the profile"))
    if not register.customers:
        found.append(Finding("empty-register", "register", "the register has no customers: no notice would go out",
                             "import it with `baton register import FILE…`"))
    for domain in register.domains:
        name = domain.name.unicode
        if domain.registrant is Registrant.RESELLER:
            found.append(Finding("reseller-registrant", name, f"{name} is registered in your name, not the "
                                 f"customer's ({domain.customer})", "change the registrant to the customer now, "
                                 "while you can sign the change yourself"))
        if reach is not None and domain.expires < reach:
            found.append(Finding("expires-before-release", name, f"{name} expires on {domain.expires}, before "
                                 f"the notices would reach its customer ({reach})",
                                 "renew it, or switch on auto-renew at the registrar"))
        locked_until, why = earliest_transfer(domain, rules)
        if reach is not None and locked_until is not None and locked_until > reach:
            found.append(Finding("transfer-lock", name, f"{name} could not be transferred away before "
                                 f"{locked_until} ({why} recently)", "nothing to do but know it: a move inside its "
                                 "registrar is not affected, a transfer must wait"))
        if domain.customer not in register.customers:
            found.append(Finding("unknown-customer", name, f"{name} belongs to customer {domain.customer}, who "
                                 "is not in the register", "import the customer"))
    for customer in register.customers.values():
        if not customer.email:
            found.append(Finding("customer-no-email", customer.id, f"customer {customer.id} ({customer.name}) has "
                                 "no e-mail address: their notice could only be printed and posted",
                                 "add their e-mail to customers.csv and import it again"))
        if not customer.language:
            found.append(Finding("customer-no-language", customer.id, f"customer {customer.id} ({customer.name}) "
                                 "has no language: their notice would be in English",
                                 "add their language (en, id, pt, it) to customers.csv"))
    for service in register.hosting:
        if not service.panel:
            found.append(Finding("hosting-no-panel", service.id, f"hosting {service.id} of customer "
                                 f"{service.customer} at {service.provider} has no known control panel",
                                 "add its panel (cPanel, Plesk, DirectAdmin, …) so successors know where to log in"))
    for registrar in register.registrars.values():
        if not _reachable(register, registrar.id):
            found.append(Finding("registrar-no-channel", registrar.id, f"registrar {registrar.name} has no "
                                 "ticket e-mail, no EPP access and no website: successors would not know how to "
                                 "ask it", "add its ticket_email (or epp: yes, or its website) to registrars.csv"))
    return sorted(found, key=lambda f: (f.kind, f.subject))


def _reachable(register: Register, rid: str) -> bool:
    registrar = register.registrar(rid)
    return bool(registrar.ticket_email or registrar.epp or registrar.website)
