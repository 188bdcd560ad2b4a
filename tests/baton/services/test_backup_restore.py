"""``baton backup`` → ``baton restore`` into an empty deployment, on SQLite and PostgreSQL and across them:
the audit chains verify, the blobs match, the rows are all there, links made before the backup still work;
a tampered backup, a wrong identity and a deployment that is not empty are refused with nothing written;
and a switch that came due while the backup lay on the shelf fires only after its grace and verifiers."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from test_vault_release import World, _fire

from baton.runtime import Runtime, build
from baton.services.backups import write_backup
from baton.services.restore import ensure_empty, restore
from baton.settings import Settings, get_settings
from baton.store import links as stored_links
from baton.store import snapshot
from baton.store.engine import make_engine
from baton.store.tables import compartments, outbox, switches, transitions
from baton.testing import FakeClock
from baton.timeutil import SystemClock
from tests_support import ok, run_cli, scratch_database, settings_for
from vault import keys

SHELF_POLICY = {"interval": "10d", "reminders": ["1d"], "grace": "3d", "grace_reminder_every": "1d",
                "confirm": {"window": "2d", "verifiers": [{"name": "vera", "email": "vera@example.org"}],
                            "quorum": 1},
                "stages": [{"name": "notify", "after": "0d", "audience": ["owner"], "action": "notify"}]}


@pytest.fixture
def clock() -> FakeClock:
    """A clock some weeks behind the real one: the CLI restores at the real moment, after the life."""
    return FakeClock(SystemClock().now() - timedelta(days=60))


@pytest.fixture
def operator_key(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "operator.key"
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return path, re.findall(r"age1\w+", path.read_text())[0]


def _use(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """The CLI's deployment: this database and data folder."""
    monkeypatch.setenv("BATON_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("BATON_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("BATON_KEY_FILE", raising=False)
    get_settings.cache_clear()


@pytest.fixture
def target(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[Settings]:
    """An empty deployment on the same kind of database as the source, or (``other``) on the other kind."""
    kind = "postgres" if db_url.startswith("postgresql") else "sqlite"
    if getattr(request, "param", "same") == "other":
        kind = "sqlite" if kind == "postgres" else "postgres"
    folder = tmp_path / "target"
    folder.mkdir()
    with scratch_database(kind, folder) as url:
        yield settings_for(url, data_dir=folder / "data")
    get_settings.cache_clear()


def _blob_sums(settings: Settings) -> dict[str, str]:
    root = settings.data_dir / "blobs"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.glob("??/*") if len(p.name) == 64}


@pytest.mark.parametrize("target", ["same", "other"], indirect=True)
def test_a_backup_restores_into_an_empty_deployment(world: World, clock: FakeClock, target: Settings,
                                                    operator_key: tuple[Path, str], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows, blobs, packages and the key file come back; every chain verifies; old links still work."""
    source = world.runtime
    _fire(world, clock)  # a release: packages built from the compartment's blob, downloads audited
    with source.engine.connect() as conn:
        before = snapshot.counts(conn)
        token = re.findall(r"/l/(\S+)", stored_links.expand(source.service.key, conn.execute(
            select(outbox.c.body_text).where(outbox.c.purpose == "fired")).scalars().first()))[0]
    identity, recipient = operator_key
    _use(monkeypatch, source.settings)
    made = ok(run_cli("backup", tmp_path / "deployment.age", "--recipient", recipient))
    assert re.match(r"backup .*deployment\.age: taken \S+, schema \w+, \d+ rows in \d+ tables, 1 blob\(s\) and 3 "
                    r"package\(s\) \(\d+ bytes\), the key file; encrypted to 1 recipient\(s\)\n", made.output)
    assert (tmp_path / "deployment.age").read_bytes().startswith(b"age-encryption.org/v1\n")

    _use(monkeypatch, target)
    done = ok(run_cli("restore", tmp_path / "deployment.age", "--identity", identity))
    assert "verified: every part's SHA-256, every blob's checksum, and the audit chains of 1 owner(s)" in done.output
    assert ok(run_cli("audit", "verify", "--all")).output.endswith("1 owner(s), every chain intact\n")
    assert _blob_sums(target) == _blob_sums(source.settings) != {}
    assert all(name == digest for name, digest in _blob_sums(target).items())
    assert sorted(p.name for p in (target.data_dir / "packages").rglob("*.zip")) == sorted(
        p.name for p in (source.settings.data_dir / "packages").rglob("*.zip"))

    restored = build(target, clock=clock)
    try:
        with restored.engine.connect() as conn:
            after = snapshot.counts(conn)
        assert after == {**before, "audit_entries": before["audit_entries"] + 1}  # + the restore's own entry
        view = restored.service.check_in_by_link(token)  # a link token from before the backup: same key file
        assert view.to_dict()["status"] == "armed"
        restored.service.check_in(world.owner_id)
        with restored.engine.connect() as conn:
            assert conn.execute(select(compartments.c.blob_sha256)).scalar() in _blob_sums(target)
    finally:
        restored.engine.dispose()
    assert ok(run_cli("audit", "verify", "--all")).exit_code == 0


def _backup(runtime: Runtime, recipient: str, now: datetime) -> bytes:
    out = io.BytesIO()
    write_backup(runtime.engine, runtime.settings, [keys.parse_recipient(recipient)], out, now)
    return out.getvalue()


def _restore(settings: Settings, data: bytes, identity: Path, now: datetime) -> object:
    engine = make_engine(settings.resolved_database_url())
    try:
        return restore(engine, settings, io.BytesIO(data), keys.parse_identities(identity.read_bytes()), now)
    finally:
        engine.dispose()


def _assert_empty(settings: Settings) -> None:
    engine = make_engine(settings.resolved_database_url())
    try:
        ensure_empty(engine, settings)
    finally:
        engine.dispose()


def test_tampering_a_wrong_identity_and_a_full_target_are_refused(runtime: Runtime, clock: FakeClock,
                                                                    target: Settings, tmp_path: Path,
                                                                    operator_key: tuple[Path, str]) -> None:
    """Each refusal says why, and leaves the target as empty as it was."""
    from baton.errors import Conflict
    from vault.errors import DamagedFile, WrongKey
    runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    identity, recipient = operator_key
    data = _backup(runtime, recipient, clock.now())
    tampered = bytearray(data)
    tampered[len(data) // 2] ^= 0x01
    with pytest.raises(DamagedFile, match="the backup: the file is truncated or altered"):
        _restore(target, bytes(tampered), identity, clock.now())
    _assert_empty(target)
    with pytest.raises(DamagedFile):
        _restore(target, data[:-100], identity, clock.now())
    _assert_empty(target)
    other = tmp_path / "other.key"
    subprocess.run(["age-keygen", "-o", str(other)], check=True, capture_output=True)
    with pytest.raises(WrongKey, match="the backup: none of the identities given can open it"):
        _restore(target, data, other, clock.now())
    _assert_empty(target)
    with pytest.raises(Conflict, match=r"^restore needs an empty deployment; found the key file .*deployment\.key; "
                                       r"rows in deployment_keys \(2 rows\), owners \(1 rows\)"):
        _restore(runtime.settings, data, identity, clock.now())
    assert _restore(target, data, identity, clock.now()) is not None  # the untouched backup still restores


def test_a_switch_due_on_the_shelf_fires_only_after_its_grace_and_verifiers(
        runtime: Runtime, clock: FakeClock, target: Settings, operator_key: tuple[Path, str]) -> None:
    """Backed up armed, restored after its deadline + grace + window: the deadline counts from the restore,
    the owner gets every grace reminder, the verifier is asked, and it fires at the window's end — not before."""
    owner = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome",
                                         policy=SHELF_POLICY).owner
    identity, recipient = operator_key
    data = _backup(runtime, recipient, clock.now())
    clock.advance(days=30)  # on the shelf: well past deadline (10d) + grace (3d) + window (2d)
    woke = clock.now()
    done = _restore(target, data, identity, woke)
    assert [re.sub(r"\S+Z", "T", r) for r in done.switches_woken] == [  # type: ignore[attr-defined]
        "restored from a backup taken at T: the deadline T passed while the backup lay on the shelf; it counts "
        "as reached at T, with the whole grace and confirmation after it"]
    with ExitStack() as stack:
        restored = build(target, clock=clock)
        stack.callback(restored.engine.dispose)
        worker = restored.worker(senders={})
        worker.run_switches()
        assert restored.service.status(owner.id).to_dict()["status"] == "grace"
        for day in range(1, 6):
            clock.advance(days=1)
            worker.run_switches()
            status = restored.service.status(owner.id).to_dict()["status"]
            assert status == ("grace" if day < 3 else "confirming" if day < 5 else "released"), (day, status)
        with restored.engine.connect() as conn:
            kinds = [(r.kind, r.due_at) for r in conn.execute(select(transitions.c.kind, transitions.c.due_at)
                                                              .order_by(transitions.c.id))]
            assert conn.execute(select(switches.c.status)).scalar() == "released"
    assert [k for k, _ in kinds] == ["restored", "deadline", "grace_reminder", "grace_reminder",
                                     "confirm_requested", "fired", "stage"]
    fired = dict(kinds)["fired"]
    assert fired == woke + timedelta(days=5)  # grace (3d) and window (2d) measured from the restore
