"""``pt`` (and ``pt-BR``) is Brazilian Portuguese and ``pt-PT`` European: the Brazilian catalog and templates hold
none of the words only Portugal uses, and every message the European catalog sets says something else than ``pt``."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from handover.i18n import catalog_path
from templates import TEMPLATE_DIR

# Words a Brazilian reader would not write (the Brazilian word in the comment).
EUROPEAN_ONLY = re.compile(
    r"ficheiro"          # arquivo
    r"|telemóve"         # celular
    r"|ecrã"             # tela
    r"|descarreg"        # baixar
    r"|\bregist[oa]d?"   # registro, registrado
    r"|secção"           # seção
    r"|transferências"   # downloads (the browser's folder)
    r"|palavra-passe"    # senha
    r"|utilizador"       # usuário
    r"|libertação"       # liberação
    r"|\bpara si\b"      # para você
    r"|\bcarregue no"    # clique no
    r"|\bnoutr[oa]s?\b",  # em outro
    re.IGNORECASE)


def _strings(path: Path) -> dict[str, str]:
    with open(path, "rb") as handle:
        catalog = read_po(handle)
    return {str(m.id): " ".join(m.string) if isinstance(m.string, tuple) else str(m.string)
            for m in catalog if m.id and m.string}


def _brazilian_templates() -> list[Path]:
    return sorted(p for folder in ("email", "package") for p in (TEMPLATE_DIR / folder / "pt").glob("*.j2"))


def test_the_brazilian_catalog_has_no_european_only_word() -> None:
    found = {msgid: text for msgid, text in _strings(catalog_path("pt")).items() if EUROPEAN_ONLY.search(text)}
    assert found == {}


def test_the_brazilian_templates_have_no_european_only_word() -> None:
    templates = _brazilian_templates()
    assert {p.name for p in templates} >= {"open.html.j2", "RECOVER.html.j2", "holder_release.j2"}
    found = [(p.relative_to(TEMPLATE_DIR).as_posix(), m.group(0)) for p in templates
             for m in EUROPEAN_ONLY.finditer(p.read_text(encoding="utf-8"))]
    assert found == []


def test_the_european_catalog_sets_only_what_differs_from_the_brazilian_one() -> None:
    brazilian, european = _strings(catalog_path("pt")), _strings(catalog_path("pt-PT"))
    assert len(european) >= 40  # the European wording is really there, not only fallbacks
    assert [msgid for msgid, text in european.items() if text == brazilian.get(msgid)] == []
    assert [msgid for msgid in european if msgid not in brazilian] == []


def test_the_european_templates_are_european() -> None:
    european = sorted((TEMPLATE_DIR / "package" / "pt-PT").glob("*.j2"))
    assert "open.html.j2" in {p.name for p in european}
    for path in european:
        brazilian = TEMPLATE_DIR / "package" / "pt" / path.name
        assert brazilian.read_text(encoding="utf-8") != path.read_text(encoding="utf-8"), path.name
