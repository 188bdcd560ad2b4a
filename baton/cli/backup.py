"""``baton backup`` and ``baton restore``: the deployment in one age-encrypted file, and back."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from baton.cli.common import fail, identities
from baton.errors import BatonError
from baton.settings import get_settings
from vault import VaultError


def backup(
    out: Annotated[Path, typer.Argument(help="The file to write (refused if it exists).")],
    recipient: Annotated[list[str] | None, typer.Option(
        "--recipient", "-r", help="An age recipient (age1…) or SSH public key to encrypt to; repeatable.")] = None,
    recipients_file: Annotated[list[Path] | None, typer.Option(
        "--recipients-file", "-R", help="A file of recipients, one a line.")] = None,
) -> None:
    """Write a consistent, encrypted snapshot: database rows, blobs, built packages and the key file."""
    from baton.services.backups import recipients_from, write_backup
    from baton.store.engine import make_engine
    from baton.timeutil import SystemClock
    if not recipient and not recipients_file:
        fail("no recipient", hint="give --recipient age1… (the public key of an identity kept offline) or "
             "--recipients-file FILE", code=2)
    if out.exists():
        fail(f"{out} exists already; a backup never overwrites a file", code=2)
    try:
        recipients = recipients_from(recipient or [], recipients_file or [])
    except (VaultError, BatonError) as exc:
        fail(str(exc), code=2)
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    tmp = out.with_name(f".{out.name}.partial")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            summary = write_backup(engine, settings, recipients, handle, SystemClock().now())
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(out)
    except BatonError as exc:
        tmp.unlink(missing_ok=True)
        fail(str(exc), code=exc.exit_code)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        fail(f"cannot write {out}: {exc.strerror}")
    finally:
        engine.dispose()
    rows = sum(summary.rows.values())
    typer.echo(f"backup {out}: taken {summary.taken_at}, schema {summary.revision}, {rows} rows in "
               f"{len(summary.rows)} tables, {summary.blobs} blob(s) and {summary.packages} package(s) "
               f"({summary.bytes} bytes), the key file; encrypted to {len(recipients)} recipient(s)")


def restore(
    source: Annotated[Path, typer.Argument(help="The backup file written by `baton backup`.")],
    identity: Annotated[list[Path], typer.Option("--identity", "-i", help="An age identity file that opens it.")],
) -> None:
    """Restore a backup into an empty deployment (this one's database and data folder), then verify it."""
    from baton.runtime import private_folder
    from baton.services.restore import restore as restore_backup
    from baton.store.engine import make_engine
    from baton.timeutil import SystemClock
    keys = identities(identity)
    settings = get_settings()
    private_folder(settings.data_dir)
    engine = make_engine(settings.resolved_database_url())
    try:
        with open(source, "rb") as handle:
            done = restore_backup(engine, settings, handle, keys, SystemClock().now())
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror}", code=2)
    except VaultError as exc:
        fail(f"{exc}; nothing was restored", code=2)
    except BatonError as exc:
        fail(f"{exc}; nothing was restored", code=exc.exit_code)
    finally:
        engine.dispose()
    rows = sum(done.rows.values())
    typer.echo(f"restored the backup taken {done.taken_at} (schema {done.revision}): {rows} rows in "
               f"{len(done.rows)} tables, {done.blobs} blob(s) and {done.packages} package(s) ({done.bytes} "
               "bytes), the key file")
    typer.echo(f"verified: every part's SHA-256, every blob's checksum, and the audit chains of {done.owners} "
               f"owner(s) ({done.audit_entries} entries), all intact")
    for reason in done.switches_woken:
        typer.echo(f"switch: {reason}")
