"""The handover commands: ``baton register …``, ``baton domains check``, ``baton readiness``,
``baton handover …`` and ``baton notices …``.

``baton handover build`` runs on the successors' machine: the register and the customers'
answers come from Baton, the auth codes only from the opened vault (the folders
``baton recover`` wrote), and the requests are written there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from baton.cli.common import api_response, call, fail, read_file
from baton.cli.progress import CountingReader, progress
from switch.durations import kind as kind_of

register_app = typer.Typer(help="The business register: customers, domains, hosting, registrars.",
                           no_args_is_help=True)
domains_app = typer.Typer(help="Domains of the register.", no_args_is_help=True)
handover_app = typer.Typer(help="The handover: profile, registrar requests.", no_args_is_help=True)
notices_app = typer.Typer(help="Customer notices of a release or drill.", no_args_is_help=True)


UNCHECKED_EXIT = 1  # `baton domains check`: some domains could not be checked (like readiness's findings)


def _now() -> datetime:
    return datetime.now(UTC)


# -- register ----------------------------------------------------------------------------------------
@register_app.command("import")
def register_import(paths: Annotated[list[Path], typer.Argument(
        help="CSV files named customers/domains/hosting/registrars.csv, WHMCS JSON, or folders of them.")]) -> None:
    """Import the register, all or nothing: one bad row rejects the import, and every bad row is listed."""
    from handover.importing import files_in
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            fail(f"{path}: no such file or folder", code=2)
    for found in files_in(paths):
        files += sorted(p for p in found.iterdir() if p.suffix.lower() == ".json") if found.is_dir() else [found]
    if not files:
        fail(f"expected CSV or JSON files in {', '.join(map(str, paths))}, found none", code=2)
    names = [f.name for f in files]
    clash = {n for n in names if names.count(n) > 1}
    if clash:
        fail(f"two files are named {sorted(clash)[0]}: give one per kind", code=2)
    handles = [open(f, "rb") for f in files]  # noqa: SIM115 - closed below, after the upload
    size = sum(f.stat().st_size for f in files)
    try:
        with progress("uploading the register", size, unit="bytes") as bar:
            ended: set[int] = set()

            def sent(index: int) -> None:  # once every file is sent, Baton reads the rows: a spinner
                ended.add(index)
                if len(ended) == len(handles):
                    bar.describe("Baton checks every row")

            readers = [CountingReader(h, bar, partial(sent, i)) for i, h in enumerate(handles)]
            report = call("POST", "/api/register/import",
                          files=[("files", (f.name, r)) for f, r in zip(files, readers, strict=True)])
    finally:
        for handle in handles:
            handle.close()
    for kind in ("registrars", "customers", "domains", "hosting"):
        created, updated = report["created"][kind], report["updated"][kind]
        if created or updated:
            typer.echo(f"{kind}: {created} new, {updated} updated")
    for note in report["notes"]:
        typer.echo(f"note: {note}")


@register_app.command("show")
def register_show() -> None:
    """How many customers, domains, hosting services and registrars the register holds."""
    for key, value in call("GET", "/api/register").items():
        typer.echo(f"{key}: {value}")


@register_app.command("calendar")
def register_calendar(fmt: Annotated[str, typer.Option("--format", help="csv or ics")] = "csv",
                      out: Annotated[Path | None, typer.Option("--out", "-o", help="File to write (default: "
                                                                                      "standard output).")] = None
                      ) -> None:
    """The renewal calendar: expiries, the earliest transfer dates, what must be renewed first."""
    if fmt not in ("csv", "ics"):
        fail(f"--format: expected csv or ics, got {fmt!r}", code=2)
    content = api_response("GET", "/api/register/calendar", params={"format": fmt}).content
    if out is None:
        typer.echo(content.decode(), nl=False)
    else:
        out.write_bytes(content)
        typer.echo(f"calendar written to {out}")


# -- domains -------------------------------------------------------------------------------------------
@domains_app.command("check")
def domains_check(apply: Annotated[bool, typer.Option(help="Store the expiry and statuses RDAP reports.")] = False,
                  as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Ask RDAP for each domain's expiry, statuses and registrar, and report what differs from the register.

    Exits 1 when a domain could not be checked (each is listed; the others are still reported and,
    with --apply, stored)."""
    from baton.cli.rdap import RdapClient
    from baton.settings import get_settings
    from handover.model import Domain, Registrant
    from handover.names import domain_name
    from handover.rdap import compare

    settings = get_settings()
    listed = call("GET", "/api/register/domains")["domains"]
    client = RdapClient(bootstrap_url=settings.rdap_bootstrap_url, base_url=settings.rdap_url or None,
                        timeout=settings.rdap_timeout, cache_dir=settings.data_dir / "cache")
    names = [domain_name(d["domain"]) for d in listed]
    with progress("asking RDAP", len(names)) as bar:
        results = client.lookup_all(names, _now(), on_result=bar.advance)
    report: list[dict[str, Any]] = []
    observed: list[dict[str, Any]] = []
    for item, result in zip(listed, results, strict=True):
        entry: dict[str, Any] = {"domain": item["unicode"], "differences": [], "error": result.error}
        if result.observed is not None:
            domain = Domain(domain_name(item["domain"]), item["customer"], item["registrar"],
                            datetime.fromisoformat(item["expires"]).date(), statuses=tuple(item["statuses"]),
                            registrant=Registrant.CUSTOMER)
            entry["differences"] = [{"field": d.field, "register": d.register, "rdap": d.rdap}
                                    for d in compare(domain, item["registrar_name"], result.observed)]
            observed.append({"domain": item["domain"], "statuses": list(result.observed.statuses) or None,
                             "expires": result.observed.expires and result.observed.expires.isoformat()})
        report.append(entry)
    updated = call("POST", "/api/register/domains/observed", json={"domains": observed})["updated"] \
        if apply and observed else 0
    unchecked = sum(1 for e in report if e["error"])
    if as_json:
        typer.echo(json.dumps({"domains": report, "updated": updated}, indent=2, ensure_ascii=False))
    else:
        _show_check(report, apply, updated)
    if unchecked:
        raise typer.Exit(UNCHECKED_EXIT)


