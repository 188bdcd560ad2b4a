"""A compartment's plaintext: entries and attachments, packed as a zip a person can open without Baton.

The zip holds ``vault.json`` (the entries, machine-readable), ``README.md`` and
``vault.html`` (the same, to read), and ``attachments/<entry id>/<file name>``. It only
ever exists in memory: it is encrypted before it touches a disk.
"""

from __future__ import annotations

import html
import io
import json
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from vault import agecrypt
from vault.entries import KINDS, Entry, check_id, entry_from_dict
from vault.errors import EntryError
from vault.keys import Identity, RecipientKey

FORMAT = "baton-compartment/1"


@dataclass
class Compartment:
    """The opened compartment ``name``; entries by id, attachment bytes by entry id."""

    name: str
    entries: dict[str, Entry] = field(default_factory=dict)
    attachments: dict[str, bytes | memoryview] = field(default_factory=dict)

    def put(self, entry: Entry, attachment: bytes | memoryview | None = None) -> None:
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
    pack_into(compartment, out)
    return out.getvalue()


def encrypt(compartment: Compartment, recipients: Sequence[RecipientKey]) -> list[bytes]:
    """The compartment as an age file, in the chunks age wrote (send them as they are, or join them).

    The plaintext zip never leaves memory, and is never copied whole: a large attachment
    goes from the caller's buffer through age, and the ciphertext stays in age's chunks.
    """
    plain = _Spool()
    pack_into(compartment, plain)  # type: ignore[arg-type]
    sealed = _Chunks()
    agecrypt.encrypt_stream(plain.reader(), sealed, recipients)  # type: ignore[arg-type]
    return sealed.parts


def decrypt(source: IO[bytes], identities: Sequence[Identity], what: str) -> Compartment:
    """Open an age file made by ``encrypt`` (streamed, no whole copies) and read its zip."""
    plain = io.BytesIO()
    agecrypt.decrypt_stream(source, plain, identities, what)
    plain.seek(0)
    return unpack(plain, what)


class _Chunks:
    """A write-only target that keeps what it is given, without growing one buffer."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))  # age hands over fresh bytes objects: this does not copy them
        return len(data)

    def flush(self) -> None:
        pass


class _Spool:
    """A write-once, read-once zip target: large writes are kept by reference, not copied.

    ``zipfile`` hands a stored member's data to ``write`` unchanged, so a large attachment
    goes to age straight from the caller's buffer. It is not seekable, so ``zipfile``
    writes data descriptors instead of patching headers.
    """

    def __init__(self) -> None:
        self.parts: list[bytes | memoryview] = []

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data)
        self.parts.append(view if view.nbytes >= 1 << 20 else bytes(view))
        return view.nbytes

    def flush(self) -> None:
        pass

    def reader(self) -> IO[bytes]:
        return io.BufferedReader(_SpoolReader(self.parts), buffer_size=1 << 20)  # age reads 8 KiB at a time


class _SpoolReader(io.RawIOBase):
    def __init__(self, parts: list[bytes | memoryview]) -> None:
        self.parts, self.index, self.offset = parts, 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        filled = 0
        while filled < target.nbytes and self.index < len(self.parts):
            part = self.parts[self.index]
            take = min(target.nbytes - filled, len(part) - self.offset)
            target[filled:filled + take] = part[self.offset:self.offset + take]
            filled += take
            self.offset += take
            if self.offset == len(part):
                self.index, self.offset = self.index + 1, 0
        return filled


def pack_into(compartment: Compartment, out: IO[bytes]) -> None:
    """Write the compartment's zip into ``out``."""
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


def unpack(data: bytes | IO[bytes], what: str) -> Compartment:
    """Read a zip made by ``pack`` (bytes or a file); anything else is an ``EntryError`` naming ``what``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
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
    whole = data.getbuffer() if isinstance(data, io.BytesIO) else None
    for raw in raw_entries:
        entry = entry_from_dict(raw)
        if entry.kind == "file":
            try:
                info = archive.getinfo(compartment.attachment_path(entry))
            except KeyError:
                raise EntryError(f"{what}: the file of entry {entry.id!r} is missing") from None
            stored = _stored_view(whole, info) if whole is not None else None
            compartment.attachments[entry.id] = stored if stored is not None else archive.read(info)
        compartment.entries[entry.id] = entry
    return compartment


def _stored_view(whole: memoryview, info: zipfile.ZipInfo) -> memoryview | None:
    """A stored member's bytes as a view into the opened zip, without a copy.

    The CRC is not checked here: age has already authenticated every byte of the
    plaintext, which a CRC cannot add to. Anything unusual falls back to ``read``.
    """
    start = info.header_offset
    header = whole[start:start + 30]
    if info.compress_type != zipfile.ZIP_STORED or len(header) < 30 or bytes(header[:4]) != b"PK\x03\x04":
        return None
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    begin = start + 30 + name_length + extra_length
    if begin + info.file_size > len(whole):
        return None
    return whole[begin:begin + info.file_size]


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

