"""The ``baton`` command line: server-side administration and the owner's client.

Server-side commands (init, serve, api, worker, audit verify, db upgrade) use the database in
the settings. Client commands (checkin, status, pause, policy, ...) talk to the API with
the owner's token from ``BATON_TOKEN`` or the client file written by ``baton init``.
"""

from __future__ import annotations

import sys

import typer

from baton.cli import access, backup, helptext, server, switch
from baton.cli.handover import domains_app, handover_app, notices_app, readiness_command, register_app
from baton.cli.keys import key_app
from baton.cli.people import keycheck_command, people_app
from baton.cli.recovery import drill_command, recover_command
from baton.cli.vault import vault_app
from baton.cli.witness import witness_app

helptext.install()
app = typer.Typer(help="Baton: business continuity for one-person hosting and domain businesses.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.command()(server.init)
app.command()(server.serve)
app.command()(server.api)
app.command()(server.worker)
app.command()(switch.checkin)
app.command()(switch.status)
app.command()(switch.pause)
app.command()(switch.timeline)
app.command("simulate")(switch.simulate_command)
app.add_typer(server.audit_app, name="audit")
app.add_typer(server.db_app, name="db")
app.add_typer(switch.policy_app, name="policy")
app.add_typer(switch.channel_app, name="channel")
app.add_typer(access.requester_app, name="requester")
app.add_typer(access.token_app, name="token")
app.add_typer(access.changes_app, name="changes")
app.add_typer(server.totp_app, name="totp")
app.add_typer(key_app, name="key")
app.add_typer(vault_app, name="vault")
app.add_typer(people_app, name="people")
app.add_typer(register_app, name="register")
app.add_typer(domains_app, name="domains")
app.add_typer(handover_app, name="handover")
app.add_typer(notices_app, name="notices")
app.add_typer(witness_app, name="witness")
app.command("readiness")(readiness_command)
app.command("recover")(recover_command)
app.command("drill")(drill_command)
app.command("backup")(backup.backup)
app.command("restore")(backup.restore)
app.command("keycheck")(keycheck_command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
