"""A compartment's plaintext: entries and attachments, packed as a zip a person can open without Baton.

The zip holds ``vault.json`` (the entries, machine-readable), ``README.md`` and
``vault.html`` (the same, to read), and ``attachments/<entry id>/<file name>``. It only
ever exists in memory: it is encrypted before it touches a disk.
"""

from __future__ import annotations

import html
import io
import json
import zipfile
from dataclasses import dataclass, field

from vault.entries import KINDS, Entry, check_id, entry_from_dict
from vault.errors import EntryError

FORMAT = "baton-compartment/1"


@dataclass
class Compartment:
    """The opened compartment ``name``; entries by id, attachment bytes by entry id."""

    name: str
    entries: dict[str, Entry] = field(default_factory=dict)
    attachments: dict[str, bytes] = field(default_factory=dict)

    def put(self, entry: Entry, attachment: bytes | None = None) -> None:
        if entry.kind == "file":
            if attachment is None and entry.id not in self.attachments:
                raise EntryError(f"entry {entry.id!r}: a file entry needs the file")
            if attachment is not None:
                self.attachments[entry.id] = attachment
        self.entries[entry.id] = entry

    def remove(self, entry_id: str) -> Entry:
        if entry_id not in self.entries:
            known = ", ".join(sorted(self.entries)) or "none"
            raise EntryError(f"compartment {self.name!r}: no entry {entry_id!r} (entries: {known})")
        self.attachments.pop(entry_id, None)
        return self.entries.pop(entry_id)

    def attachment_path(self, entry: Entry) -> str:
        return f"attachments/{entry.id}/{entry.fields['filename']}"

    def __repr__(self) -> str:
        return f"Compartment({self.name!r}, {len(self.entries)} entries)"


def pack(compartment: Compartment) -> bytes:
    """The compartment as zip bytes (attachments stored, not deflated: they are often compressed already)."""
    out = io.BytesIO()
    ordered = sorted(compartment.entries.values(), key=lambda e: (e.kind, e.title.lower(), e.id))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        doc = {"format": FORMAT, "compartment": compartment.name,
               "entries": [{**e.to_dict(), **({"file": compartment.attachment_path(e)} if e.kind == "file" else {})}
                           for e in ordered]}
        archive.writestr("vault.json", json.dumps(doc, indent=2, ensure_ascii=False))
        archive.writestr("README.md", render_markdown(compartment.name, ordered, compartment))
        archive.writestr("vault.html", render_html(compartment.name, ordered, compartment))
        for entry in ordered:
            if entry.kind == "file":
                archive.writestr(zipfile.ZipInfo(compartment.attachment_path(entry), (1980, 1, 1, 0, 0, 0)),
                                 compartment.attachments[entry.id], compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def unpack(data: bytes, what: str) -> Compartment:
    """Read zip bytes made by ``pack``; anything else is an ``EntryError`` naming ``what``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        doc = json.loads(archive.read("vault.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise EntryError(f"{what}: expected a compartment (a zip with vault.json), got something else "
                         f"({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else doc
        raise EntryError(f"{what}: expected format {FORMAT}, got {got!r}")
    compartment = Compartment(check_id(str(doc.get("compartment", ""))))
    raw_entries = doc.get("entries", [])
    if not isinstance(raw_entries, list) or not all(isinstance(e, dict) for e in raw_entries):
        raise EntryError(f"{what}: expected entries as a list of objects, got {type(raw_entries).__name__}")
    for raw in raw_entries:
        entry = entry_from_dict(raw)
        if entry.kind == "file":
            try:
                compartment.attachments[entry.id] = archive.read(compartment.attachment_path(entry))
            except KeyError:
                raise EntryError(f"{what}: the file of entry {entry.id!r} is missing") from None
        compartment.entries[entry.id] = entry
    return compartment


def _rows(entry: Entry, compartment: Compartment) -> list[tuple[str, str]]:
    rows = [(name.replace("_", " "), value) for name, value in entry.fields.items() if value]
    if entry.kind == "file":
        rows.append(("file", compartment.attachment_path(entry)))
    return rows


def render_markdown(name: str, entries: list[Entry], compartment: Compartment) -> str:
    lines = [f"# Vault compartment: {name}", "",
             "Everything the owner kept in this compartment. The same is in vault.html (to print) and "
             "vault.json (for programs); attached files are in the attachments folder.", ""]
    for entry in entries:
        lines += [f"## {entry.title}", "", f"*{KINDS[entry.kind].label}* — updated {entry.updated_at}", ""]
        for label, value in _rows(entry, compartment):
            if "\n" in value:
                lines += [f"**{label}:**", "", "```", value, "```", ""]
            else:
                lines.append(f"- **{label}:** `{value}`" if label in ("password", "code", "totp secret",
                                                                     "api key") else f"- **{label}:** {value}")
        lines.append("")
    return "\n".join(lines)


def render_html(name: str, entries: list[Entry], compartment: Compartment) -> str:
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Vault: {esc(name)}</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}"
             "section{border:1px solid #ccc;border-radius:6px;padding:0 1rem 1rem;margin:1rem 0;break-inside:avoid}"
             "th{text-align:left;padding-right:1rem;vertical-align:top}pre,code{white-space:pre-wrap;"
             "word-break:break-all}</style></head><body>",
             f"<h1>Vault compartment: {esc(name)}</h1>"]
    for entry in entries:
        parts.append(f"<section><h2>{esc(entry.title)}</h2><p><em>{esc(KINDS[entry.kind].label)}</em> — "
                     f"updated {esc(entry.updated_at)}</p><table>")
        for label, value in _rows(entry, compartment):
            shown = (f"<a href='{esc(value)}'>{esc(value)}</a>" if label == "file"
                     else f"<pre>{esc(value)}</pre>" if "\n" in value else f"<code>{esc(value)}</code>")
            parts.append(f"<tr><th>{esc(label)}</th><td>{shown}</td></tr>")
        parts.append("</table></section>")
    parts.append("</body></html>")
    return "".join(parts)

