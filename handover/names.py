"""Domain names, normalised with IDNA 2008 (the ``idna`` package, never Python's IDNA 2003 codec).

A name is kept in both forms: Unicode (``straße.de``, what customers read) and ASCII
(``xn--strae-oqa.de``, what registries and EPP use). Case is folded, one trailing dot
(the DNS root) is dropped, and UTS 46 mapping turns full-width and upper-case letters
into their ordinary form before the IDNA 2008 rules are applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import idna

from handover.errors import HandoverError

MAX_NAME = 253  # octets of the ASCII form, without the root dot


@dataclass(frozen=True, slots=True, order=True)
class DomainName:
    ascii: str
    unicode: str

    def __str__(self) -> str:
        return self.unicode

    @property
    def tld(self) -> str:
        return self.ascii.rsplit(".", 1)[-1]


def domain_name(text: str) -> DomainName:
    """The normalised name, or ``HandoverError`` saying why ``text`` is not a registrable domain name."""
    raw = text.strip()
    if not raw:
        raise HandoverError("expected a domain name, got an empty value")
    try:  # UTS 46 mapping first: it folds case and turns full-width and ideographic full stops into dots
        mapped = idna.uts46_remap(raw, std3_rules=False, transitional=False)
    except idna.IDNAError as exc:
        raise HandoverError(f"expected a valid IDNA 2008 domain name, got {text!r}: {exc}") from None
    name = mapped[:-1] if mapped.endswith(".") else mapped
    labels = name.split(".")
    if len(labels) < 2 or any(not label for label in labels):
        raise HandoverError(f"expected a domain name with at least two non-empty labels (like example.com), "
                            f"got {text!r}")
    try:
        ascii_form = idna.encode(name).decode("ascii")
        unicode_form = idna.decode(ascii_form)
    except idna.IDNAError as exc:
        raise HandoverError(f"expected a valid IDNA 2008 domain name, got {text!r}: {exc}") from None
    for label in ascii_form.split("."):
        if len(label) > 63:
            raise HandoverError(f"expected labels of at most 63 characters, got {len(label)} in {text!r}")
    if len(ascii_form) > MAX_NAME:
        raise HandoverError(f"expected a name of at most {MAX_NAME} characters, got {len(ascii_form)} "
                            f"in {text!r}")
    if ascii_form.rsplit(".", 1)[-1].isdigit():
        raise HandoverError(f"expected a domain name, got an address-like {text!r}")
    return DomainName(ascii_form, unicode_form)
