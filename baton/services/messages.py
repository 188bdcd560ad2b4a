"""Message text from the Jinja2 templates in ``templates/email``: subject, text and HTML."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from handover import i18n
from templates import TEMPLATE_DIR


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def environment() -> Environment:
    """One environment for mails and pages; HTML pages autoescape, mails escape their HTML block."""
    return Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), undefined=StrictUndefined,
                       autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def render_email(name: str, /, language: str = "en", **context: Any) -> Rendered:
    """Render ``email/<language>/<name>.j2`` (else its fallbacks', else ``email/<name>.j2``): blocks ``subject``,
    ``text``, ``html``; the HTML inside the layout, whose footer speaks the same language."""
    language = i18n.supported(language)
    template = _email_template(name, language)
    ctx = template.new_context(context)
    subject = "".join(template.blocks["subject"](ctx)).strip()
    text = "".join(template.blocks["text"](ctx)).strip() + "\n"
    body = "".join(template.blocks["html"](ctx)).strip()
    html = _email_template("_layout", language).render(subject=subject, body=body)
    return Rendered(subject, text, html)


@lru_cache(maxsize=256)
def _email_template(name: str, language: str) -> Template:
    """A mail's template in a language, looked up once per process (a mass wake-up renders thousands: the
    lookup of a language's file that does not exist, and a file check on every render, cost more than the
    rendering)."""
    env = i18n.environment(language)
    if name == "_layout":
        return env.get_template("email/_layout.html")
    return env.select_template(i18n.template_names("email", f"{name}.j2", language))


def render_page(name: str, /, language: str = "en", **context: Any) -> str:
    """A web page in ``language``: its ``{% trans %}`` texts from that language's catalog (``handover.i18n``)."""
    language = i18n.supported(language)
    return i18n.environment(language).select_template(i18n.template_names("pages", f"{name}.html", language)
                                                      ).render(language=language, **context)


def render_file(name: str, language: str = "en", **context: Any) -> str:
    """A document (package instructions, key cards) from ``<dir>/<language>/<file>``, else English."""
    folder, _, file = name.rpartition("/")
    language = i18n.supported(language)
    return i18n.environment(language).select_template(i18n.template_names(folder, file, language)).render(
        language=language, **context)
