"""The ``baton vault`` commands (the owner's machine).

Compartments are decrypted in memory with the owner's identity file (locked with a
passphrase), changed, encrypted again and uploaded as ciphertext. Secret fields are typed
at a hidden prompt, never on the command line.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from baton.cli.common import fail, guard, owner_vault, passphrase, read_file
from vault import VaultError
from vault.entries import KINDS, Entry, entry_from_dict

vault_app = typer.Typer(help="The encrypted vault (opened on your machine only).", no_args_is_help=True)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# -- vault --------------------------------------------------------------------------------------
@vault_app.command("init")
def vault_init() -> None:
    """Make your vault key on this machine, locked with a passphrase, and register its public key."""
    with owner_vault() as owner:
        if os.environ.get("BATON_PASSPHRASE_FILE"):
            secret = passphrase()
        else:
            secret = typer.prompt("New passphrase for your vault key (at least 12 characters)", hide_input=True,
                                  confirmation_prompt=True, err=True)
        if len(secret) < 12:
            fail(f"expected a passphrase of at least 12 characters, got {len(secret)}", code=2)
        public = guard(lambda: owner.init(secret))
        typer.echo(f"vault key written to {owner.key_path} (locked with your passphrase)")
        typer.echo(f"public key: {public}")
        typer.echo("Keep a copy of that file and the passphrase somewhere safe: without them you cannot edit "
                   "the vault.")


@vault_app.command("list")
def vault_list(compartment: Annotated[str | None, typer.Argument(help="List this compartment's entries.")] = None,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Compartments (size, version, split), or one compartment's entries (titles only)."""
    with owner_vault() as owner:
        if compartment is None:
            found = guard(owner.compartments)
            if as_json:
                typer.echo(json.dumps(found, indent=2))
                return
            for c in found:
                split = c["split"]["describe"] if c["split"] else "not split"
                typer.echo(f"{c['name']:<16} v{c['version']:<4} {c['size']:>12} bytes  {split}")
                for problem in c["problems"]:
                    typer.echo(f"  ! {problem}")
            return
        _version, opened = guard(lambda: owner.open(compartment))
        entries = sorted(opened.entries.values(), key=lambda e: (e.kind, e.title.lower()))
        if as_json:
            typer.echo(json.dumps([{"id": e.id, "kind": e.kind, "title": e.title} for e in entries], indent=2))
            return
        for e in entries:
            typer.echo(f"{e.id:<24} {e.kind:<10} {e.title}")


def _fields(pairs: list[str], kind: str) -> dict[str, str]:
    spec = KINDS[kind]
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            fail(f"--field: expected name=value, got {pair!r}", code=2)
        if name in spec.secret:
            fail(f"--field {name}: secret fields are not taken on the command line (shell history); "
                  f"use --secret {name} to be asked for it", code=2)
        out[name] = value
    return out


def _secrets(names: list[str], kind: str) -> dict[str, str]:
    spec = KINDS[kind]
    out = {}
    for name in names:
        if name not in spec.secret:
            fail(f"--secret {name}: a {kind}'s secret fields are {', '.join(sorted(spec.secret)) or 'none'}",
                  code=2)
        out[name] = typer.prompt(f"{name}", hide_input=True, err=True)
    return out


@vault_app.command("add")
def vault_add(compartment: Annotated[str, typer.Argument()],
              kind: Annotated[str, typer.Option(help=f"One of: {', '.join(KINDS)}.")],
              title: Annotated[str, typer.Option()],
              entry_id: Annotated[str | None, typer.Option("--id", help="Default: from the title.")] = None,
              field: Annotated[list[str] | None, typer.Option(help="name=value (not for secrets).")] = None,
              secret: Annotated[list[str] | None, typer.Option(help="A secret field to be asked for.")] = None,
              file: Annotated[Path | None, typer.Option(help="The file of a `file` entry.")] = None) -> None:
    """Add an entry (the compartment is made on first use); secrets are asked for, hidden."""
    if kind not in KINDS:
        fail(f"--kind: expected one of {', '.join(KINDS)}, got {kind!r}", code=2)
    values = {**_fields(field or [], kind), **_secrets(secret or [], kind)}
    attachment = None
    if kind == "file":
        if file is None:
            fail("a file entry needs --file PATH", code=2)
        assert file is not None
        attachment = file.read_bytes()
        values.setdefault("filename", file.name)
    slug = entry_id or "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")[:63] or "entry"
    with owner_vault() as owner:

        def work() -> Any:
            owner.ensure_compartment(compartment)
            version, opened = owner.open(compartment)
            if slug in opened.entries:
                raise VaultError(f"compartment {compartment!r} has an entry {slug!r} already; use `baton vault edit`")
            opened.put(entry_from_dict({"id": slug, "kind": kind, "title": title, "fields": values,
                                        "updated_at": _now()}), attachment)
            return owner.save(compartment, version, opened)
        saved = guard(work)
        typer.echo(f"added {slug} to {compartment} (version {saved['version']})")


