"""The owner's switch from the command line: check in, status, pause, timeline, policy, channels,
release requesters (through the API), and ``simulate`` (no database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from baton.cli.common import JsonFlag, call, fail, read_file, show_status
from switch import ScenarioError, SwitchError, parse_scenario, policy_from_dict, policy_warnings, simulate

policy_app = typer.Typer(help="The switch policy.", no_args_is_help=True)
channel_app = typer.Typer(help="Where the owner's alerts go besides e-mail (Apprise URLs).", no_args_is_help=True)


def simulate_command(file: Annotated[Path, typer.Argument(help="Scenario file (JSON or YAML).")]) -> None:
    """Print the timeline a policy produces for a scenario, as JSON lines. No database."""
    data = read_file(file)
    try:
        scenario = parse_scenario(data)
        for event in simulate(scenario):
            typer.echo(json.dumps(event.to_dict(), ensure_ascii=False))
    except ScenarioError as exc:
        fail(f"{file}: {exc}", code=2)



def checkin(as_json: JsonFlag = False) -> None:
    """Check in: re-arms the switch and cancels any stage not yet run."""
    view = call("POST", "/api/checkin")
    if not as_json:
        typer.echo(f"Checked in at {view['last_checkin_local']}; next deadline {view['deadline_local']}.")
    show_status(view, as_json)


def status(as_json: JsonFlag = False) -> None:
    """State, deadline and next reminder in your time zone; holders whose keys are unverified or stale."""
    view = call("GET", "/api/status")
    people = call("GET", "/api/people")
    keys = {p["name"]: p["key"] for p in people if p["key"] in ("none", "unverified", "stale")}
    if as_json:
        view = {**view, "holder_keys": keys}
    witnesses = call("GET", "/api/witnesses")
    if as_json:
        view = {**view, "witnesses": witnesses}
    show_status(view, as_json)
    if not as_json:
        for item in witnesses:
            typer.echo(f"{'witness:':<16}{item['url']}: heartbeat {item['last_heartbeat'] or 'never'}, version "
                       f"{item['synced_version']}" + (f" — {item['problem']}" if item["problem"] else ""))
        for name, state in sorted(keys.items()):
            typer.echo(f"{'holder key:':<16}{name}: {state}" + (" (no key yet)" if state == "none" else ""))


def pause(until: Annotated[str, typer.Argument(help="End of the pause: 2026-08-31T09:00:00+02:00.")],
          as_json: JsonFlag = False) -> None:
    """Pause the switch until a moment (at most the policy's max_pause away)."""
    show_status(call("POST", "/api/pause", json={"until": until}), as_json)


def timeline(limit: Annotated[int, typer.Option(help="How many entries.")] = 50) -> None:
    """The recorded transitions, oldest first, as JSON lines."""
    for entry in call("GET", "/api/timeline", params={"limit": limit}):
        typer.echo(json.dumps(entry, ensure_ascii=False))


@policy_app.command("show")
def policyshow_status() -> None:
    """Print the policy as JSON."""
    typer.echo(json.dumps(call("GET", "/api/policy"), indent=2))


@policy_app.command("set")
def policy_set(file: Annotated[Path, typer.Argument(help="Policy file (JSON or YAML).")],
               as_json: JsonFlag = False) -> None:
    """Replace the policy (counts as a check-in). A policy that could make the release earlier waits a
    cooling-off, announced on every channel; `baton changes` shows and cancels it."""
    data = read_file(file)
    before = {c["id"] for c in call("GET", "/api/status").get("pending_changes") or []}
    view = call("PUT", "/api/policy", json=data)
    if not as_json:
        held = [c for c in view.get("pending_changes") or [] if c["kind"] == "policy" and c["id"] not in before]
        if held:
            typer.echo(f"Policy change held until {held[-1]['takes_effect_local']} (it could bring your release "
                       f"earlier: {'; '.join(held[-1]['reasons'])}); you were told on every channel. "
                       f"Cancel it with `baton changes cancel {held[-1]['id']}`. Until then:")
        else:
            typer.echo(f"Policy saved; it counts as a check-in, so the next deadline is {view['deadline_local']}.")
    for note in view.get("notes") or []:
        typer.echo(f"note: {note}", err=True)
    for line in view.get("warnings") or []:
        typer.echo(f"warning: {line}", err=True)
    show_status(view, as_json)


def warn_about(policy: object) -> None:
    """A ``warning:`` line on standard error for each thing a valid policy still gets wrong (verifiers nobody
    can ask); the server has accepted the policy, so one it would refuse says nothing here."""
    try:
        said = policy_warnings(policy_from_dict(policy))
    except SwitchError:
        return
    for line in said:
        typer.echo(f"warning: {line}", err=True)


@channel_app.command("add")
def channel_add(url: Annotated[str, typer.Argument(help="Apprise URL, e.g. ntfy://my-topic.")],
                label: Annotated[str, typer.Option(help="A name for it.")] = "") -> None:
    """Add a channel for alerts (chat, push, webhook)."""
    made = call("POST", "/api/channels", json={"url": url, "label": label})
    typer.echo(f"channel {made['id']} added")


@channel_app.command("list")
def channel_list(as_json: JsonFlag = False) -> None:
    """The channels: id, label, scheme and host (never the URL, which may hold a secret)."""
    found = call("GET", "/api/channels")
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    if not found:
        typer.echo("no channels: alerts go by e-mail only")
    for channel in found:
        typer.echo(f"{channel['id']:>4}  {channel['label']:<20} {channel['scheme']:<10} {channel['host'] or '—'}")


@channel_app.command("remove")
def channel_remove(channel_id: Annotated[int, typer.Argument(metavar="ID", help="The id `baton channel list` shows.")]
                   ) -> None:
    """Remove a channel: no alert goes to it any more."""
    done = call("DELETE", f"/api/channels/{channel_id}")
    if done.get("takes_effect_at"):
        typer.echo(f"channel {channel_id} will be removed at {done['takes_effect_at']} (fewer channels could let a "
                   f"release come unnoticed, so it waits; `baton changes` shows and cancels it)")
    else:
        typer.echo(f"channel {channel_id} removed")
