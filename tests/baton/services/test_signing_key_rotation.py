"""Replacing the deployment's signing key: recorded in every audit chain (the old key signs the new),
picked up by a process that still holds the old key, told to owners and holders, and carried by
every later package so that the fingerprint in a holder's older e-mails still proves the package."""

from __future__ import annotations

import json
import re
import zipfile

import pytest
from nacl.signing import SigningKey
from sqlalchemy import select, update
from test_vault_release import World, _fingerprint_in_mail, _fire

from baton.runtime import build
from baton.services import signingkeys
from baton.settings import get_settings
from baton.store import auditlog
from baton.store.signing import PURPOSE
from baton.store.tables import audit_entries, deployment_keys, key_rotations, outbox, owners
from baton.testing import FakeClock
from handover import i18n
from tests_support import run_cli
from vault import keyhistory, keys, signature


def _rotate(world: World) -> signingkeys.Rotated:
    service = world.runtime.service
    return signingkeys.rotate(world.runtime.engine, service.signer, service.key, service.clock.now())


def test_a_rotation_is_in_every_chain_and_a_stale_process_signs_with_the_new_key(
        world: World, clock: FakeClock) -> None:
    """A second process opened before the rotation still holds the old key; its next check-in loads the
    new one, and the chain verifies with the deployment's current key from genesis to its head."""
    stale = build(world.runtime.settings, clock=clock)
    try:
        old = world.runtime.service.signer.public_hex
        assert stale.service.signer.public_hex == old
        done = _rotate(world)
        new = world.runtime.service.signer.public_hex
        assert new != old and done.chains == 1
        assert done.old_fingerprint == signature.fingerprint(bytes.fromhex(old))
        assert done.new_fingerprint == signature.fingerprint(bytes.fromhex(new))
        clock.advance(hours=1)
        stale.service.check_in(world.owner_id, via="api")
        assert stale.service.signer.public_hex == new
        with world.runtime.engine.connect() as conn:
            count, problem = auditlog.verify(conn, world.owner_id)
            kinds = [r.kind for r in conn.execute(select(audit_entries.c.kind).where(
                audit_entries.c.owner_id == world.owner_id).order_by(audit_entries.c.seq))]
            secret = conn.execute(select(deployment_keys.c.secret).where(deployment_keys.c.purpose == PURPOSE)
                                  ).scalar_one()
        assert problem is None and count == len(kinds)
        assert kinds[-3:] == ["deployment.key-rotated", "deployment.key-accepted", "switch.checkin"]
        # The new key, sealed, replaced the old one: nothing in the database opens to the old key any more.
        assert world.runtime.service.key.open(secret) == bytes(world.runtime.service.signer.key)
    finally:
        stale.engine.dispose()


def test_the_old_key_cannot_sign_after_its_rotation(world: World) -> None:
    """A copy of the retired key (say, from a stolen backup) signs an entry after the rotation: the chain,
    checked with the current key, names that entry."""
    from switch.audit import next_entry
    old_seed = bytes(world.runtime.service.signer.key)
    _rotate(world)
    with world.runtime.engine.begin() as conn:
        seq, head = auditlog.head(conn, world.owner_id)
        assert head is not None
        thief = _Seed(SigningKey(old_seed))
        forged = next_entry(str(world.owner_id), (seq, head), world.runtime.service.clock.now(), "switch.checkin",
                            {"via": "api"}, thief)
        conn.execute(audit_entries.insert().values(owner_id=world.owner_id, seq=forged.seq, at=forged.at,
                                                   kind=forged.kind, data=forged.data, prev_hash=forged.prev_hash,
                                                   hash=forged.hash, signature=forged.signature))
        conn.execute(update(owners).where(owners.c.id == world.owner_id)
                     .values(audit_seq=forged.seq, audit_head=forged.hash))
    with world.runtime.engine.connect() as conn:
        _count, problem = auditlog.verify(conn, world.owner_id)
    assert problem is not None and problem.seq == forged.seq
    assert problem.problem == "altered: its signature does not verify"


class _Seed:
    def __init__(self, key: SigningKey) -> None:
        self.key = key

    def sign(self, message: bytes) -> bytes:
        return bytes(self.key.sign(message).signature)


def test_owners_and_enrolled_holders_are_told_the_new_fingerprint_in_their_language(world: World) -> None:
    done = _rotate(world)
    with world.runtime.engine.connect() as conn:
        mails = {r.recipient: r for r in conn.execute(select(outbox).where(outbox.c.purpose == "signing-key"))}
        statement = conn.execute(select(key_rotations)).one()
    assert sorted(mails) == ["ana@example.org", "bruno@example.org", "carla@example.org", "owner@example.org"]
    assert done.told == 4
    for mail in mails.values():
        shown = re.findall(r"^    ([0-9a-f]{64})$", mail.body_text, flags=re.M)
        assert shown == [done.new_fingerprint, done.old_fingerprint]
        assert f"<code>{done.new_fingerprint}</code>" in mail.body_html
    assert mails["bruno@example.org"].subject == "Baton ha cambiato la sua chiave di firma: la nuova impronta"
    assert mails["ana@example.org"].subject == "Baton changed its signing key: the new fingerprint"
    [change] = keyhistory.earlier_keys(bytes.fromhex(statement.new_public),
                                       [keyhistory.Rotation(bytes.fromhex(statement.old_public),
                                                            bytes.fromhex(statement.new_public),
                                                            __import__("switch").iso(statement.at),
                                                            bytes.fromhex(statement.signed_by_old),
                                                            bytes.fromhex(statement.signed_by_new))])
    assert signature.fingerprint(change.old) == done.old_fingerprint  # both signatures hold


