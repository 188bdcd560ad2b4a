"""The ``baton`` command line: server-side administration and the owner's client.

Server-side commands (init, serve, worker, audit verify, db upgrade) use the database in
the settings. Client commands (checkin, status, pause, policy, ...) talk to the API with
the owner's token from ``BATON_TOKEN`` or the client file written by ``baton init``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
import yaml

from baton.cli_handover import domains_app, handover_app, notices_app, readiness_command, register_app
from baton.cli_vault import drill_command, keycheck_command, people_app, recover_command, vault_app
from baton.errors import exit_code
from baton.settings import Settings, get_settings
from switch import ScenarioError, SwitchError, parse_scenario, simulate

app = typer.Typer(help="Baton: business continuity for one-person hosting and domain businesses.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
audit_app = typer.Typer(help="The audit chain.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
policy_app = typer.Typer(help="The switch policy.", no_args_is_help=True)
channel_app = typer.Typer(help="Where the owner's alerts go besides e-mail (Apprise URLs).", no_args_is_help=True)
requester_app = typer.Typer(help="People who may ask for release.", no_args_is_help=True)
totp_app = typer.Typer(help="Two-step sign-in for the web pages (an authenticator app).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.add_typer(policy_app, name="policy")
app.add_typer(channel_app, name="channel")
app.add_typer(requester_app, name="requester")
app.add_typer(totp_app, name="totp")
app.add_typer(vault_app, name="vault")
app.add_typer(people_app, name="people")
app.add_typer(register_app, name="register")
app.add_typer(domains_app, name="domains")
app.add_typer(handover_app, name="handover")
app.add_typer(notices_app, name="notices")
app.command("readiness")(readiness_command)
app.command("recover")(recover_command)
app.command("drill")(drill_command)
app.command("keycheck")(keycheck_command)


def fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    raise typer.Exit(code)


def client_config_path() -> Path:
    return Path(os.environ.get("BATON_CLIENT_CONFIG", Path.home() / ".config" / "baton" / "client.json"))


def _read_file(path: Path) -> Any:
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


def _runtime(upgrade: bool = True) -> Any:
    from baton.runtime import build
    try:
        return build(get_settings(), upgrade=upgrade)
    except Exception as exc:  # noqa: BLE001 - shown to the person, with the database named
        fail(f"cannot open the database: {type(exc).__name__}: {str(exc).splitlines()[0]}",
             hint="check BATON_DATABASE_URL (default: SQLite in BATON_DATA_DIR)", code=exit_code(exc))


# -- server side --------------------------------------------------------------------------------
@app.command()
def init(
    email: Annotated[str, typer.Option(prompt=True, help="The owner's e-mail address.")],
    timezone: Annotated[str, typer.Option(prompt=True, help="IANA time zone, e.g. Europe/Rome.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          envvar="BATON_INIT_PASSWORD", help="At least 10 characters.")],
    totp: Annotated[bool, typer.Option(prompt="Set up TOTP (an authenticator app) for web sign-in?",
                                       help="Create a TOTP secret for web sign-in.")] = True,
    policy: Annotated[Path | None, typer.Option(help="A policy file (JSON or YAML); default: 30-day check-ins.")]
    = None,
    save_token: Annotated[bool, typer.Option(help="Save the API token in the client file (mode 600).")] = True,
) -> None:
    """Create an owner with an armed switch; print the API token once."""
    from baton.errors import BatonError
    data = _read_file(policy) if policy else None
    if policy and not isinstance(data, dict):
        fail(f"{policy}: expected a policy object (interval, reminders, grace, stages…), "
             f"got {type(data).__name__}", code=2)
    runtime = _runtime()
    try:
        made = runtime.service.create_owner(email, password, timezone, totp=totp, policy=data)
    except (BatonError, SwitchError) as exc:
        fail(str(exc), code=exit_code(exc))
    view = runtime.service.status(made.owner.id)
    typer.echo(f"Owner {made.owner.email} created. Switch armed; deadline {view.to_dict()['deadline_local']}.")
    typer.echo("\nAPI token (shown once; keep it safe):")
    typer.echo(f"  {made.api_token}")
    if made.totp_secret:
        typer.echo("\nTOTP: add this to your authenticator app (shown once):")
        typer.echo(f"  {made.totp_uri()}")
    if save_token:
        path = client_config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"url": runtime.settings.base_url, "token": made.api_token}, handle)
        tmp.replace(path)
        typer.echo(f"\nThe token is saved in {path} for `baton checkin` and `baton status`.")


@totp_app.command("enable")
def totp_enable(
    email: Annotated[str, typer.Option(prompt=True, help="The owner's e-mail address.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, envvar="BATON_PASSWORD",
                                          help="The owner's password.")],
) -> None:
    """Set up (or replace) the authenticator app for web sign-in; signs out every web session."""
    from baton import accounts, websessions
    runtime = _runtime()
    with runtime.engine.begin() as conn:
        owner_id = accounts.verify_password(conn, email, password)
    if owner_id is None:
        fail("the email or the password is not right", code=3)
    secret = accounts.new_totp_secret()
    typer.echo("Add this to your authenticator app (shown once):")
    typer.echo(f"  {accounts.totp_uri(secret, email.strip().lower())}")
    code = typer.prompt("Then type the 6-digit code it shows")
    if not accounts.code_matches(secret, code, runtime.service.clock.now()):
        fail(f"code: expected the 6 digits your app shows now, got {code.strip()!r}; nothing was changed", code=2)
    with runtime.engine.begin() as conn:
        accounts.set_totp(conn, owner_id, secret)
        ended = websessions.close_all(conn, owner_id)
        runtime.service.record(conn, owner_id, "owner.totp_enabled", {"sessions_ended": ended})
    typer.echo(f"Two-step sign-in is on for {email.strip().lower()}; {ended} web session(s) signed out.")


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
          port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None) -> None:
    """Run the API and a worker in one process (SQLite by default)."""
    import uvicorn

    from baton import logging_setup
    from baton.api import create_app
    runtime = _runtime()
    settings = runtime.settings
    application = create_app(runtime.service, runtime.worker())
    typer.echo(f"Baton {settings.base_url} — database {_safe_url(settings)}", err=True)
    config = uvicorn.Config(application, host=host or settings.host, port=port or settings.port, log_level="info")
    server = uvicorn.Server(config)
    logging_setup.install()  # after uvicorn configured its loggers
    server.run()


@app.command()
def worker(once: Annotated[bool, typer.Option(help="Do the due work once and exit.")] = False) -> None:
    """Run a worker alone; several can share one PostgreSQL."""
    runtime = _runtime(upgrade=False)
    w = runtime.worker()
    if once:
        events, sent = w.run_once()
        typer.echo(json.dumps({"events": events, "sent": sent}))
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    w.start()
    typer.echo(f"worker {w.name} running; database {_safe_url(runtime.settings)}", err=True)
    stop.wait()
    w.stop()


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url
    return make_url(settings.resolved_database_url()).render_as_string(hide_password=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Option(help="Target revision.")] = "head") -> None:
    """Create or upgrade the schema; rows already there stay."""
    from baton import migrate
    from baton.db import make_engine
    engine = make_engine(get_settings().resolved_database_url())
    migrate.upgrade(engine, revision)
    typer.echo(f"database at revision {migrate.current_revision(engine)}")


@audit_app.command("verify")
def audit_verify(email: Annotated[str, typer.Option(help="The owner whose chain to check.")]) -> None:
    """Check an owner's audit chain; exit 1 naming the first altered, removed or reordered entry."""
    from baton import accounts, auditlog
    from baton.db import reading
    runtime = _runtime(upgrade=False)
    with reading(runtime.engine) as conn:
        found = accounts.find_owner(conn, email)
        if found is None:
            fail(f"no owner with the e-mail {email.strip().lower()}", code=4)
        count, problem = auditlog.verify(conn, runtime.service.signer, found.id)
    if problem is not None:
        fail(f"audit chain of {found.email} is broken at {problem}",
             hint=f"{count} entries read; entries before {problem.seq} are intact")
    typer.echo(f"audit chain of {found.email}: {count} entries, all intact")


