"""The gettext catalogs of what customers read (templates/locale): in step with the templates, complete, used.

English is the source language: the msgids are the English text of the templates that
babel.cfg names. ``templates/locale/baton.pot`` must hold exactly those messages, and every
other language must translate each of them. Rendering each translated notice and page with
a context that takes every branch must leave no English sentence behind, and dates and
money must come out the way the language's locale writes them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.util import pathmatch
from jinja2 import meta

from handover.i18n import CATALOG_DIR, CATALOGS, FALLBACKS, LOCALES, catalog_path, environment, render, render_blocks
from handover.model import LANGUAGES as NOTICE_LANGUAGES
from handover.model import (
    Answer,
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
from handover.notices import notice_context
from handover.rules import TransferRules

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "babel.cfg"
POT = CATALOG_DIR / "baton.pot"
REFRESH = ("cd <repository> && pybabel extract -F babel.cfg -o templates/locale/baton.pot --no-location "
           "--sort-output --project Baton --copyright-holder Baton . && pybabel update -D baton "
           "-i templates/locale/baton.pot -d templates/locale --no-fuzzy-matching")
TRANSLATED = [language for language in NOTICE_LANGUAGES if language != "en"]  # what customers read
# Every catalog of its own: pt-BR is the pt catalog itself; pt-PT's holds only what European Portuguese
# says otherwise, and falls back to pt for the rest (an empty msgstr is a fallback, not a gap).
CATALOGUED = [*TRANSLATED, *(language for language in FALLBACKS if CATALOGS[language] not in FALLBACKS[language])]
ENTRY_POINTS = ("notices/notice.j2", "notices/printable.html", "pages/notice.html", "pages/notice_done.html")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]")

Key = str | tuple[str, str]  # a catalog key: the msgid, or (msgid, context)


# --- the messages in the templates --------------------------------------------------------------------------

@cache
def mapping() -> tuple[list[tuple[str, str]], dict[str, dict[str, Any]]]:
    with CONFIG.open() as handle:
        return parse_mapping_cfg(handle, str(CONFIG))


def _key(msgid: str | tuple[str, ...], context: str | None) -> Key:
    singular = msgid if isinstance(msgid, str) else msgid[0]
    return singular if context is None else (singular, context)


@cache
def extracted() -> dict[Key, tuple[tuple[str, ...], str]]:
    """Each message babel.cfg extracts: its key → (its forms, where it first occurs)."""
    method_map, options_map = mapping()
    found: dict[Key, tuple[tuple[str, ...], str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(ROOT, method_map, options_map):
        forms = (message,) if isinstance(message, str) else tuple(message)
        found.setdefault(_key(forms, context), (forms, f"{filename}:{lineno}"))
    return found


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _templates_customers_read() -> list[str]:
    """The entry templates and every template they include, import or extend."""
    env = environment("en")
    assert env.loader is not None
    todo, seen = list(ENTRY_POINTS), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        source = env.loader.get_source(env, name)[0]
        todo.extend(ref for ref in meta.find_referenced_templates(env.parse(source)) if ref)
    return sorted(seen)


def test_babel_cfg_extracts_every_template_customers_read() -> None:
    method_map, options_map = mapping()
    options = {"extensions": "jinja2.ext.i18n", "trim_blocks": "True", "lstrip_blocks": "True"}
    missed = []
    for name in _templates_customers_read():
        path = ROOT / "templates" / name
        if not list(extract_from_file("jinja2.ext:babel_extract", str(path), options=options)):
            continue  # no words to translate (e.g. the page layout)
        relative = path.relative_to(ROOT).as_posix()
        if not any(pathmatch(pattern, relative) for pattern, _method in method_map):
            missed.append(relative)
    assert not missed, (
        f"babel.cfg extracts no messages from {', '.join(missed)}, so customers would read them in English "
        "whatever their language: add a section for them (Babel's * matches one character or more: "
        "'notice*.html' does not match 'notice.html')")


def test_the_template_catalog_is_up_to_date() -> None:
    template = _read(POT)
    have = {_key(message.id, message.context) for message in template if message.id}
    want = extracted()
    missing = [f"{key!r} ({want[key][1]})" for key in want if key not in have]
    stale = [repr(key) for key in have if key not in want]
    problems = ([f"in the templates but not in {POT.name}: " + "; ".join(sorted(missing))] if missing else []) + \
        ([f"in {POT.name} but in no template: " + "; ".join(sorted(stale))] if stale else [])
    assert not problems, f"{POT} is out of date: {' | '.join(problems)}. Run: {REFRESH}; then translate."


@pytest.mark.parametrize("language", CATALOGUED)
def test_catalog_is_complete(language: str) -> None:
    path = catalog_path(language)
    catalog = _read(path, LOCALES[language])
    below = [_read(catalog_path(fallback), LOCALES[fallback]) for fallback in FALLBACKS.get(language, ())]
    problems: list[str] = []
    if catalog.fuzzy:
        problems.append("the header is marked fuzzy")
    for key, (forms, where) in sorted(extracted().items(), key=lambda item: str(item[0])):
        msgid = forms[0]
        entry = catalog.get(msgid, None if isinstance(key, str) else key[1])
        if entry is None:
            problems.append(f"{msgid!r} ({where}): missing")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set().union(*(PLACEHOLDER.findall(form) for form in forms))
        if len(forms) > 1 and len(strings) != catalog.num_plurals:
            problems.append(f"{msgid!r}: {len(strings)} plural forms, {language} has {catalog.num_plurals}")
        if not any(s.strip() for s in strings) and below:
            if not any(c.get(msgid, None if isinstance(key, str) else key[1]) for c in below):
                problems.append(f"{msgid!r}: not translated here nor in {', '.join(FALLBACKS[language])}")
        elif not all(s.strip() for s in strings):
            problems.append(f"{msgid!r}: not translated")
        elif any(set(PLACEHOLDER.findall(s)) != wanted for s in strings):
            problems.append(f"{msgid!r}: placeholders {sorted(wanted)} expected, the translation has "
                            f"{sorted(set().union(*(PLACEHOLDER.findall(s) for s in strings)))}")
        if entry.fuzzy:
            problems.append(f"{msgid!r}: marked fuzzy")
    for entry in catalog:
        if entry.id and _key(entry.id, entry.context) not in extracted():
            problems.append(f"{entry.id!r}: in the catalog but in no template")
    problems.extend(f"{entry.id!r}: obsolete (#~) entry" for entry in catalog.obsolete.values())
    assert not problems, f"{path} is incomplete ({REFRESH}; then translate):\n" + "\n".join(problems)


# --- rendering ---------------------------------------------------------------------------------------------

NOTICE_DATE = date(2026, 12, 1)
CURRENCY = {"en": "USD", "id": "IDR", "pt": "BRL", "it": "EUR"}
PRICES = {"IDR": (Decimal("2400000"), Decimal("900000")), "BRL": (Decimal("480.00"), Decimal("299.70")),
          "EUR": (Decimal("120.00"), Decimal("90.00")), "USD": (Decimal("100.00"), Decimal("60.00"))}
# In each language: the act-by date (31 December 2026), the notice date, and the pooled package's refund
# (60 unused days of a 90-day quarter at the second price above).
LOCAL_FORMS = {
    "id": ("31 Desember 2026", "1 Desember 2026", "Rp600.000"),
    "pt": ("31 de dezembro de 2026", "1 de dezembro de 2026", "R$\xa0199,80"),
    "it": ("31 dicembre 2026", "1 dicembre 2026", "60,00\xa0€"),
}


@dataclass(frozen=True)
class Scenario:
    event: Event
    drill: bool
    settlement: Settlement
    successor: Successor | None
    page_errors: bool  # the answer page shows a rejected answer


SCENARIOS = (
    Scenario(Event.PASSED_AWAY, True, Settlement.REFUND,
             Successor("Sari Wijaya", "sari@example.id", "heir", "+62 811 2345 678"), True),
    Scenario(Event.INCAPACITATED, False, Settlement.CREDIT, Successor("Marco Bianchi", "marco@example.it"), False),
    Scenario(Event.CLOSING, False, Settlement.REFUND, None, False),
)


def _register(language: str) -> Register:
    """One customer with every kind of domain and hosting a notice distinguishes."""
    currency = CURRENCY[language]
    yearly, quarterly = PRICES[currency]
    register = Register()
    register.customers["c1"] = Customer("c1", "Rina Wijaya", "rina@example.id", language, "ID", "Toko Rina")
    register.registrars["dr"] = Registrar("dr", "DomainRegister", reseller_move=True, website="https://dr.example")
    register.registrars["rc"] = Registrar("rc", "ResellerClub")
    register.domains += [
        # moved to the customer's account at the same registrar; registered in the reseller's name
        Domain(domain_name("tokorina.id"), "c1", "dr", date(2027, 8, 1), created=date(2015, 3, 1),
               registrant=Registrant.RESELLER),
        # transferred with an auth code; expires before the customer must act
        Domain(domain_name("rina-shop.com"), "c1", "rc", date(2026, 12, 20), created=date(2019, 5, 5),
               statuses=("clientTransferProhibited",)),
        # registered recently: 60-day lock until 9 January 2027
        Domain(domain_name("rinabaru.com"), "c1", "rc", date(2027, 11, 10), created=date(2026, 11, 10)),
        # expired: must be renewed first
        Domain(domain_name("rina-lama.net"), "c1", "rc", date(2026, 11, 20), created=date(2012, 11, 20)),
    ]
    register.hosting += [
        Hosting("h1", "c1", "Hostinger", date(2027, 6, 30), panel="cPanel", price=yearly, currency=currency,
                cycle=Cycle.ANNUALLY, packaging=Packaging.INDIVIDUAL, domain="tokorina.id"),
        Hosting("h2", "c1", "Niagahoster", date(2027, 3, 31), plan="Bisnis 5 GB", price=quarterly,
                currency=currency, cycle=Cycle.QUARTERLY, packaging=Packaging.POOLED),
    ]
    return register


def _context(language: str, scenario: Scenario) -> dict[str, Any]:
    profile = HandoverProfile("Wijaya Hosting", "Budi Wijaya", event=scenario.event, successor=scenario.successor,
                              settlement=scenario.settlement)  # support lists empty: the defaults show
    register = _register(language)
    return notice_context(register.customers["c1"], register, profile, NOTICE_DATE, TransferRules(),
                          link="https://baton.example/n/tok3n", drill=scenario.drill)


def _page_context(scenario: Scenario) -> dict[str, Any]:
    if not scenario.page_errors:
        return {"typed": {"read": ""}, "errors": {}, "answered_at": None}
    typed = {"read": "yes", "account:dr": "rina wijaya!", "hosting:h1": "no/slashes", "note": "x" * 2001,
             "auth_code": ["rina-shop.com"]}
    errors = {"account:dr": "bad", "hosting:h1": "bad", "note": "too long"}
    return {"typed": typed, "errors": errors, "answered_at": datetime(2026, 12, 5, 9, 30, tzinfo=UTC)}


ANSWER = Answer("c1", read_at=datetime(2026, 12, 5, 9, 30, tzinfo=UTC), accounts={"dr": "rina-77"},
                auth_codes_for=("rina-shop.com",), answered_at=datetime(2026, 12, 5, 9, 30, tzinfo=UTC))


def renderings(context_language: str, language: str) -> Iterator[tuple[str, str]]:
    """(what, rendered text) of every notice form and page, for every scenario, written in ``language``."""
    for number, scenario in enumerate(SCENARIOS, 1):
        ctx = _context(context_language, scenario)
        for block, text in render_blocks("notices/notice.j2", language, **ctx).items():
            yield f"scenario {number}, notice {block}", text
        yield f"scenario {number}, printable", render("notices/printable.html", language, **ctx)
        yield f"scenario {number}, answer page", render("pages/notice.html", language, **ctx,
                                                        **_page_context(scenario))
        yield f"scenario {number}, thank-you page", render("pages/notice_done.html", language,
                                                           business=ctx["business"], answer=ANSWER)


def _plain(rendered: str) -> str:
    text = re.sub(r"<(style|script)\b.*?</\1>", " ", rendered, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", "\n", text)
    return "\n".join(re.sub(r"[ \t\r]+", " ", line).strip() for line in html.unescape(text).splitlines())


def _sentences(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        for part in re.split(r"(?<=[.!?;:])\s+", line.strip(" -+*✓✗[]")):
            if part.strip():
                found.append(part.strip())
    return found


def _values(ctx: dict[str, Any]) -> list[str]:
    """Names, addresses and other data a translation keeps as they are."""
    values = [ctx["business"], ctx["owner"], ctx["link"], ctx["customer"]["name"], ctx["customer"]["company"]]
    if ctx["successor"]:
        values += [v for v in ctx["successor"].values() if v]
    values += [v for d in ctx["domains"] for v in (d["name"], d["ascii"], d["registrar_name"])]
    values += [v for s in ctx["services"] for v in (s["provider"], s["plan"], s["domain"]) if v]
    return sorted(set(values), key=len, reverse=True)


WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
DATA = re.compile(r"\S+@\S+|https?://\S+|\S*\d\S*")  # addresses, links, amounts, days and years


def _english_words(sentence: str, values: list[str]) -> int:
    for value in values:
        sentence = sentence.replace(value, " ")
    return len(WORD.findall(DATA.sub(" ", sentence)))


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_english_sentence_survives_translation(language: str) -> None:
    values = sorted({v for scenario in SCENARIOS for v in _values(_context(language, scenario))} | {"rina-77"},
                    key=len, reverse=True)
    english = dict(renderings(language, "en"))
    translated = dict(renderings(language, language))
    left: list[str] = []
    for what, text in english.items():
        other = _plain(translated[what])
        for sentence in _sentences(_plain(text)):
            if _english_words(sentence, values) >= 4 and sentence in other:
                left.append(f"{what}: {sentence!r}")
    assert not left, f"English left in the {language} rendering:\n" + "\n".join(sorted(set(left)))


@pytest.mark.parametrize("language", TRANSLATED)
def test_dates_and_money_are_written_the_locale_s_way(language: str) -> None:
    act_by, notice_date, refund = LOCAL_FORMS[language]
    scenario = SCENARIOS[0]
    ctx = _context(language, scenario)
    blocks = render_blocks("notices/notice.j2", language, **ctx)
    printable = render("notices/printable.html", language, **ctx)
    page = render("pages/notice.html", language, **ctx, **_page_context(scenario))
    for what, text in {"text": blocks["text"], "html": _plain(blocks["html"]), "page": _plain(page)}.items():
        assert act_by in text, f"{what}: expected the act-by date written {act_by!r}"
        assert refund in text, f"{what}: expected the refund written {refund!r}"
        assert not re.search(r"\b(December|January|IDR|BRL|EUR)\b", text), f"{what}: an English date or amount"
    assert notice_date in printable
    assert f'<html lang="{language}">' in printable and f'<html lang="{language}">' in page
    english = render_blocks("notices/notice.j2", "en", **ctx)["text"]
    assert "December 31, 2026" in english  # the same context in English, for contrast
