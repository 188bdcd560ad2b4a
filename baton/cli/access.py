"""Who may act for the owner, and what waits: ``baton token``, ``baton requester`` and ``baton changes``.

Lists show names and moments, never a token. A new requester, like any change that could make the
release earlier, waits a cooling-off that ``baton changes`` shows and can cancel.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from baton.cli.common import JsonFlag, call

token_app = typer.Typer(help="API tokens: list, add, revoke.", no_args_is_help=True)
requester_app = typer.Typer(help="People who may ask for release.", no_args_is_help=True)
changes_app = typer.Typer(help="Changes that could make the release earlier, waiting for their cooling-off.",
                          no_args_is_help=True)


def _table(rows: list[dict[str, object]], columns: tuple[str, ...], as_json: bool, empty: str) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo(empty)
        return
    for row in rows:
        typer.echo("  ".join(f"{column}: {row.get(column) if row.get(column) is not None else '—'}"
                             for column in columns))


@token_app.command("list")
def token_list(as_json: JsonFlag = False) -> None:
    """The API tokens: id, name, when made, when last used."""
    _table(call("GET", "/api/tokens"), ("id", "name", "created_at", "last_used_at"), as_json, "no API token")


@token_app.command("add")
def token_add(name: Annotated[str, typer.Argument(help="What it is for, e.g. 'phone shortcut'.")]) -> None:
    """Make a new API token (printed once)."""
    made = call("POST", "/api/tokens", json={"name": name})
    typer.echo(f"token {made['id']} ({made['name']}) added; shown once, keep it safe:")
    typer.echo(f"  {made['token']}")


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The id from `baton token list`.")]) -> None:
    """Revoke an API token: it stops working at once."""
    call("DELETE", f"/api/tokens/{token_id}")
    typer.echo(f"token {token_id} revoked")


@requester_app.command("add")
def requester_add(name: Annotated[str, typer.Argument()], email: Annotated[str, typer.Argument()]) -> None:
    """Make a standing link with which NAME may ask for release (printed once; works after the cooling-off)."""
    made = call("POST", "/api/requesters", json={"name": name, "email": email})
    typer.echo(made["url"])
    typer.echo(f"requester {made['id']}: the link works from {made['works_from']}; until then "
               f"`baton changes` shows it and `baton requester remove {made['id']}` withdraws it", err=True)


@requester_app.command("list")
def requester_list(as_json: JsonFlag = False) -> None:
    """The release-request links not revoked."""
    _table(call("GET", "/api/requesters"), ("id", "name", "email", "works_from", "last_used_at"), as_json,
           "no requester")


@requester_app.command("remove")
def requester_remove(link_id: Annotated[int, typer.Argument(help="The id from `baton requester list`.")]) -> None:
    """Revoke a release-request link."""
    call("DELETE", f"/api/requesters/{link_id}")
    typer.echo(f"requester {link_id} revoked")


@changes_app.command("list")
def changes_list(as_json: JsonFlag = False) -> None:
    """Changes waiting for their cooling-off, with why they wait."""
    found = call("GET", "/api/changes")
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    if not found:
        typer.echo("no change waits")
    for change in found:
        typer.echo(f"#{change['id']}: {change['what']}, takes effect {change['takes_effect_local']}")
        for reason in change["reasons"]:
            typer.echo(f"    because: {reason}")


@changes_app.command("cancel")
def changes_cancel(change_id: Annotated[int, typer.Argument(help="The number from `baton changes list`.")]) -> None:
    """Cancel a waiting change: it never takes effect."""
    change = call("DELETE", f"/api/changes/{change_id}")
    typer.echo(f"cancelled: {change['what']} (#{change['id']})")
