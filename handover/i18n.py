"""Translations and locale formatting for what customers read: gettext catalogs and Babel.

The catalogs are ``templates/locale/<language>/LC_MESSAGES/baton.po`` (English is the
source language and needs none). Portuguese comes in two variants: ``pt`` is Brazilian Portuguese
(its catalog and templates were written so) and ``pt-BR`` is the same; ``pt-PT`` (European) has a
catalog ``pt_PT`` holding only the messages that differ, over ``pt`` (gettext's fallback), and
template folders ``<dir>/pt-PT/`` only for the documents whose wording differs (``template_names``).
They are compiled in memory when first used, so the
repository holds only the text files translators edit. Each language gets its own Jinja2
environment with the i18n extension and filters that format dates, numbers and money
the way that locale writes them.
"""

from __future__ import annotations

import gettext
import io
import re
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_timezone_name
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from templates import TEMPLATE_DIR

LANGUAGES = ("en", "id", "pt", "it", "pt-BR", "pt-PT")
LOCALES = {"en": "en", "id": "id_ID", "pt": "pt_BR", "it": "it_IT",  # how each language formats
           "pt-BR": "pt_BR", "pt-PT": "pt_PT"}
# A variant's catalog and templates fall back to these, in order, before English.
FALLBACKS: dict[str, tuple[str, ...]] = {"pt-BR": ("pt",), "pt-PT": ("pt",)}
CATALOGS = {"pt-BR": "pt", "pt-PT": "pt_PT"}  # a language's catalog folder, where it is not its own name
CATALOG_DIR = Path(TEMPLATE_DIR) / "locale"
DOMAIN = "baton"


def catalog_path(language: str) -> Path:
    return CATALOG_DIR / CATALOGS.get(language, language) / "LC_MESSAGES" / f"{DOMAIN}.po"


def supported(language: str | None) -> str:
    """The language to use: ``language`` if there is a catalog for it, else English."""
    return language if language in LANGUAGES else "en"


def template_names(folder: str, file: str, language: str) -> list[str]:
    """Where ``folder/file`` is looked for in ``language``: its own folder, its fallbacks', then the default."""
    language = supported(language)
    return ([f"{folder}/{lang}/{file}" for lang in (language, *FALLBACKS.get(language, ()))]
            + [f"{folder}/{file}", f"{folder}/en/{file}"])


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog for ``language`` (no-op translations for English), over its fallbacks'."""
    language = supported(language)
    if language == "en":
        return gettext.NullTranslations()
    path = catalog_path(language)
    if language in FALLBACKS and CATALOGS.get(language) in FALLBACKS[language]:
        return translations(CATALOGS[language])  # pt-BR: the pt catalog itself
    with open(path, "rb") as handle:
        catalog = read_po(handle, locale=LOCALES[language], domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    compiled = gettext.GNUTranslations(buffer)
    for fallback in FALLBACKS.get(language, ()):
        compiled.add_fallback(translations(fallback))
    return compiled


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
    env.filters["moment"] = lambda value, zone: moment(value, language, zone)
    env.filters["ticks"] = code_spans
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


def code_spans(value: object) -> Markup:
    """Escaped HTML of a text written for Markdown, its `command` spans made ``<code>`` (one message
    serves RECOVER.md and RECOVER.html)."""
    safe = value if isinstance(value, Markup) else escape(str(value))
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(safe)))


def moment(value: datetime | str | None, language: str, zone: str) -> str:
    """A moment as a person of ``language`` reads it, in time zone ``zone``, the zone named:
    ``31 Januari 2027 00.40 (Waktu Indonesia Barat)``."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"expected a moment with its time zone (UTC inside), got {value.isoformat()}")
    locale = locale_of(language)
    here = value.astimezone(ZoneInfo(zone))
    day = format_date(here, format="long", locale=locale)
    hour = format_time(here, format="short", locale=locale)
    joined = str(locale.datetime_formats["long"]).replace("'", "").replace("{0}", hour).replace("{1}", day)
    return f"{joined} ({get_timezone_name(here, width='long', locale=locale)})"


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
