"""Billing cycles as billing systems write them: WHMCS, Blesta, HostBill, ISPConfig-like panels, people.

The register keeps seven cycles (``handover.model.Cycle``); an import accepts the words the
common billing systems export for each, in any case, with spaces, hyphens or underscores, plus
the everyday words of the notices' languages (Indonesian, Portuguese, Italian). A cycle that
means "no recurring charge" (WHMCS's Free Account, HostBill's Free) is no cycle at all.
"""

from __future__ import annotations

import re

from handover.errors import HandoverError
from handover.model import Cycle

# Each cycle's words, normalised (lower case, no spaces, hyphens, underscores or dots).
SYNONYMS: dict[Cycle, tuple[str, ...]] = {
    Cycle.MONTHLY: ("monthly", "month", "1month", "1months", "1mo", "m", "mensal", "mensile", "bulanan",
                    "perbulan"),
    Cycle.QUARTERLY: ("quarterly", "quarter", "3month", "3months", "3mo", "q", "trimestral", "trimestrale",
                      "triwulan"),
    Cycle.SEMIANNUALLY: ("semiannually", "semiannual", "halfyearly", "halfyear", "6month", "6months", "6mo", "s",
                         "semestral", "semestrale", "semesteran", "enambulan"),
    Cycle.ANNUALLY: ("annually", "annual", "yearly", "year", "1year", "1years", "12month", "12months", "1y", "a",
                     "y", "anual", "annuale", "annuo", "tahunan", "pertahun"),
    Cycle.BIENNIALLY: ("biennially", "biennial", "2year", "2years", "24month", "24months", "2y", "b", "bienal",
                       "biennale", "duatahun"),
    Cycle.TRIENNIALLY: ("triennially", "triennial", "3year", "3years", "36month", "36months", "3y", "t", "trienal",
                        "triennale", "tigatahun"),
    Cycle.ONE_TIME: ("onetime", "once", "lifetime", "onetimefee", "unico", "unica", "sekali"),
}
FREE = ("free", "freeaccount", "none", "gratis", "gratuito")  # no recurring charge: no cycle
_WORDS = {word: cycle for cycle, words in SYNONYMS.items() for word in words}


def normalised(text: str) -> str:
    return re.sub(r"[\s_.\-]+", "", text.strip().lower())


def cycle_from_text(text: str) -> Cycle | None:
    """The cycle ``text`` names (None for an empty cell or a free service), or ``HandoverError``."""
    key = normalised(text)
    if not key or key in FREE:
        return None
    found = _WORDS.get(key)
    if found is None:
        raise HandoverError(f"a billing cycle such as {', '.join(c.value for c in Cycle)} (or a synonym: annual, "
                            f"yearly, 1 year, 12 months, …), got {text.strip()[:80]!r}")
    return found
