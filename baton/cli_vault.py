"""The ``baton vault``, ``baton people``, ``baton recover`` and ``baton drill`` commands (the owner's machine).

Secrets are opened here only: compartments are decrypted in memory with the owner's
identity file (locked with a passphrase), and shares, release keys and vaults are
opened from packages with holders' identity files. Secret fields are typed at a hidden
prompt, never on the command line.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from baton.errors import BatonError
from vault import VaultError, keys, recovery
from vault.entries import KINDS, Entry, entry_from_dict
from vault.package import Package

vault_app = typer.Typer(help="The encrypted vault (opened on your machine only).", no_args_is_help=True)
people_app = typer.Typer(help="Holders (heirs, staff, notaries) and verifiers.", no_args_is_help=True)


def _fail(message: str, hint: str | None = None, code: int = 1) -> Any:
    from baton.cli import fail
    return fail(message, hint, code)


def _passphrase() -> str:
    source = os.environ.get("BATON_PASSPHRASE_FILE")
    if source:
        return Path(source).read_text(encoding="utf-8").rstrip("\n")
    return str(typer.prompt("Passphrase of your vault key", hide_input=True, err=True))


def _owner() -> Any:
    """The owner's vault client, to use in a ``with`` block (its connection is closed at the end)."""
    from baton.cli import _client
    from baton.vaultclient import OwnerVault, default_key_path
    return OwnerVault(_client(), default_key_path(), _passphrase)


def _guard(work: Any) -> Any:
    """Run ``work``; errors become ``error:`` lines with the right exit code, never a traceback."""
    import httpx
    try:
        return work()
    except VaultError as exc:
        _fail(str(exc), code=2)
    except BatonError as exc:
        _fail(str(exc), code=exc.exit_code)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach Baton: {type(exc).__name__}", hint="is `baton serve` running? check BATON_URL", code=7)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# -- vault --------------------------------------------------------------------------------------
@vault_app.command("init")
def vault_init() -> None:
    """Make your vault key on this machine, locked with a passphrase, and register its public key."""
    with _owner() as owner:
        if os.environ.get("BATON_PASSPHRASE_FILE"):
            secret = _passphrase()
        else:
            secret = typer.prompt("New passphrase for your vault key (at least 12 characters)", hide_input=True,
                                  confirmation_prompt=True, err=True)
        if len(secret) < 12:
            _fail(f"expected a passphrase of at least 12 characters, got {len(secret)}", code=2)
        public = _guard(lambda: owner.init(secret))
        typer.echo(f"vault key written to {owner.key_path} (locked with your passphrase)")
        typer.echo(f"public key: {public}")
        typer.echo("Keep a copy of that file and the passphrase somewhere safe: without them you cannot edit "
                   "the vault.")


