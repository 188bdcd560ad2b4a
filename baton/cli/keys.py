"""``baton key``: the deployment's signing key — its fingerprint, its history, and replacing it."""

from __future__ import annotations

from typing import Annotated

import typer

from baton.cli.common import open_runtime

key_app = typer.Typer(help="The deployment's signing key (packages and audit chains).", no_args_is_help=True)


@key_app.command("show")
def show() -> None:
    """The signing key's fingerprint (what holders compare) and every key it replaced."""
    from baton.services import signingkeys
    from baton.store.engine import reading
    from vault import signature
    runtime = open_runtime(upgrade=False)
    try:
        with reading(runtime.engine) as conn:  # the runtime just loaded the key in use
            changes = signingkeys.history(conn)
    finally:
        runtime.engine.dispose()
    typer.echo(f"fingerprint {signature.signer_fingerprint(runtime.service.signer)}")
    for change in reversed(changes):
        typer.echo(f"  replaced {signature.fingerprint(change.old)} on {change.at}")


@key_app.command("rotate")
def rotate(yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False) -> None:
    """Replace the signing key, e.g. when a copy of it may have been taken.

    The old key signs the new one in every owner's audit chain and in a statement every later
    package carries, so the fingerprints in earlier e-mails stay good; owners and enrolled holders
    get an e-mail with the new fingerprint. The old key is destroyed.
    """
    from baton.services import signingkeys
    if not yes:
        typer.confirm("Replace the deployment's signing key now? Owners and holders will be e-mailed the new "
                      "fingerprint", abort=True)
    runtime = open_runtime(upgrade=False)
    try:
        done = signingkeys.rotate(runtime.engine, runtime.service.signer, runtime.service.key,
                                  runtime.service.clock.now())
    finally:
        runtime.engine.dispose()
    typer.echo(f"signing key replaced: fingerprint {done.new_fingerprint} (was {done.old_fingerprint}); recorded "
               f"in {done.chains} audit chains; {done.told} e-mails with the new fingerprint queued")