def test_a_package_after_a_rotation_opens_with_the_fingerprint_of_the_older_emails(
        world: World, clock: FakeClock) -> None:
    """Ana's enrolment e-mail named the old key; the release came after a rotation. ``baton recover`` with
    the old fingerprint follows the signed change to the package's key, says so, and opens; the audit
    excerpt (which spans the rotation when no check-in came after it) verifies; a package whose history
    was forged by another key is still refused."""
    from baton.cli.recovery import recover_into
    old_fingerprint = _fingerprint_in_mail(world, "enrol", "ana@example.org")
    done = _rotate(world)
    assert done.old_fingerprint == old_fingerprint
    paths = _fire(world, clock)
    with zipfile.ZipFile(paths[0]) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(keyhistory.FILE)]
        history = json.loads(archive.read(name))
        excerpt = json.loads(archive.read(name.replace(keyhistory.FILE, "audit.json")))
        instructions = archive.read(name.replace(keyhistory.FILE, "RECOVER.md")).decode()
    assert [r["new"] for r in history["rotations"]] == [world.runtime.service.signer.public_hex]
    assert "deployment.key-rotated" in [e["kind"] for e in excerpt["entries"]]
    when = i18n.moment(history["rotations"][0]["at"], "en", "Europe/Rome")  # the owner's time zone, named
    assert f"Baton replaced its signing key on {when} and e-mailed you the new fingerprint" in instructions
    ids = [i for name in ("ana", "bruno") for i in keys.parse_identities(world.identities[name].read_bytes())]
    lines = recover_into(paths, ids, world.tmp / "out", old_fingerprint)
    assert lines[0] == (f"the packages are signed by the key with fingerprint {done.new_fingerprint}, which "
                        f"replaced the key with fingerprint {old_fingerprint} on {history['rotations'][0]['at']} "
                        "(both keys signed the change)")
    assert lines[1].startswith("operations: released because grace ended without a check-in; audit entries")
    assert lines[-1] == f"opened operations with the shares of ana, bruno: {world.tmp / 'out' / 'operations'}"
    assert recover_into(paths, ids, world.tmp / "out2", done.new_fingerprint)[0].startswith("operations: released")

    # A forger with their own key writes a "history" from the old fingerprint to their key, signed by theirs.
    from test_vault_release import _re_signed
    attacker = SigningKey.generate()
    forged = _re_signed(paths[0], world.tmp / "forged" / "ana", attacker)
    fake = keyhistory.Rotation(bytes.fromhex(history["rotations"][0]["old"]), bytes(attacker.verify_key), "2026-12-01",
                               b"\0" * 64, bytes(attacker.sign(keyhistory.statement(
                                   bytes.fromhex(history["rotations"][0]["old"]), bytes(attacker.verify_key),
                                   "2026-12-01")).signature))
    (forged / keyhistory.FILE).write_text(json.dumps(keyhistory.document([fake])))
    refused = run_cli("recover", forged, "-i", world.identities["ana"], "--out", world.tmp / "nope",
                      "--fingerprint", old_fingerprint)
    assert refused.exit_code == 2 and "not the one expected" in refused.stderr, refused.output


def test_the_key_commands_show_and_replace_the_key(world: World, request: pytest.FixtureRequest,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    settings = world.runtime.settings
    monkeypatch.setenv("BATON_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BATON_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    request.addfinalizer(get_settings.cache_clear)
    before = signature.signer_fingerprint(world.runtime.service.signer)
    shown = run_cli("key", "show")
    assert shown.exit_code == 0 and shown.stdout == f"fingerprint {before}\n"
    asked = run_cli("key", "rotate", input="n\n")
    assert asked.exit_code == 1 and "Aborted" in asked.output
    done = run_cli("key", "rotate", "--yes")
    assert done.exit_code == 0, done.output
    [after] = re.findall(r"fingerprint ([0-9a-f]{64}) \(was " + before + r"\)", done.stdout)
    assert "recorded in 1 audit chains; 4 e-mails with the new fingerprint queued" in done.stdout
    shown = run_cli("key", "show")
    assert shown.stdout.splitlines()[0] == f"fingerprint {after}"
    assert shown.stdout.splitlines()[1].startswith(f"  replaced {before} on ")
    verified = run_cli("audit", "verify", "--email", "owner@example.org")
    assert verified.exit_code == 0 and "all intact" in verified.stdout, verified.output
