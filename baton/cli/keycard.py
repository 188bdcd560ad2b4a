"""Key cards: a holder's age identity printed on paper (HTML and PDF), with a QR code, made on the owner's machine."""

from __future__ import annotations

import html
import io

import segno
from fpdf import FPDF

from vault.signature import FINGERPRINT_COMMAND

_STEPS = [
    "Keep this card somewhere safe, like a will: whoever holds it can open your share.",
    "Baton never had this card: it was printed on {owner}'s own computer.",
    "If you are told one day that the vault was released, you will receive a package. "
    "Its instructions (RECOVER.html) say how to use the key below.",
    "To use it, type (or scan) the secret key line into a file named my-key.txt.",
]
_ANCHOR = ("Every package Baton makes for you is signed with the key whose fingerprint is printed below. "
           "The package's instructions give one command that prints the fingerprint of the key that signed it "
           f"({FINGERPRINT_COMMAND}): use the package only if it prints exactly this.")


def render_keycard(holder: str, owner_email: str, secret: str, public: str, fingerprint: str) -> tuple[str, bytes]:
    """The card as HTML and PDF. ``fingerprint`` is the deployment key's (``vault.signature.fingerprint``)."""
    qr = segno.make(secret, error="m")
    svg = qr.svg_inline(scale=4)
    steps = [s.format(owner=owner_email) for s in _STEPS]
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Baton key card</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto}"
        ".secret{font-family:monospace;font-size:1.05rem;word-break:break-all;border:2px solid #000;padding:.8rem}"
        ".fp{font-family:monospace;word-break:break-all;border:1px solid #000;padding:.5rem}"
        "@media print{body{margin:0}}</style></head><body>"
        f"<h1>Baton key card for {html.escape(holder)}</h1>"
        f"<p>For the vault of {html.escape(owner_email)}.</p>"
        + "".join(f"<p>{html.escape(s)}</p>" for s in steps)
        + f"<h2>Secret key</h2><p class='secret'>{html.escape(secret)}</p>{svg}"
        f"<h2>Public key</h2><p><code>{html.escape(public)}</code></p>"
        f"<h2>Baton's signing key</h2><p>{html.escape(_ANCHOR)}</p>"
        f"<p class='fp' id='fingerprint'>{html.escape(fingerprint)}</p></body></html>"
    )
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 10, _latin(f"Baton key card for {holder}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, _latin(f"For the vault of {owner_email}."), new_x="LMARGIN", new_y="NEXT")
    for step in steps:
        pdf.multi_cell(0, 6, _latin(step), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, "Secret key", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "B", 11)
    pdf.multi_cell(0, 7, secret, border=1, new_x="LMARGIN", new_y="NEXT")
    png = io.BytesIO()
    qr.save(png, kind="png", scale=6, border=2)
    png.seek(0)
    pdf.image(png, w=60)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, "Public key", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "", 9)
    pdf.multi_cell(0, 5, public, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, "Baton's signing key", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 5, _latin(_ANCHOR), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "B", 10)
    pdf.multi_cell(0, 7, fingerprint, border=1, new_x="LMARGIN", new_y="NEXT")
    return page, bytes(pdf.output())


def _latin(text: str) -> str:
    return text.encode("latin-1", errors="replace").decode("latin-1")
