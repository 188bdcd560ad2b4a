"""Server-side commands: they use the database in the settings (init, serve, worker, totp, db, audit)."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from baton.cli.common import client_config_path, fail, open_runtime, read_file
from baton.errors import exit_code
from baton.settings import Settings, get_settings
from switch import SwitchError
from switch.durations import kind

audit_app = typer.Typer(help="The audit chain.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
totp_app = typer.Typer(help="Two-step sign-in for the web pages (an authenticator app).", no_args_is_help=True)


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
    data = read_file(policy) if policy else None
    if policy and not isinstance(data, dict):
        fail(f"{policy}: expected a policy object (interval, reminders, grace, stages…), "
             f"got {kind(data)}", code=2)
    runtime = open_runtime()
    try:
        made = runtime.service.create_owner(email, password, timezone, totp=totp, policy=data)
    except (BatonError, SwitchError) as exc:
        fail(str(exc), code=exit_code(exc))
    view = runtime.service.status(made.owner.id)
    typer.echo(f"Owner {made.owner.email} created. Switch armed; deadline {view.to_dict()['deadline_local']}.")
    if data is not None:
        from baton.cli.switch import warn_about
        warn_about(data)
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
    from baton.http import websessions
    from baton.services import accounts
    runtime = open_runtime()
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
        accounts.set_totp(conn, runtime.service.key, owner_id, secret)
        ended = websessions.close_all(conn, owner_id)
        runtime.service.record(conn, owner_id, "owner.totp_enabled", {"sessions_ended": ended})
    typer.echo(f"Two-step sign-in is on for {email.strip().lower()}; {ended} web session(s) signed out.")


Host = Annotated[str | None, typer.Option(help="Address to listen on (default BATON_HOST).")]
Port = Annotated[int | None, typer.Option(help="Port to listen on (default BATON_PORT).")]
Workers = Annotated[int, typer.Option("--workers", min=1, max=64,
                                      help="API processes (uvicorn's workers); each opens its own connections.")]


def _listening(host: str | None, port: int | None) -> Settings:
    """The settings for a server on --host/--port: links follow them unless BATON_BASE_URL is set (the
    API processes uvicorn spawns read the settings again, so they are told the same base URL)."""
    settings = get_settings().listening(host, port)
    if not settings.base_url_given:
        os.environ["BATON_BASE_URL"] = settings.base_url
        if settings.host in ("0.0.0.0", "::"):
            typer.echo("hint: links in messages point to the loopback; set BATON_BASE_URL to the address "
                       "others reach", err=True)
    return settings


def serve(host: Host = None, port: Port = None, workers: Workers = 1) -> None:
    """Run the API and a worker: in one process (SQLite by default), or the API in N processes beside the
    worker; links in messages follow --host and --port unless BATON_BASE_URL is set."""
    from baton.cli.processes import run_api
    from baton.http.app import create_app
    settings = _listening(host, port)
    runtime = open_runtime(settings=settings)
    typer.echo(f"Baton {settings.base_url} — database {_safe_url(settings)}"
               + (f" — {workers} API processes and a worker" if workers > 1 else ""), err=True)
    if workers == 1:
        run_api(settings, settings.host, settings.port, 1, create_app(runtime.service, runtime.worker()))
        return
    w = runtime.worker()
    w.start()  # in this process's threads; the API processes are spawned without them
    try:
        run_api(settings, settings.host, settings.port, workers)
    finally:
        w.stop()
        runtime.engine.dispose()


def api(host: Host = None, port: Port = None, workers: Workers = 1) -> None:
    """Run the API and the pages without a worker (behind a load balancer; run `baton worker` elsewhere)."""
    from baton.cli.processes import run_api
    from baton.http.app import create_app
    settings = _listening(host, port)
    runtime = open_runtime(upgrade=False, settings=settings)
    typer.echo(f"Baton API {settings.base_url} — database {_safe_url(settings)}"
               + (f" — {workers} processes" if workers > 1 else "") + "; no worker in this process", err=True)
    if workers == 1:
        run_api(settings, settings.host, settings.port, 1, create_app(runtime.service))
        return
    runtime.engine.dispose()
    run_api(settings, settings.host, settings.port, workers)


def worker(once: Annotated[bool, typer.Option(help="Do the due work once and exit.")] = False) -> None:
    """Run a worker alone; several can share one PostgreSQL."""
    runtime = open_runtime(upgrade=False)
    w = runtime.worker()
    if once:
        events, sent = w.run_once()
        w.heartbeat.beat()
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
    from baton.store import migrate
    from baton.store.engine import make_engine
    engine = make_engine(get_settings().resolved_database_url())
    migrate.upgrade(engine, revision)
    typer.echo(f"database at revision {migrate.current_revision(engine)}")


@audit_app.command("verify")
def audit_verify(
    email: Annotated[str | None, typer.Option(help="The owner whose chain to check.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Check every owner's chain.")] = False,
) -> None:
    """Check an owner's audit chain (or every owner's); exit 1 naming the first altered, removed or reordered
    entry."""
    from sqlalchemy import select

    from baton.services import accounts
    from baton.store import auditlog
    from baton.store.engine import reading
    from baton.store.tables import owners
    if (email is None) == (not every):
        fail("expected --email ADDRESS or --all", code=2)
    runtime = open_runtime(upgrade=False)
    broken = []
    try:
        with reading(runtime.engine) as conn:
            if email is not None:
                found = accounts.find_owner(conn, email)
                if found is None:
                    fail(f"no owner with the e-mail {email.strip().lower()}", code=4)
                chosen = [(found.id, found.email)]
            else:
                chosen = [(r.id, r.email) for r in conn.execute(select(owners.c.id, owners.c.email)
                                                                .order_by(owners.c.id))]
            for owner_id, address in chosen:
                count, problem = auditlog.verify(conn, owner_id)
                if problem is None:
                    typer.echo(f"audit chain of {address}: {count} entries, all intact")
                else:
                    typer.echo(f"error: audit chain of {address} is broken at {problem}", err=True)
                    typer.echo(f"hint: {count} entries read; entries before {problem.seq} are intact", err=True)
                    broken.append(address)
    finally:
        runtime.engine.dispose()
    if broken:
        raise typer.Exit(1)
    if every:
        typer.echo(f"{len(chosen)} owner(s), every chain intact")
