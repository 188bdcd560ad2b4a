"""What the command groups share: failing with a hint, reading a JSON or YAML file, the database
for server-side commands, and the API client (with the owner's token) for client commands."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
import yaml

from baton.errors import BatonError, exit_code
from baton.settings import Settings, get_settings
from vault import VaultError, keys


def fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    raise typer.Exit(code)


def client_config_path() -> Path:
    return Path(os.environ.get("BATON_CLIENT_CONFIG", Path.home() / ".config" / "baton" / "client.json"))


def read_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    try:
        if path.suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
        return json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        fail(f"{path}: expected valid {'YAML' if path.suffix in ('.yaml', '.yml') else 'JSON'}: "
             f"{str(exc).splitlines()[0]}")


def open_runtime(upgrade: bool = True, settings: Settings | None = None) -> Any:
    from baton.runtime import build
    try:
        return build(settings or get_settings(), upgrade=upgrade)
    except Exception as exc:  # noqa: BLE001 - shown to the person, with the database named
        fail(f"cannot open the database: {type(exc).__name__}: {str(exc).splitlines()[0]}",
             hint="check BATON_DATABASE_URL (default: SQLite in BATON_DATA_DIR)", code=exit_code(exc))


def api_client() -> httpx.Client:
    url, token = os.environ.get("BATON_URL"), os.environ.get("BATON_TOKEN")
    path = client_config_path()
    if (not url or not token) and path.exists():
        try:
            saved = json.loads(path.read_text())
            url, token = url or saved["url"], token or saved["token"]
        except (OSError, ValueError, KeyError, TypeError):
            fail(f"{path}: expected a JSON object with url and token", hint="run `baton init` again, or set "
                 "BATON_URL and BATON_TOKEN", code=2)
    if not token:
        fail("no API token", hint=f"set BATON_TOKEN, or run `baton init` (it saves one in {path})", code=3)
    return httpx.Client(base_url=url or get_settings().base_url,
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)


def api_response(method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The API's answer; an error status becomes an ``error:`` line (each bad row of an import too)."""
    try:
        with api_client() as client:
            response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        fail(f"cannot reach Baton: {type(exc).__name__}: {exc}", hint="is `baton serve` running? "
             "check BATON_URL", code=7)
    if response.status_code >= 400:
        rows: list[dict[str, Any]] = []
        try:
            body = response.json()
            detail, rows = body.get("detail", response.text), body.get("errors") or []
        except ValueError:
            detail = response.text
        for row in rows:
            where = f"{row['file']}, row {row['row']}" if row.get("row") else row.get("file", "")
            typer.echo(f"  {where}, column {row['column']!r}: expected {row['expected']}, got {row['got']}",
                       err=True)
        code = {401: 3, 404: 4, 409: 6, 410: 5, 422: 2, 429: 3}.get(response.status_code, 1)
        fail(f"{detail} (HTTP {response.status_code})", code=code)
    return response


def call(method: str, path: str, **kwargs: Any) -> Any:
    return api_response(method, path, **kwargs).json()


def show_status(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(view, indent=2))
        return
    lines = [("status", view["status"]), ("deadline", view["deadline_local"]),
             ("next reminder", view["next_reminder_local"] or "—"), ("fires", view["fires_at_local"] or "—"),
             ("last check-in", view["last_checkin_local"])]
    if view.get("paused_until_local"):
        lines.append(("paused until", view["paused_until_local"]))
    if view.get("pending_stages"):
        lines.append(("pending stages", ", ".join(view["pending_stages"])))
    if view.get("release_request"):
        req = view["release_request"]
        lines.append(("release request", f"by {req['by']}, completes {req['completes']}"))
    for label, value in lines:
        typer.echo(f"{label + ':':<16}{value}")
    typer.echo(f"{'time zone:':<16}{view['timezone']}")
    for change in view.get("pending_changes") or []:
        typer.echo(f"{'waiting change:':<16}{change['what']} (#{change['id']}), takes effect "
                   f"{change['takes_effect_local']} unless cancelled (`baton changes cancel {change['id']}`)")
    worker = view.get("worker")
    if worker:
        typer.echo(f"{'worker:':<16}{worker['said']}" if worker["running"] else f"warning: {worker['said']}")


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def passphrase() -> str:
    source = os.environ.get("BATON_PASSPHRASE_FILE")
    if source:
        return Path(source).read_text(encoding="utf-8").rstrip("\n")
    return str(typer.prompt("Passphrase of your vault key", hide_input=True, err=True))


def owner_vault() -> Any:
    """The owner's vault client, to use in a ``with`` block (its connection is closed at the end)."""
    from baton.cli.ownervault import OwnerVault, default_key_path
    return OwnerVault(api_client(), default_key_path(), passphrase)


def guard(work: Any) -> Any:
    """Run ``work``; errors become ``error:`` lines with the right exit code, never a traceback."""
    try:
        return work()
    except VaultError as exc:
        fail(str(exc), code=2)
    except BatonError as exc:
        fail(str(exc), code=exc.exit_code)
    except httpx.HTTPError as exc:
        fail(f"cannot reach Baton: {type(exc).__name__}", hint="is `baton serve` running? check BATON_URL", code=7)


def identities(files: list[Path]) -> list[Any]:
    found = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            fail(f"cannot read the identity file {path}: {exc.strerror}", code=2)
        if data.startswith(b"age-encryption.org/v1\n"):
            secret = typer.prompt(f"Passphrase of {path}", hide_input=True, err=True)
            found.append(keys.unlock_identity(data, secret))
        else:
            found += keys.parse_identities(data)
    return found