def _show_check(report: list[dict[str, Any]], apply: bool, updated: int) -> None:
    for entry in report:
        if entry["error"]:
            typer.echo(f"{entry['domain']}: not checked: {entry['error']}")
        for diff in entry["differences"]:
            typer.echo(f"{entry['domain']}: {diff['field']}: register says {diff['register']}, "
                       f"RDAP says {diff['rdap']}")
    same = sum(1 for e in report if not e["error"] and not e["differences"])
    typer.echo(f"{len(report)} domains: {same} as in the register, "
               f"{sum(1 for e in report if e['differences'])} differ, {sum(1 for e in report if e['error'])} "
               f"not checked" + (f"; {updated} updated" if apply else ""))


# -- readiness -------------------------------------------------------------------------------------------
def readiness_command(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False
                      ) -> None:
    """What would go wrong if the switch fired today, each finding with what to do about it."""
    report = call("GET", "/api/readiness")
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        if report["notices_reach"]:
            typer.echo(f"if the switch fired now, customers would be told on {report['notices_reach']}")
        for finding in report["findings"]:
            typer.echo(f"- {finding['what']}\n  fix: {finding['fix']}")
        typer.echo(f"{len(report['findings'])} findings" if report["findings"] else "ready: no findings")
    if report["findings"]:
        raise typer.Exit(1)


# -- handover ----------------------------------------------------------------------------------------------
@handover_app.command("profile")
def handover_profile(file: Annotated[Path | None, typer.Argument(help="YAML or JSON: business, owner_name, event, "
                                                                       "successor, days, settlement, support.")]
                     = None) -> None:
    """Show the handover profile, or set it from FILE."""
    if file is None:
        typer.echo(json.dumps(call("GET", "/api/handover/profile"), indent=2, ensure_ascii=False))
        return
    data = read_file(file)
    if not isinstance(data, dict):
        fail(f"{file}: expected a mapping of profile fields, got {kind_of(data)}", code=2)
    call("PUT", "/api/handover/profile", json=data)
    typer.echo("handover profile saved")


def auth_codes(folders: list[Path]) -> dict[str, str]:
    """Auth codes (ASCII domain → code) from opened compartments (folders holding vault.json)."""
    from handover.errors import HandoverError
    from handover.names import domain_name
    codes: dict[str, str] = {}
    for document in _vault_documents(folders):
        try:
            entries = json.loads(document.read_text(encoding="utf-8")).get("entries", [])
        except (OSError, ValueError) as exc:
            fail(f"{document}: expected an opened compartment's vault.json ({type(exc).__name__})", code=2)
        for entry in entries:
            fields = entry.get("fields", {}) if isinstance(entry, dict) else {}
            if entry.get("kind") != "auth_code" or not fields.get("code"):
                continue
            try:
                codes[domain_name(str(fields.get("domain", ""))).ascii] = str(fields["code"])
            except HandoverError as exc:
                typer.echo(f"note: {document}: entry {entry.get('id')}: {exc}; its code is not used", err=True)
    return codes


def _vault_documents(folders: list[Path]) -> Iterator[Path]:
    for folder in folders:
        if (folder / "vault.json").is_file():
            yield folder / "vault.json"
        elif folder.is_dir():
            yield from sorted(folder.glob("*/vault.json"))
        else:
            fail(f"{folder}: expected a folder written by `baton recover`", code=2)