@app.command("simulate")
def simulate_command(file: Annotated[Path, typer.Argument(help="Scenario file (JSON or YAML).")]) -> None:
    """Print the timeline a policy produces for a scenario, as JSON lines. No database."""
    data = _read_file(file)
    try:
        scenario = parse_scenario(data)
        for event in simulate(scenario):
            typer.echo(json.dumps(event.to_dict(), ensure_ascii=False))
    except ScenarioError as exc:
        fail(f"{file}: {exc}", code=2)


# -- client side --------------------------------------------------------------------------------
def _client() -> httpx.Client:
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


def _response(method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The API's answer; an error status becomes an ``error:`` line (each bad row of an import too)."""
    try:
        with _client() as client:
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


def _call(method: str, path: str, **kwargs: Any) -> Any:
    return _response(method, path, **kwargs).json()


def _show(view: dict[str, Any], as_json: bool) -> None:
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


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def checkin(as_json: JsonFlag = False) -> None:
    """Check in: re-arms the switch and cancels any stage not yet run."""
    _show(_call("POST", "/api/checkin"), as_json)


@app.command()
def status(as_json: JsonFlag = False) -> None:
    """State, deadline and next reminder in your time zone; holders whose keys are unverified or stale."""
    view = _call("GET", "/api/status")
    people = _call("GET", "/api/people")
    keys = {p["name"]: p["key"] for p in people if p["key"] in ("none", "unverified", "stale")}
    if as_json:
        view = {**view, "holder_keys": keys}
    _show(view, as_json)
    if not as_json:
        for name, state in sorted(keys.items()):
            typer.echo(f"{'holder key:':<16}{name}: {state}" + (" (no key yet)" if state == "none" else ""))


@app.command()
def pause(until: Annotated[str, typer.Argument(help="End of the pause: 2026-08-31T09:00:00+02:00.")],
          as_json: JsonFlag = False) -> None:
    """Pause the switch until a moment (at most the policy's max_pause away)."""
    _show(_call("POST", "/api/pause", json={"until": until}), as_json)


@app.command()
def timeline(limit: Annotated[int, typer.Option(help="How many entries.")] = 50) -> None:
    """The recorded transitions, oldest first, as JSON lines."""
    for entry in _call("GET", "/api/timeline", params={"limit": limit}):
        typer.echo(json.dumps(entry, ensure_ascii=False))


@policy_app.command("show")
def policy_show() -> None:
    """Print the policy as JSON."""
    typer.echo(json.dumps(_call("GET", "/api/policy"), indent=2))


@policy_app.command("set")
def policy_set(file: Annotated[Path, typer.Argument(help="Policy file (JSON or YAML).")],
               as_json: JsonFlag = False) -> None:
    """Replace the policy (counts as a check-in)."""
    _show(_call("PUT", "/api/policy", json=_read_file(file)), as_json)


@channel_app.command("add")
def channel_add(url: Annotated[str, typer.Argument(help="Apprise URL, e.g. ntfy://my-topic.")],
                label: Annotated[str, typer.Option(help="A name for it.")] = "") -> None:
    """Add a channel for alerts (chat, push, webhook)."""
    made = _call("POST", "/api/channels", json={"url": url, "label": label})
    typer.echo(f"channel {made['id']} added")


@requester_app.command("add")
def requester_add(name: Annotated[str, typer.Argument()], email: Annotated[str, typer.Argument()]) -> None:
    """Make a standing link with which NAME may ask for release (printed once)."""
    typer.echo(_call("POST", "/api/requesters", json={"name": name, "email": email})["url"])


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
