"""Key cards: a holder's age identity printed on paper (HTML and PDF), with a QR code, made on the owner's machine."""

from __future__ import annotations

import html
import io

import segno
from fpdf import FPDF

from handover.i18n import supported, translations
from vault.signature import FINGERPRINT_COMMAND


def N_(message: str) -> str:
    """Marks a message for the catalog; translated into the holder's language where the card is made."""
    return message


_STEPS = [
    N_("Keep this card somewhere safe, like a will: whoever holds it can open your share."),
    N_("Baton never had this card: it was printed on %(owner)s's own computer."),
    N_("If you are told one day that the vault was released, you will receive a package. "
       "Its instructions (RECOVER.html) say how to use the key below."),
    N_("To use it, type (or scan) the secret key line into a file named my-key.txt."),
]
_ANCHOR = N_("Every package Baton makes for you is signed with the key whose fingerprint is printed below. "
             "The package's instructions give one command that prints the fingerprint of the key that signed it "
             "(%(command)s): use the package only if it prints exactly this.")
_TITLE = N_("Baton key card for %(holder)s")
_FOR = N_("For the vault of %(owner)s.")
_SECRET, _PUBLIC, _SIGNING = N_("Secret key"), N_("Public key"), N_("Baton's signing key")


def render_keycard(holder: str, owner_name: str, secret: str, public: str, fingerprint: str,
                   language: str = "en") -> tuple[str, bytes]:
    """The card as HTML and PDF, in the holder's ``language``. ``owner_name`` is how the holder knows the
    owner; ``fingerprint`` is the deployment key's (``vault.signature.fingerprint``)."""
    language = supported(language)
    _ = translations(language).gettext
    qr = segno.make(secret, error="m")
    svg = qr.svg_inline(scale=4)
    steps = [_(s) % {"owner": owner_name} if "%(owner)s" in s else _(s) for s in _STEPS]
    anchor = _(_ANCHOR) % {"command": FINGERPRINT_COMMAND}
    title, for_vault = _(_TITLE) % {"holder": holder}, _(_FOR) % {"owner": owner_name}
    page = (
        f"<!doctype html><html lang='{language}'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto}"
        ".secret{font-family:monospace;font-size:1.05rem;word-break:break-all;border:2px solid #000;padding:.8rem}"
        ".fp{font-family:monospace;word-break:break-all;border:1px solid #000;padding:.5rem}"
        "@media print{body{margin:0}}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(for_vault)}</p>"
        + "".join(f"<p>{html.escape(s)}</p>" for s in steps)
        + f"<h2>{html.escape(_(_SECRET))}</h2><p class='secret'>{html.escape(secret)}</p>{svg}"
        f"<h2>{html.escape(_(_PUBLIC))}</h2><p><code>{html.escape(public)}</code></p>"
        f"<h2>{html.escape(_(_SIGNING))}</h2><p>{html.escape(anchor)}</p>"
        f"<p class='fp' id='fingerprint'>{html.escape(fingerprint)}</p></body></html>"
    )
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 10, _latin(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, _latin(for_vault), new_x="LMARGIN", new_y="NEXT")
    for step in steps:
        pdf.multi_cell(0, 6, _latin(step), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, _latin(_(_SECRET)), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "B", 11)
    pdf.multi_cell(0, 7, secret, border=1, new_x="LMARGIN", new_y="NEXT")
    png = io.BytesIO()
    qr.save(png, kind="png", scale=6, border=2)
    png.seek(0)
    pdf.image(png, w=60)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, _latin(_(_PUBLIC)), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "", 9)
    pdf.multi_cell(0, 5, public, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, _latin(_(_SIGNING)), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 5, _latin(anchor), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "B", 10)
    pdf.multi_cell(0, 7, fingerprint, border=1, new_x="LMARGIN", new_y="NEXT")
    return page, bytes(pdf.output())


def _latin(text: str) -> str:
    return text.encode("latin-1", errors="replace").decode("latin-1")