@handover_app.command("build")
def handover_build(out: Annotated[Path, typer.Argument(help="An empty or new folder for the requests.")],
                   vault: Annotated[list[Path] | None, typer.Option(
                       "--vault", help="Opened compartment folders (from `baton recover`): auth codes.")] = None,
                   release: Annotated[int | None, typer.Option(help="The release (default: the latest).")] = None,
                   name: Annotated[str | None, typer.Option(help="Your name (default: the profile's successor).")]
                   = None,
                   role: Annotated[str | None, typer.Option(help="Your role: heir, executor, employee…")] = None,
                   email: Annotated[str | None, typer.Option(help="Your e-mail address.")] = None,
                   phone: Annotated[str | None, typer.Option(help="Your phone number.")] = None) -> None:
    """Write every registrar request: move tickets, auth-code and unlock requests, EPP, letters, hosting moves."""
    from baton.settings import get_settings
    from baton.store.register import profile_from_dict
    from handover.errors import HandoverError
    from handover.model import Successor
    from handover.requests import BuildInput, OutputFile, build
    from handover.serial import answer_from_dict, register_from_rows

    if out.exists() and any(out.iterdir()):
        fail(f"{out} is not empty; give a new or empty folder", code=2)
    codes = auth_codes(vault or [])
    data = call("GET", "/api/handover/data", params={"release": release} if release else None)
    try:
        register = register_from_rows(data["register"], "the register from Baton")
        profile = profile_from_dict(data["profile"])
    except (HandoverError, ValueError) as exc:
        fail(f"the register from Baton does not read back: {exc}", code=1)
    successor = profile.successor
    if name is None and successor is None:
        fail("who is asking? give --name, --role and --email (the profile names no successor)", code=2)
    requester = Successor(name or (successor.name if successor else ""),
                          email or (successor.email if successor else ""),
                          role or (successor.role if successor else "successor"),
                          phone or (successor.phone if successor else None))
    answers = {cid: answer_from_dict(a) for cid, a in data["answers"].items()}
    drill = bool(data["release"] and data["release"]["drill"])
    zone = ZoneInfo(data["timezone"])
    # Dated by Baton's clock in the owner's zone (the business's date), as the notices were.
    inputs = BuildInput(register, answers, codes, profile, requester, date.fromisoformat(data["today"]),
                        get_settings().transfer_rules(), drill)
    with progress("building the requests", len(register.domains) + len(register.hosting)) as bar:
        files = build(inputs, step=bar.advance)
    from handover.answers import answers_csv
    files.append(OutputFile("customers.csv", answers_csv(register, answers, data.get("refunds") or {},
                                                         str(profile.settlement), zone), secret=False))
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    with progress("writing the files", len(files)) as bar:
        for item in files:
            target = out / item.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(item.content)
            if item.secret:
                os.chmod(target, 0o600)
            bar.advance()
    secret = sum(1 for f in files if f.secret)
    typer.echo(f"{len(files)} files written to {out} ({secret} carry auth codes: keep them private)")
    typer.echo(f"answers from {len(answers)} of {len(register.customers)} customers; "
               f"auth codes from the vault: {len(codes)}" + (" — DRILL" if drill else ""))
    typer.echo(f"start with {out / 'README.md'}; every customer's answer, note and refund: {out / 'customers.csv'}")


# -- notices -------------------------------------------------------------------------------------------
@notices_app.command("status")
def notices_status(release: Annotated[int | None, typer.Option(help="The release (default: the latest).")] = None,
                   as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Who was sent a notice, who read it, who answered."""
    data = call("GET", "/api/notices", params={"release": release} if release else None)
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if data["release"] is None:
        typer.echo("no notices yet (a drill writes sample notices: `baton drill`)")
        return
    rel = data["release"]
    typer.echo(f"release {rel['id']}{' (DRILL)' if rel['drill'] else ''} at {rel['at']}")
    for n in data["notices"]:
        state = "answered" if n["answered_at"] else "read" if n["read_at"] else "no answer yet"
        typer.echo(f"{n['customer']}\t{n['language']}\t{n['email'] or '(no e-mail)'}\t{state}")


@notices_app.command("export")
def notices_export(out: Annotated[Path, typer.Argument(help="A new folder for the printable notices.")],
                   release: Annotated[int | None, typer.Option(help="The release (default: the latest).")] = None
                   ) -> None:
    """Every notice as printable HTML (one file per customer, in the customer's language), each with a
    personal link of its own, for customers to be reached by post."""
    import io
    import zipfile
    if out.exists() and any(out.iterdir()):
        fail(f"{out} is not empty; give a new or empty folder", code=2)
    content = api_response("POST", "/api/notices/printable",
                               params={"release": release} if release else None).content
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = [n for n in archive.namelist() if "/" not in n and not n.startswith(".")]
        for member in names:
            (out / member).write_bytes(archive.read(member))
    typer.echo(f"{len(names)} notices written to {out}")
