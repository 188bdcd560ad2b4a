"""The ``baton people`` commands and ``baton keycheck``: holders (heirs, staff, notaries) and
verifiers, their keys, key cards and key checks."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from baton.cli.common import call, fail, guard, identities, owner_vault
from vault import VaultError

people_app = typer.Typer(help="Holders (heirs, staff, notaries) and verifiers.", no_args_is_help=True)


# -- people -------------------------------------------------------------------------------------
@people_app.command("add")
def people_add(name: Annotated[str, typer.Argument(help="A short id: ana, notary-rossi.")],
               role: Annotated[str, typer.Option(help="heir, staff, notary or verifier.")],
               email: Annotated[str | None, typer.Option()] = None,
               language: Annotated[str, typer.Option(help="en, id, pt (Brazilian), pt-BR, pt-PT or it.")] = "en",
               display_name: Annotated[str, typer.Option(help="Full name, as in messages.")] = "",
               timezone: Annotated[str | None, typer.Option(help="Their time zone, e.g. Europe/Rome (default: "
                                                                 "yours).")] = None,
               share_contact: Annotated[bool, typer.Option(
                   help="Show their e-mail to the other holders in a release (default: their name only).")] = False
               ) -> None:
    """Add a holder (they get an enrolment link by e-mail) or a verifier (your policy asks them)."""
    made = call("POST", "/api/people", json={"name": name, "role": role, "email": email, "language": language,
                                              "display_name": display_name, "timezone": timezone,
                                              "share_contact": share_contact})
    typer.echo(f"added {made['name']} ({made['role']})")
    if made["role"] == "verifier":
        typer.echo("your policy asks them from now on" if made.get("asked") else
                   "your policy has no confirmation window, so nobody is asked yet: add confirm to it "
                   "(`baton policy set`)")
    if made.get("enrol_url"):
        typer.echo(f"enrolment link (also e-mailed{'' if email else ': no e-mail given, send it yourself'}): "
                   f"{made['enrol_url']}")


@people_app.command("list")
def people_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """People, their key status (none, unverified, verified, stale) and the shares they hold."""
    found = call("GET", "/api/people")
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    for p in found:
        holds = ", ".join(p["groups"]) or "—"
        typer.echo(f"{p['name']:<16} {p['role']:<9} key {p['key']:<11} holds {holds:<24} {p['email'] or '(no e-mail)'}")


@people_app.command("edit")
def people_edit(name: Annotated[str, typer.Argument()],
                display_name: Annotated[str | None, typer.Option(help="Full name, as in messages.")] = None,
                email: Annotated[str | None, typer.Option(help="A verifier's address (waits a cooling-off while "
                                                           "your policy asks them).")] = None,
                language: Annotated[str | None, typer.Option(help="en, id, pt or it.")] = None,
                timezone: Annotated[str | None, typer.Option(help="e.g. Europe/Rome; \"\" for yours.")] = None
                ) -> None:
    """Change a person's full name, language or time zone, or a verifier's address."""
    asked = {"display_name": display_name, "email": email, "language": language, "timezone": timezone}
    if all(v is None for v in asked.values()):
        fail("expected at least one of --display-name, --email, --language, --timezone, got none", code=2)
    edited = call("PATCH", f"/api/people/{name}", json={k: v for k, v in asked.items() if v is not None})
    waits = edited.get("email_from")
    typer.echo(f"saved {name}" + (f"; the new address is used from {waits['takes_effect_at']} (a verifier's "
                                  "address waits a cooling-off; you were told on every channel)" if waits else ""))


@people_app.command("remove")
def people_remove(name: Annotated[str, typer.Argument()]) -> None:
    """Remove a person; compartments they hold shares of are split again without them first. A verifier your
    policy asks is still asked until a cooling-off has passed."""
    if any(p["name"] == name and p["role"] == "verifier" for p in call("GET", "/api/people")):
        removed = call("DELETE", f"/api/people/{name}")
        typer.echo(f"removed {name}" + (f"; your policy still asks them until {removed['leaves_at']} (removing a "
                                        "verifier waits a cooling-off)" if removed.get("leaves_at") else ""))
        return
    with owner_vault() as owner:
        redone = guard(lambda: owner.remove_holder(name))
        typer.echo(f"removed {name}" + (f"; split again: {', '.join(redone)}" if redone else ""))


@people_app.command("keycard")
def people_keycard(name: Annotated[str, typer.Argument()],
                   out: Annotated[Path, typer.Option(help="Where to write the card (.html; a .pdf beside it).")]
                   ) -> None:
    """Make a key card for a holder without a key: printed on this machine; only the public key is sent."""
    from baton.cli.ownervault import make_keycard
    vault_key = call("GET", "/api/vault/key")
    person = next((p for p in call("GET", "/api/people") if p["name"] == name), None)
    if person is None:
        raise typer.BadParameter(f"expected the id of a person (see `baton people list`), got {name!r}")
    public, html, pdf = make_keycard(person["display_name"], vault_key.get("owner_name") or vault_key["owner_email"],
                                     vault_key["fingerprint"], person["language"])
    for path, data in ((out, html.encode()), (out.with_suffix(".pdf"), pdf)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    call("PUT", f"/api/people/{name}/key", json={"recipient": public, "source": "keycard"})
    typer.echo(f"key card written to {out} and {out.with_suffix('.pdf')}: print it, give it to {name}, then delete "
               "both files. Only the public key was sent to Baton.")


@people_app.command("check")
def people_check(names: Annotated[list[str] | None, typer.Argument(help="Default: every holder with a key.")]
                 = None) -> None:
    """Send key checks: each holder proves their key still opens what is sealed to it."""
    made = call("POST", "/api/people/checks", json={"names": names or None})
    typer.echo(f"key checks sent to {', '.join(c['name'] for c in made) or 'nobody (no holder has a key)'}")



def _refusal(response: Any) -> str:
    """What a link page's refusal says (its first paragraph), or the body of a JSON error."""
    import html
    import re

    if response.headers.get("content-type", "").startswith("application/json"):
        return str(response.json().get("detail", response.text))
    found = re.search(r"<main>.*?<p>(.*?)</p>", response.text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else response.reason_phrase


def keycheck_command(link: Annotated[str, typer.Argument(help="The key-check link from the e-mail (…/k/…), or the "
                                                                "address of a key check for a new download link "
                                                                "(…/d/…/reissue/…).")],
                     identity: Annotated[Path, typer.Option("--identity", "-i", help="Your key file.")]) -> None:
    """For a holder: open the sealed key check with your key and send the code (the link's page does the same)."""
    import httpx

    from vault import agecrypt, challenge
    url = link.strip().rstrip("/")
    reissue = re.search(r"/d/[^/]+/reissue/\d+$", url) is not None
    if "/k/" not in url and not reissue:
        fail(f"expected a key-check link like https://…/k/… or https://…/d/…/reissue/…, got {link!r}", code=2)
    ids = identities([identity])
    try:
        with httpx.Client(timeout=30) as http:
            sealed = http.get(f"{url}/challenge.age")
            if sealed.status_code != 200:
                fail(f"the key check cannot be opened: {_refusal(sealed)} (HTTP {sealed.status_code})", code=5)
            try:
                code = challenge.code_from(agecrypt.decrypt(sealed.content, ids, "the key check"))
            except VaultError as exc:
                fail(str(exc), hint="use the key you enrolled (or your key card's secret key)", code=2)
            answered = http.post(url, data={"code": code})
    except httpx.HTTPError as exc:
        fail(f"cannot reach Baton: {type(exc).__name__}", code=7)
    if answered.status_code != 200:
        fail(f"the key check was refused (HTTP {answered.status_code})", code=5)
    typer.echo("your key works: a new download link was sent to your e-mail address" if reissue
               else "your key works: the key check passed")
