"""Whom a notice addresses: a person ("Dear Ana Souza,") or a company ("Dear Padaria Pão Quente Ltda team,").

The register has a ``company`` column, but billing systems fill it for people too (the
company a person works for, WHMCS's ``companyname``), so it alone does not make a customer a
company. A notice addresses a company when the customer's name *is* a company: it equals their
company, or it begins or ends with a legal form (``PT Maju Jaya``, ``Padaria Pão Quente Ltda``,
``Bianchi S.r.l.``). A person with a company gets a personal greeting.
"""

from __future__ import annotations

import re

from handover.model import Customer

# Legal forms of the countries our customers live in, and the common international ones, with their dots
# and slashes removed: Indonesia (PT, CV, UD, Tbk), Brazil and Portugal (Ltda, ME, EIRELI, S/A, Lda), Italy
# (S.r.l., S.p.A., S.n.c., S.a.s.), and elsewhere.
LEGAL_FORMS = frozenset({
    "pt", "cv", "ud", "tbk", "ltda", "lda", "me", "mei", "epp", "eireli", "sa", "srl", "srls", "spa", "snc", "sas",
    "sapa", "scarl", "ltd", "llc", "llp", "inc", "corp", "plc", "gmbh", "ag", "bv", "nv", "sarl", "sl", "oy", "ab",
})
# A bare "SA" or "ME" ends many a person's name in no language we serve, but "Sa" and "Me" may be names:
# they count only in capitals or with their dots (S.A., S/A).
AMBIGUOUS = frozenset({"sa", "me"})


def is_company(customer: Customer) -> bool:
    """Whether the notice should greet ``customer`` as a company."""
    name = " ".join(customer.name.split())
    if customer.company and name.casefold() == " ".join(customer.company.split()).casefold():
        return True
    words = [w.strip(",;") for w in name.split()]
    return len(words) > 1 and (_legal_form(words[0]) or _legal_form(words[-1]))


def _legal_form(word: str) -> bool:
    bare = re.sub(r"[./]", "", word).casefold()
    if bare not in LEGAL_FORMS:
        return False
    return bare not in AMBIGUOUS or word.isupper() or bare != word.casefold()
