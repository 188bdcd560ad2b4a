"""Jinja2 templates: e-mails (``email/``) and web pages (``pages/``)."""

from pathlib import Path

TEMPLATE_DIR = Path(__file__).parent

__all__ = ["TEMPLATE_DIR"]
