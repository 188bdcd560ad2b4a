"""``baton recover`` and ``baton drill``: shares, release keys and vaults opened from packages
with the holders' identity files, on the holder's (or, in a drill, the owner's) machine."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from baton.cli.common import fail, guard, identities, owner_vault
from baton.cli.progress import progress
from vault import VaultError, recovery, signature
from vault.package import Package

NO_FINGERPRINT = ("expected --fingerprint with the signing key's fingerprint from Baton's e-mails to you: without it "
                  "nothing proves that your Baton service made these packages (or --trust-package-key, to trust "
                  "the key inside them)")
WHERE_FINGERPRINTS_ARE = (f"every e-mail Baton sent you as a holder, and your key card, show it (64 hex digits); "
                          f"`{signature.FINGERPRINT_COMMAND}` in a package's folder prints the package's own, "
                          "to compare")


def recover_into(paths: list[Path], ids: list[Any], out: Path, fingerprint: str | None,
                 trust_package_key: bool = False, warn: Callable[[str], None] | None = None) -> list[str]:
    """Verify the packages, open what the identities open into ``out``; the lines to print.

    The packages must be signed by the key with ``fingerprint`` — known from outside them, from
    the holders' e-mails — checked against the key that verifies ``SHA256SUMS``. Without it the
    packages are refused, unless ``trust_package_key`` accepts the key they carry (``warn`` is
    then told which, to compare by hand).
    """
    if fingerprint is None and not trust_package_key:
        raise VaultError(NO_FINGERPRINT)
    packages = [Package(p) for p in paths]
    with progress("checking the packages", len(packages)) as bar:
        report = recovery.recover(packages, ids, fingerprint=fingerprint, steps=bar)
    if fingerprint is None and warn is not None and report.signing_key is not None:
        warn(f"warning: --trust-package-key: the packages were checked only against the key they carry, "
             f"fingerprint {signature.fingerprint(report.signing_key)}; nothing proves Baton made them unless "
             "that is the fingerprint in Baton's e-mails to you")
    lines = [f"the packages are signed by the key with fingerprint {signature.fingerprint(change.new)}, which "
             f"replaced the key with fingerprint {signature.fingerprint(change.old)} on {change.at} (both keys signed "
             "the change)" for change in report.key_changes]
    lines += [audit_summary(p) for p in {str(p.manifest["compartment"]): p for p in packages}.values()]
    out.mkdir(parents=True, exist_ok=True)
    for opened in report.opened:
        with progress(f"writing the files of {opened.compartment}") as bar:
            target = recovery.write_opened(opened, out, steps=bar)
        lines.append(f"opened {opened.compartment}{' (DRILL)' if opened.drill else ''} with the shares of "
                     f"{', '.join(opened.holders)}: {target}")
    lines += [f"not opened: {p}" for p in report.problems]
    return lines


def audit_summary(package: Package) -> str:
    """Check the package's audit excerpt (hashes, chaining, signatures) and say why the release happened."""
    from nacl.signing import VerifyKey

    from baton.store.signing import Ed25519Check
    from switch.audit import AuditEntry, verify_excerpt
    try:
        excerpt = json.loads(package.read("audit.json"))
        entries = [AuditEntry(e["seq"], datetime.fromisoformat(e["at"]), e["kind"], e["data"], e["prev_hash"],
                              e["hash"], e["signature"]) for e in excerpt["entries"]]
    except (ValueError, KeyError, TypeError):
        raise VaultError(f"{package.path}: audit.json is not a readable audit excerpt") from None
    assert package.signing_key is not None, "audit_summary reads a verified package"
    key = Ed25519Check(VerifyKey(package.signing_key))  # the key that verified SHA256SUMS, not the manifest's copy
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
                    fingerprint: Annotated[str | None, typer.Option(
                        help="The signing key's fingerprint from Baton's e-mails to you (64 hex digits).")] = None,
                    trust_package_key: Annotated[bool, typer.Option(
                        help="Without --fingerprint: trust the key inside the packages (a warning says which).")]
                    = False) -> None:
    """Open the vault from release packages and enough holders' keys; checks who signed them, then checksums."""
    if fingerprint is None and not trust_package_key:
        fail(NO_FINGERPRINT, hint=WHERE_FINGERPRINTS_ARE, code=2)
    try:
        for line in recover_into(packages, identities(identity), out, fingerprint, trust_package_key,
                                 warn=lambda text: typer.echo(text, err=True)):
            typer.echo(line)
    except VaultError as exc:
        fail(str(exc), code=2)
    except FileExistsError as exc:
        fail(str(exc), code=6)


def drill_command(out: Annotated[Path, typer.Option(help="Sandbox folder for the DRILL packages.")],
                  identity: Annotated[list[Path] | None, typer.Option("--identity", "-i",
                                                                      help="Holders' key files, to test them.")]
                  = None,
                  ask_holders: Annotated[bool, typer.Option(help="E-mail each holder a key check too.")] = False
                  ) -> None:
    """Fire drill: a real release into a sandbox, key checks, recovery with the keys you give, a report."""
    with owner_vault() as owner:
        with progress("running the drill's release on the server"):
            report = guard(lambda: owner.json("POST", "/api/drill", json={"ask_holders": ask_holders}))
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        with progress("downloading the DRILL packages", len(report["packages"])) as bar:
            for p in report["packages"]:
                response = guard(lambda p=p: owner._call("GET",
                                                         f"/api/drill/{report['release']}/packages/{p['id']}"))
                target = out / f"DRILL-{p['compartment']}-{p['holder']}.zip"
                target.write_bytes(response.content)
                paths.append(target)
                bar.advance()
        typer.echo(f"drill {report['release']}: {len(paths)} packages in {out}")
        notices = report.get("notices") or {}
        if notices.get("notices"):
            typer.echo(f"customer notices: {notices['notices']} written (DRILL), {notices['emailed']} samples "
                       "e-mailed to you, one per language (`baton notices export DIR` for all)")
        if ask_holders:
            typer.echo(f"key checks e-mailed to {', '.join(c['name'] for c in report['checks']) or 'nobody'}")
        problems: list[dict[str, str]] = []
        ids = identities(identity or [])
        if ids:
            from vault import agecrypt, challenge
            for check in report["checks"]:
                try:
                    opened = agecrypt.decrypt(base64.b64decode(check["sealed"]), ids, f"key check of {check['name']}")
                except VaultError:
                    continue
                guard(lambda c=check, o=opened: owner.json("POST", f"/api/people/{c['name']}/checks/{c['check']}",
                                                            json={"code": challenge.code_from(o)}))
                typer.echo(f"key of {check['name']}: works (key check passed)")
            try:
                for line in recover_into(paths, ids, out / "opened", report["fingerprint"]):
                    typer.echo(line)
            except (VaultError, FileExistsError) as exc:
                problems.append({"what": f"recovery from the drill packages failed: {exc}",
                                 "fix": "give more holders' keys, or check the split policy"})
        else:
            typer.echo("no --identity given: recovery not tried (holders' keys are with the holders)")
        # Asked again: the key checks answered above may have settled some of the drill's findings.
        problems = guard(lambda: owner.json("GET", "/api/vault/readiness")) + problems
        if problems:
            typer.echo(f"\n{len(problems)} finding(s):")
            for f in problems:
                typer.echo(f"- {f['what']}\n  what to do: {f['fix']}")
            sys.exit(1)
        typer.echo("\nno findings: a release today would work")


