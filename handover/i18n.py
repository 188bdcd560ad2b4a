"""Translations and locale formatting for what customers read: gettext catalogs and Babel.

The catalogs are ``templates/locale/<language>/LC_MESSAGES/baton.po`` (English is the
source language and needs none). They are compiled in memory when first used, so the
repository holds only the text files translators edit. Each language gets its own Jinja2
environment with the i18n extension and filters that format dates, numbers and money
the way that locale writes them.
"""

from __future__ import annotations

import gettext
import io
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from templates import TEMPLATE_DIR

LANGUAGES = ("en", "id", "pt", "it")
LOCALES = {"en": "en", "id": "id_ID", "pt": "pt_BR", "it": "it_IT"}  # how each language formats
CATALOG_DIR = Path(TEMPLATE_DIR) / "locale"
DOMAIN = "baton"


def catalog_path(language: str) -> Path:
    return CATALOG_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def supported(language: str | None) -> str:
    """The language to use: ``language`` if there is a catalog for it, else English."""
    return language if language in LANGUAGES else "en"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog for ``language`` (no-op translations for English)."""
    if language == "en":
        return gettext.NullTranslations()
    with open(catalog_path(language), "rb") as handle:
        catalog = read_po(handle, locale=LOCALES[language], domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def locale_of(language: str) -> Locale:
    return Locale.parse(LOCALES[supported(language)])


@cache
def environment(language: str) -> Environment:
    """A Jinja2 environment that speaks ``language``: ``{% trans %}``, ``_()`` and locale filters."""
    language = supported(language)
    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True, extensions=["jinja2.ext.i18n"], auto_reload=False)
    env.install_gettext_translations(translations(language), newstyle=False)  # type: ignore[attr-defined]
    locale = LOCALES[language]
    env.filters["date"] = lambda value, style="long": formatted_date(value, style, locale)
    env.filters["money"] = lambda amount, currency: format_money(amount, currency, language)
    env.filters["number"] = lambda value: format_decimal(value, locale=locale)
    env.filters["text"] = as_text
    env.globals["language"] = language
    return env


def as_text(value: object) -> Markup:
    """Escaped HTML of a text macro's output (sentences from ``notices/_macros.j2``, written without
    autoescape so the plain-text e-mail gets them raw): a caller's autoescape marks a macro's result
    safe as it is, so HTML templates pass it through this filter instead."""
    return escape(str.__str__(value) if isinstance(value, str) else str(value))


@lru_cache(maxsize=4096)
def formatted_date(value: date | datetime | str | None, style: str, locale: str) -> str:
    """A date as ``locale`` writes it (cached: a notice run formats the same few dates thousands of times)."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, format=style, locale=locale)


@lru_cache(maxsize=4096)
def format_money(amount: Decimal | str | None, currency: str | None, language: str) -> str:
    """``amount`` in ``currency`` as the language's locale writes it (Rp 150.000,00; R$ 9,90; 9,90 €)."""
    if amount is None or currency is None:
        return ""
    return format_currency(Decimal(str(amount)), currency, locale=LOCALES[supported(language)])


def render_blocks(name: str, language: str, /, **context: Any) -> dict[str, str]:
    """Render each block of template ``name`` in ``language`` (e.g. ``subject``, ``text``, ``html``)."""
    template = environment(language).get_template(name)
    ctx = template.new_context(context)
    return {block: "".join(render(ctx)).strip() for block, render in template.blocks.items()}


def render(name: str, language: str, /, **context: Any) -> str:
    return environment(language).get_template(name).render(**context)
