"""Witnesses from the command line: the witness's operator makes a pairing code (server-side, on the
witness's database); the owner links a witness to their switch and lists them (through their API)."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer

from baton.cli.common import JsonFlag, call, fail, open_runtime

witness_app = typer.Typer(help="Witnesses: another Baton that runs the release if this one falls silent.",
                          no_args_is_help=True)


@witness_app.command("code")
def code() -> None:
    """On a witness: a one-time pairing code (a day to use it) and this witness's key, to give an owner."""
    from baton.services.witness.watching import make_code
    runtime = open_runtime()
    try:
        with runtime.engine.begin() as conn:
            made = make_code(conn, runtime.service.clock.now())
        typer.echo(f"pairing code: {made}")
        typer.echo(f"witness key:  {runtime.service.signer.public_hex}")
        typer.echo("Give both to the owner; the code works once, within a day.", err=True)
    finally:
        runtime.engine.dispose()


@witness_app.command("add")
def add(url: Annotated[str, typer.Argument(help="The witness's address: https://witness.example.net")],
        code: Annotated[str, typer.Option(help="The one-time pairing code from the witness's operator.")],
        key: Annotated[str | None, typer.Option(help="The witness's key as its operator gave it; without it, "
                                                     "you are shown the key and asked.")] = None,
        silence: Annotated[str, typer.Option(help="How long this server may be silent before the witness may "
                                                  "act (e.g. 2d).")] = "2d",
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask to confirm the key.")] = False,
        as_json: JsonFlag = False) -> None:
    """Link a witness to your switch: its key is shown for comparison; nothing is linked unless it answers,
    takes the code and signs with that key."""
    try:
        said = str(httpx.get(f"{url.rstrip('/')}/witness/key", timeout=10).json()["public_key"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        fail(f"expected a Baton witness at {url}, but it did not answer as one ({type(exc).__name__})",
             hint="check the address with the witness's operator; nothing was linked")
    typer.echo(f"witness key: {said}", err=True)
    if key is not None and key != said:
        fail(f"the witness signs with {said[:16]}…, not the key {key[:16]}… you were given; nothing linked",
             hint="its key changed since it was given to you, or this is not the witness you meant")
    if key is None and not yes and not typer.confirm("Does this key match the one the operator gave you?"):
        fail("not confirmed; nothing linked")
    linked = call("POST", "/api/witnesses", json={"url": url, "code": code, "key": said, "silence": silence})
    if as_json:
        import json
        typer.echo(json.dumps(linked))
        return
    typer.echo(f"Linked witness {linked['url']} (rank {linked['rank']}); last synced version "
               f"{linked['synced_version']}.")


@witness_app.command("list")
def listed(as_json: JsonFlag = False) -> None:
    """Your witnesses: address, last heartbeat, last synced version, and any problem."""
    found = call("GET", "/api/witnesses")
    if as_json:
        import json
        typer.echo(json.dumps(found))
        return
    if not found:
        typer.echo("No witness linked: if this server is gone, nothing fires. See `baton witness add`.")
    for item in found:
        typer.echo(f"{item['url']}  heartbeat {item['last_heartbeat'] or 'never'}  version "
                   f"{item['synced_version']}" + (f"  PROBLEM: {item['problem']}" if item["problem"] else ""))