@vault_app.command("list")
def vault_list(compartment: Annotated[str | None, typer.Argument(help="List this compartment's entries.")] = None,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Compartments (size, version, split), or one compartment's entries (titles only)."""
    with _owner() as owner:
        if compartment is None:
            found = _guard(owner.compartments)
            if as_json:
                typer.echo(json.dumps(found, indent=2))
                return
            for c in found:
                split = c["split"]["describe"] if c["split"] else "not split"
                typer.echo(f"{c['name']:<16} v{c['version']:<4} {c['size']:>12} bytes  {split}")
                for problem in c["problems"]:
                    typer.echo(f"  ! {problem}")
            return
        _version, opened = _guard(lambda: owner.open(compartment))
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
            _fail(f"--field: expected name=value, got {pair!r}", code=2)
        if name in spec.secret:
            _fail(f"--field {name}: secret fields are not taken on the command line (shell history); "
                  f"use --secret {name} to be asked for it", code=2)
        out[name] = value
    return out


def _secrets(names: list[str], kind: str) -> dict[str, str]:
    spec = KINDS[kind]
    out = {}
    for name in names:
        if name not in spec.secret:
            _fail(f"--secret {name}: a {kind}'s secret fields are {', '.join(sorted(spec.secret)) or 'none'}",
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
        _fail(f"--kind: expected one of {', '.join(KINDS)}, got {kind!r}", code=2)
    values = {**_fields(field or [], kind), **_secrets(secret or [], kind)}
    attachment = None
    if kind == "file":
        if file is None:
            _fail("a file entry needs --file PATH", code=2)
        assert file is not None
        attachment = file.read_bytes()
        values.setdefault("filename", file.name)
    slug = entry_id or "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")[:63] or "entry"
    with _owner() as owner:

        def work() -> Any:
            owner.ensure_compartment(compartment)
            version, opened = owner.open(compartment)
            if slug in opened.entries:
                raise VaultError(f"compartment {compartment!r} has an entry {slug!r} already; use `baton vault edit`")
            opened.put(entry_from_dict({"id": slug, "kind": kind, "title": title, "fields": values,
                                        "updated_at": _now()}), attachment)
            return owner.save(compartment, version, opened)
        saved = _guard(work)
        typer.echo(f"added {slug} to {compartment} (version {saved['version']})")


@vault_app.command("edit")
def vault_edit(compartment: Annotated[str, typer.Argument()], entry_id: Annotated[str, typer.Argument()],
               title: Annotated[str | None, typer.Option()] = None,
               field: Annotated[list[str] | None, typer.Option(help="name=value; an empty value clears.")] = None,
               secret: Annotated[list[str] | None, typer.Option(help="A secret field to be asked for.")] = None,
               file: Annotated[Path | None, typer.Option(help="Replace a file entry's file.")] = None) -> None:
    """Change an entry; only what you give changes."""
    with _owner() as owner:

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
        saved = _guard(work)
        typer.echo(f"changed {entry_id} in {compartment} (version {saved['version']})")


@vault_app.command("show")
def vault_show(compartment: Annotated[str, typer.Argument()], entry_id: Annotated[str, typer.Argument()],
               reveal: Annotated[bool, typer.Option(help="Print secret fields too.")] = False,
               save_file: Annotated[Path | None, typer.Option("--save-file", help="Write a file entry's file here.")]
               = None) -> None:
    """Show an entry; secret fields as stars unless --reveal."""
    with _owner() as owner:
        _version, opened = _guard(lambda: owner.open(compartment))
        entry = opened.entries.get(entry_id)
        if entry is None:
            _fail(f"compartment {compartment!r}: no entry {entry_id!r} (entries: {', '.join(sorted(opened.entries))})",
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
    with _owner() as owner:

        def work() -> Any:
            version, opened = owner.open(compartment)
            opened.remove(entry_id)
            return owner.save(compartment, version, opened)
        saved = _guard(work)
        typer.echo(f"removed {entry_id} from {compartment} (version {saved['version']})")


@vault_app.command("split")
def vault_split(compartment: Annotated[str, typer.Argument()],
                threshold: Annotated[int | None, typer.Option(help="How many holders must come together.")] = None,
                holders: Annotated[str | None, typer.Option(help="Comma-separated holder names.")] = None,
                policy: Annotated[Path | None, typer.Option(help="A policy file (JSON/YAML) with groups.")] = None
                ) -> None:
    """Split the compartment's release key among holders (again, with the current policy, if none is given)."""
    from baton.cli import _read_file
    from vault.shares import policy_from_dict
    with _owner() as owner:
        data: Any = None
        if policy is not None:
            data = _read_file(policy)
        elif threshold is not None or holders is not None:
            data = {"threshold": threshold, "holders": [h.strip() for h in (holders or "").split(",") if h.strip()]}

        def work() -> Any:
            owner.ensure_compartment(compartment)
            return owner.split(compartment, policy_from_dict(data) if data is not None else None)
        made = _guard(work)
        typer.echo(f"{compartment}: split {made['split']['id']}, {made['split']['describe']}; shares sealed to "
                   f"{', '.join(made['split']['holders'])}")


# -- people -------------------------------------------------------------------------------------
@people_app.command("add")
def people_add(name: Annotated[str, typer.Argument(help="A short id: ana, notary-rossi.")],
               role: Annotated[str, typer.Option(help="heir, staff, notary or verifier.")],
               email: Annotated[str | None, typer.Option()] = None,
               language: Annotated[str, typer.Option(help="en, id, pt or it.")] = "en",
               display_name: Annotated[str, typer.Option(help="Full name, as in messages.")] = "") -> None:
    """Add a holder (they get an enrolment link by e-mail) or a verifier."""
    from baton.cli import _call
    made = _call("POST", "/api/people", json={"name": name, "role": role, "email": email, "language": language,
                                              "display_name": display_name})
    typer.echo(f"added {made['name']} ({made['role']})")
    if made.get("enrol_url"):
        typer.echo(f"enrolment link (also e-mailed{'' if email else ': no e-mail given, send it yourself'}): "
                   f"{made['enrol_url']}")


@people_app.command("list")
def people_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """People, their key status (none, unverified, verified, stale) and the shares they hold."""
    from baton.cli import _call
    found = _call("GET", "/api/people")
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    for p in found:
        holds = ", ".join(p["groups"]) or "—"
        typer.echo(f"{p['name']:<16} {p['role']:<9} key {p['key']:<11} holds {holds:<24} {p['email'] or '(no e-mail)'}")


@people_app.command("remove")
def people_remove(name: Annotated[str, typer.Argument()]) -> None:
    """Remove a person; compartments they hold shares of are split again without them first."""
    with _owner() as owner:
        redone = _guard(lambda: owner.remove_holder(name))
        typer.echo(f"removed {name}" + (f"; split again: {', '.join(redone)}" if redone else ""))


@people_app.command("keycard")
def people_keycard(name: Annotated[str, typer.Argument()],
                   out: Annotated[Path, typer.Option(help="Where to write the card (.html; a .pdf beside it).")]
                   ) -> None:
    """Make a key card for a holder without a key: printed on this machine; only the public key is sent."""
    from baton.cli import _call
    from baton.vaultclient import make_keycard
    owner_email = _call("GET", "/api/vault/key")["owner_email"]
    public, html, pdf = make_keycard(name, owner_email)
    for path, data in ((out, html.encode()), (out.with_suffix(".pdf"), pdf)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    _call("PUT", f"/api/people/{name}/key", json={"recipient": public, "source": "keycard"})
    typer.echo(f"key card written to {out} and {out.with_suffix('.pdf')}: print it, give it to {name}, then delete "
               "both files. Only the public key was sent to Baton.")


@people_app.command("check")
def people_check(names: Annotated[list[str] | None, typer.Argument(help="Default: every holder with a key.")]
                 = None) -> None:
    """Send key checks: each holder proves their key still opens what is sealed to it."""
    from baton.cli import _call
    made = _call("POST", "/api/people/checks", json={"names": names or None})
    typer.echo(f"key checks sent to {', '.join(c['name'] for c in made) or 'nobody (no holder has a key)'}")


# -- recover and drill ----------------------------------------------------------------------------
def _identities(files: list[Path]) -> list[Any]:
    found = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            _fail(f"cannot read the identity file {path}: {exc.strerror}", code=2)
        if data.startswith(b"age-encryption.org/v1\n"):
            secret = typer.prompt(f"Passphrase of {path}", hide_input=True, err=True)
            found.append(keys.unlock_identity(data, secret))
        else:
            found += keys.parse_identities(data)
    return found


def recover_into(paths: list[Path], ids: list[Any], out: Path, fingerprint: str | None) -> list[str]:
    """Verify the packages, open what the identities open into ``out``; the lines to print."""
    trusted = None
    if fingerprint:
        trusted_fp = "".join(fingerprint.split()).upper()
    packages = [Package(p) for p in paths]
    report = recovery.recover(packages, ids, trusted)
    if fingerprint:
        from vault.signature import fingerprint as fp
        for package in packages:
            key = bytes.fromhex(package.manifest["signing_key"]["ed25519"])
            if "".join(fp(key).split()) != trusted_fp:
                raise VaultError(f"{package.path}: signed by the key {fp(key)}, not the expected {fingerprint}")
    lines = [audit_summary(p) for p in {str(p.manifest["compartment"]): p for p in packages}.values()]
    out.mkdir(parents=True, exist_ok=True)
    for opened in report.opened:
        target = recovery.write_opened(opened, out)
        lines.append(f"opened {opened.compartment}{' (DRILL)' if opened.drill else ''} with the shares of "
                     f"{', '.join(opened.holders)}: {target}")
    lines += [f"not opened: {p}" for p in report.problems]
    return lines


def audit_summary(package: Package) -> str:
    """Check the package's audit excerpt (hashes, chaining, signatures) and say why the release happened."""
    from nacl.signing import VerifyKey

    from baton.signing import Ed25519Check
    from switch.audit import AuditEntry, verify_excerpt
    try:
        excerpt = json.loads(package.read("audit.json"))
        entries = [AuditEntry(e["seq"], datetime.fromisoformat(e["at"]), e["kind"], e["data"], e["prev_hash"],
                              e["hash"], e["signature"]) for e in excerpt["entries"]]
    except (ValueError, KeyError, TypeError):
        raise VaultError(f"{package.path}: audit.json is not a readable audit excerpt") from None
    key = Ed25519Check(VerifyKey(bytes.fromhex(package.manifest["signing_key"]["ed25519"])))
    problem = verify_excerpt(entries, key)
    if problem is not None:
        raise VaultError(f"{package.path}: audit.json: {problem}")
    if not entries:
        return f"{package.manifest['compartment']}: the audit excerpt is empty"
    return (f"{package.manifest['compartment']}: released because {package.manifest.get('reason', '?')}; audit "
            f"entries {entries[0].seq}–{entries[-1].seq} ({entries[0].kind} … {entries[-1].kind}) are signed "
            "and chained")


def recover_command(packages: Annotated[list[Path], typer.Argument(help="Package folders or .zip files.")],
                    identity: Annotated[list[Path], typer.Option("--identity", "-i",
                                                                 help="A holder's key file (or key card text).")],
                    out: Annotated[Path, typer.Option(help="Where to write the opened compartments.")],
                    fingerprint: Annotated[str | None, typer.Option(help="Expected signing-key fingerprint.")]
                    = None) -> None:
    """Open the vault from release packages and enough holders' keys; checks signatures and checksums first."""
    try:
        for line in recover_into(packages, _identities(identity), out, fingerprint):
            typer.echo(line)
    except VaultError as exc:
        _fail(str(exc), code=2)
    except FileExistsError as exc:
        _fail(str(exc), code=6)


def drill_command(out: Annotated[Path, typer.Option(help="Sandbox folder for the DRILL packages.")],
                  identity: Annotated[list[Path] | None, typer.Option("--identity", "-i",
                                                                      help="Holders' key files, to test them.")]
                  = None,
                  ask_holders: Annotated[bool, typer.Option(help="E-mail each holder a key check too.")] = False
                  ) -> None:
    """Fire drill: a real release into a sandbox, key checks, recovery with the keys you give, a report."""
    with _owner() as owner:
        report = _guard(lambda: owner.json("POST", "/api/drill", json={"ask_holders": ask_holders}))
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for p in report["packages"]:
            response = _guard(lambda p=p: owner._call("GET", f"/api/drill/{report['release']}/packages/{p['id']}"))
            target = out / f"DRILL-{p['compartment']}-{p['holder']}.zip"
            target.write_bytes(response.content)
            paths.append(target)
        typer.echo(f"drill {report['release']}: {len(paths)} packages in {out}")
        notices = report.get("notices") or {}
        if notices.get("notices"):
            typer.echo(f"customer notices: {notices['notices']} written (DRILL), {notices['emailed']} samples "
                       "e-mailed to you, one per language (`baton notices export DIR` for all)")
        if ask_holders:
            typer.echo(f"key checks e-mailed to {', '.join(c['name'] for c in report['checks']) or 'nobody'}")
        problems: list[dict[str, str]] = []
        ids = _identities(identity or [])
        if ids:
            from vault import agecrypt, challenge
            for check in report["checks"]:
                try:
                    opened = agecrypt.decrypt(base64.b64decode(check["sealed"]), ids, f"key check of {check['name']}")
                except VaultError:
                    continue
                _guard(lambda c=check, o=opened: owner.json("POST", f"/api/people/{c['name']}/checks/{c['check']}",
                                                            json={"code": challenge.code_from(o)}))
                typer.echo(f"key of {check['name']}: works (key check passed)")
            try:
                for line in recover_into(paths, ids, out / "opened", None):
                    typer.echo(line)
            except (VaultError, FileExistsError) as exc:
                problems.append({"what": f"recovery from the drill packages failed: {exc}",
                                 "fix": "give more holders' keys, or check the split policy"})
        else:
            typer.echo("no --identity given: recovery not tried (holders' keys are with the holders)")
        # Asked again: the key checks answered above may have settled some of the drill's findings.
        problems = _guard(lambda: owner.json("GET", "/api/vault/readiness")) + problems
        if problems:
            typer.echo(f"\n{len(problems)} finding(s):")
            for f in problems:
                typer.echo(f"- {f['what']}\n  what to do: {f['fix']}")
            sys.exit(1)
        typer.echo("\nno findings: a release today would work")


def _refusal(response: Any) -> str:
    """What a link page's refusal says (its first paragraph), or the body of a JSON error."""
    import html
    import re

    if response.headers.get("content-type", "").startswith("application/json"):
        return str(response.json().get("detail", response.text))
    found = re.search(r"<main>.*?<p>(.*?)</p>", response.text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else response.reason_phrase


def keycheck_command(link: Annotated[str, typer.Argument(help="The key-check link from the e-mail (…/k/…).")],
                     identity: Annotated[Path, typer.Option("--identity", "-i", help="Your key file.")]) -> None:
    """For a holder: open the sealed key check with your key and send the code (the link's page does the same)."""
    import httpx

    from vault import agecrypt, challenge
    url = link.strip().rstrip("/")
    if "/k/" not in url:
        _fail(f"expected a key-check link like https://…/k/…, got {link!r}", code=2)
    ids = _identities([identity])
    try:
        with httpx.Client(timeout=30) as http:
            sealed = http.get(f"{url}/challenge.age")
            if sealed.status_code != 200:
                _fail(f"the key check cannot be opened: {_refusal(sealed)} (HTTP {sealed.status_code})", code=5)
            try:
                code = challenge.code_from(agecrypt.decrypt(sealed.content, ids, "the key check"))
            except VaultError as exc:
                _fail(str(exc), hint="use the key you enrolled (or your key card's secret key)", code=2)
            answered = http.post(url, data={"code": code})
    except httpx.HTTPError as exc:
        _fail(f"cannot reach Baton: {type(exc).__name__}", code=7)
    if answered.status_code != 200:
        _fail(f"the key check was refused (HTTP {answered.status_code})", code=5)
    typer.echo("your key works: the key check passed")
