"""Text the successors' files are made of: one-line values, literal Markdown, domain labels, file names.

Values from the register or the customers' answers end up in tickets, letters and a Markdown
index; here they are made harmless there (no line can be added, no Markdown markup formed) and
names are given one form everywhere: the Unicode name a person reads, with the ASCII (A-label)
form beside it when they differ, because registrars' systems need it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from handover.names import DomainName

# Markdown's punctuation that could form markup or a table cell. Parentheses are left alone: a link
# needs "](", and brackets are escaped.
MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]<>#+!|~]")


def one_line(text: str) -> str:
    """``text`` with control characters (line breaks included) turned into single spaces."""
    return " ".join("".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text).split())


def markdown_text(value: object) -> str:
    """``value`` as literal Markdown text: one line, with Markdown's punctuation (and table pipes) escaped."""
    return MARKDOWN_SPECIAL.sub(r"\\\g<0>", one_line(str(value)))


def domain_label(name: DomainName) -> str:
    """The name as people read it, with its A-label beside it when that differs: ``straße.de (xn--strae-oqa.de)``."""
    return name.ascii if name.ascii == name.unicode else f"{name.unicode} ({name.ascii})"


def slug(text: str) -> str:
    """A safe file name: lowercase ASCII letters, digits and single hyphens (``x`` when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:63].strip("-") or "x"


def by_slug(ids: Iterable[str]) -> list[str]:
    """``ids`` in the order of their slugs (ties by the id itself), as their folders and files list."""
    return sorted(ids, key=lambda ident: (slug(ident), ident))


def slugs(ids: list[str], reserved: frozenset[str] = frozenset()) -> dict[str, str]:
    """A distinct slug per id (in the order given): clashes get ``-2``, ``-3``…"""
    taken = set(reserved)
    found: dict[str, str] = {}
    for ident in ids:
        base = slug(ident)
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate)
        found[ident] = candidate
    return found