@vault_app.command("edit")
def vault_edit(compartment: Annotated[str, typer.Argument()], entry_id: Annotated[str, typer.Argument()],
               title: Annotated[str | None, typer.Option()] = None,
               field: Annotated[list[str] | None, typer.Option(help="name=value; an empty value clears.")] = None,
               secret: Annotated[list[str] | None, typer.Option(help="A secret field to be asked for.")] = None,
               file: Annotated[Path | None, typer.Option(help="Replace a file entry's file.")] = None) -> None:
    """Change an entry; only what you give changes."""
    with owner_vault() as owner:

        def work() -> Any:
            version, opened = owner.open(compartment)
            if entry_id not in opened.entries:
                raise VaultError(f"compartment {compartment!r}: no entry {entry_id!r} "
                                 f"(entries: {', '.join(sorted(opened.entries)) or 'none'})")
            old = opened.entries[entry_id]
            values = {**old.fields, **_fields(field or [], old.kind), **_secrets(secret or [], old.kind)}
            values = {k: v for k, v in values.items() if v != ""}
            attachment = file.read_bytes() if file else None
            if file is not None:
                values["filename"] = file.name
            opened.put(Entry(old.id, old.kind, title or old.title, values, _now()), attachment)
            return owner.save(compartment, version, opened)
        saved = guard(work)
        typer.echo(f"changed {entry_id} in {compartment} (version {saved['version']})")


@vault_app.command("show")
def vault_show(compartment: Annotated[str, typer.Argument()], entry_id: Annotated[str, typer.Argument()],
               reveal: Annotated[bool, typer.Option(help="Print secret fields too.")] = False,
               save_file: Annotated[Path | None, typer.Option("--save-file", help="Write a file entry's file here.")]
               = None) -> None:
    """Show an entry; secret fields as stars unless --reveal."""
    with owner_vault() as owner:
        _version, opened = guard(lambda: owner.open(compartment))
        entry = opened.entries.get(entry_id)
        if entry is None:
            fail(f"compartment {compartment!r}: no entry {entry_id!r} (entries: {', '.join(sorted(opened.entries))})",
                  code=4)
        typer.echo(f"{entry.title} ({KINDS[entry.kind].label}, updated {entry.updated_at})")
        for name, value in entry.shown(reveal).items():
            typer.echo(f"  {name}: {value}")
        if save_file is not None and entry.kind == "file":
            fd = os.open(save_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(opened.attachments[entry.id])
            typer.echo(f"  file written to {save_file}")


@vault_app.command("rm")
def vault_rm(compartment: Annotated[str, typer.Argument()], entry_id: Annotated[str, typer.Argument()]) -> None:
    """Remove an entry."""
    with owner_vault() as owner:

        def work() -> Any:
            version, opened = owner.open(compartment)
            opened.remove(entry_id)
            return owner.save(compartment, version, opened)
        saved = guard(work)
        typer.echo(f"removed {entry_id} from {compartment} (version {saved['version']})")


@vault_app.command("split")
def vault_split(compartment: Annotated[str, typer.Argument()],
                threshold: Annotated[int | None, typer.Option(help="How many holders must come together.")] = None,
                holders: Annotated[str | None, typer.Option(help="Comma-separated holder names.")] = None,
                policy: Annotated[Path | None, typer.Option(help="A policy file (JSON/YAML) with groups.")] = None
                ) -> None:
    """Split the compartment's release key among holders (again, with the current policy, if none is given)."""
    from vault.shares import policy_from_dict
    with owner_vault() as owner:
        data: Any = None
        if policy is not None:
            data = read_file(policy)
        elif threshold is not None or holders is not None:
            data = {"threshold": threshold, "holders": [h.strip() for h in (holders or "").split(",") if h.strip()]}

        def work() -> Any:
            owner.ensure_compartment(compartment)
            return owner.split(compartment, policy_from_dict(data) if data is not None else None)
        made = guard(work)
        typer.echo(f"{compartment}: split {made['split']['id']}, {made['split']['describe']}; shares sealed to "
                   f"{', '.join(made['split']['holders'])}")



@vault_app.command("collector")
def vault_collector(compartment: Annotated[str, typer.Argument()],
                    person: Annotated[str | None, typer.Argument(help="A person with an age key (short id).")] = None,
                    none: Annotated[bool, typer.Option("--none", help="Name nobody: holders forward nothing.")]
                    = False) -> None:
    """Name who collects this compartment's shares after a release (the holders forward them, sealed to that
    person's key, from their download pages), or nobody (--none)."""
    if (person is None) == (not none):
        fail("expected a person's short id or --none, got " + ("both" if none else "neither"), code=2)
    from urllib.parse import quote
    with owner_vault() as owner:
        done = guard(lambda: owner.json("PUT", f"/api/vault/compartments/{quote(compartment, safe='')}/collector",
                                        json={"collector": person}))
        if done["collector"] is None:
            typer.echo(f"{compartment}: no collector; holders forward nothing")
        else:
            typer.echo(f"{compartment}: {done['collector']} collects the shares after a release (each holder "
                       "may forward theirs, sealed to their key)")
