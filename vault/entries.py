"""Typed vault entries: what each kind of entry holds, which fields are secret, and their validation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from vault.errors import EntryError


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    label: str
    fields: tuple[str, ...]
    secret: frozenset[str]
    required: tuple[str, ...]
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


PANELS = ("plesk", "cpanel", "whm", "directadmin", "other")

KINDS: Mapping[str, Kind] = MappingProxyType({k.name: k for k in (
    Kind("login", "Login", ("url", "username", "password", "totp_secret", "notes"),
         frozenset({"password", "totp_secret"}), ("username",)),
    Kind("registrar", "Registrar account", ("registrar", "url", "account_id", "username", "password",
                                            "totp_secret", "api_key", "notes"),
         frozenset({"password", "totp_secret", "api_key"}), ("registrar",)),
    Kind("panel", "Hosting panel", ("panel", "url", "username", "password", "totp_secret", "notes"),
         frozenset({"password", "totp_secret"}), ("panel", "url"), MappingProxyType({"panel": PANELS})),
    Kind("server", "Server", ("host", "port", "username", "ssh_private_key", "password", "notes"),
         frozenset({"ssh_private_key", "password"}), ("host",)),
    Kind("auth_code", "Domain auth code", ("domain", "code", "registrar", "notes"),
         frozenset({"code"}), ("domain", "code")),
    Kind("billing", "Bank or billing", ("institution", "url", "account", "username", "password",
                                        "totp_secret", "notes"),
         frozenset({"password", "totp_secret", "account"}), ("institution",)),
    Kind("note", "Note (runbook, procedure)", ("text",), frozenset(), ("text",)),
    Kind("file", "File", ("filename", "description"), frozenset(), ("filename",)),
)})

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_FILENAME = re.compile(r"^[^/\\\x00-\x1f]{1,200}$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry; ``fields`` holds only the kind's fields, as text."""

    id: str
    kind: str
    title: str
    fields: Mapping[str, str]
    updated_at: str

    def __post_init__(self) -> None:
        check_id(self.id)
        spec = KINDS.get(self.kind)
        if spec is None:
            raise EntryError(f"entry {self.id!r}: expected a kind among {', '.join(KINDS)}, got {self.kind!r}")
        if not self.title.strip():
            raise EntryError(f"entry {self.id!r}: expected a title, got nothing")
        for name, value in self.fields.items():
            if name not in spec.fields:
                raise EntryError(f"entry {self.id!r}: a {spec.name} has the fields {', '.join(spec.fields)}; "
                                 f"got {name!r}")
            if not isinstance(value, str):
                raise EntryError(f"entry {self.id!r}, field {name!r}: expected text, got {type(value).__name__}")
        for name in spec.required:
            if not self.fields.get(name, "").strip():
                raise EntryError(f"entry {self.id!r}: a {spec.name} needs {name!r}, got nothing")
        for name, allowed in spec.choices.items():
            value = self.fields.get(name, "")
            if value and value not in allowed:
                raise EntryError(f"entry {self.id!r}, field {name!r}: expected one of {', '.join(allowed)}, "
                                 f"got {value!r}")
        if self.kind == "server" and self.fields.get("port", "") and not self.fields["port"].isdigit():
            raise EntryError(f"entry {self.id!r}, field 'port': expected a number, got {self.fields['port']!r}")
        if self.kind == "file" and not _FILENAME.match(self.fields.get("filename", "")):
            raise EntryError(f"entry {self.id!r}, field 'filename': expected a plain file name without "
                             "folders or control characters")

    @property
    def spec(self) -> Kind:
        return KINDS[self.kind]

    def shown(self, reveal: bool = False) -> dict[str, str]:
        """The fields for display; secret ones are stars unless ``reveal``."""
        return {name: value if reveal or name not in self.spec.secret or not value else "********"
                for name, value in self.fields.items()}

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind, "title": self.title, "fields": dict(self.fields),
                "updated_at": self.updated_at}

    def __repr__(self) -> str:
        return f"Entry(id={self.id!r}, kind={self.kind!r}, title={self.title!r})"


def check_id(value: str) -> str:
    if not _ID.fullmatch(value):  # match() would let "ops\n" through: "$" also matches before a final newline
        raise EntryError(f"expected an id of lower-case letters, digits, '.', '_' or '-' (at most 63), got {value!r}")
    return value


def entry_from_dict(data: Mapping[str, object]) -> Entry:
    raw_fields = data.get("fields", {})
    if not isinstance(raw_fields, Mapping):
        raise EntryError(f"entry {data.get('id')!r}: expected fields as an object, got {type(raw_fields).__name__}")
    return Entry(str(data.get("id", "")), str(data.get("kind", "")), str(data.get("title", "")),
                 MappingProxyType(dict(raw_fields)), str(data.get("updated_at", "")))
