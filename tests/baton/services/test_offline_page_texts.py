"""The offline page (open.html) as the package builder renders it: every language complete, and a CSP that pins
its one script and one style by hash and allows no connection."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from baton.services.offlinepage import SCRIPT, STYLE, render_offline_page

LANGUAGES = ("en", "id", "pt", "it", "pt-BR", "pt-PT")


def _texts(page: str) -> dict[str, str]:
    [raw] = re.findall(r'<script type="application/json" id="texts">(.*?)</script>', page, flags=re.S)
    texts: dict[str, str] = json.loads(raw)
    return texts


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_has_every_text_with_the_same_placeholders(language: str) -> None:
    english = _texts(render_offline_page("en").decode())
    texts = _texts(render_offline_page(language).decode())
    assert sorted(texts) == sorted(english)
    assert [k for k, v in texts.items() if not v.strip()] == []
    for key, text in english.items():
        assert sorted(re.findall(r"\{\w+\}", texts[key])) == sorted(re.findall(r"\{\w+\}", text)), (language, key)
    if language != "en":
        same = [k for k in english if texts[k] == english[k] and not k.startswith(("field.", "kind.", "policy."))]
        assert len(same) <= 3, same  # a few words are the same in both languages (Login, Host, Server)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_page_pins_its_script_and_style_and_allows_no_connection(language: str) -> None:
    page = render_offline_page(language).decode()
    assert f'<html lang="{language}">' in page
    [csp] = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert csp.startswith("default-src 'none'; ") and "connect-src 'none'" in csp and "unsafe" not in csp
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    styles = re.findall(r"<style>(.*?)</style>", page, flags=re.S)
    assert scripts == [SCRIPT.read_text()] and styles == [STYLE.read_text()]
    assert f"script-src '{_sha256(scripts[0])}'" in csp and f"style-src '{_sha256(styles[0])}'" in csp
    assert not re.search(r"(src|href)=\"?https?:", page)


def test_brazilian_and_european_portuguese_get_their_own_page() -> None:
    brazilian, european = (_texts(render_offline_page(language).decode()) for language in ("pt-BR", "pt-PT"))
    assert _texts(render_offline_page("pt").decode()) == brazilian
    assert brazilian["save"] == "Salvar {name}" and european["save"] == "Guardar {name}"
    assert brazilian["kind.file"] == "Arquivo" and european["kind.file"] == "Ficheiro"
