"""A witness beside a primary, in one process with one fake clock: the primary on each database (SQLite and
PostgreSQL), the witness on the other, served on the loopback. Linking, what the witness holds (no secret),
the takeover at the policy's moment and not before, the release from the witness opening with age and shamir,
a check-in at the witness taken in by the primary, stages never twice, refusals audited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from witness_support import Life, enrol_url, holds_none, make_vault, open_with_terminal, unzip

from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.services.witness.linking import Linking
from baton.services.witness.watching import Witness, make_code
from baton.store import links as stored_links
from baton.store.snapshot import tables
from baton.store.tables import audit_entries, outbox, witnessed
from baton.testing import FakeClock
from tests_support import live_server, needs_tools, scratch_database, settings_for

pytestmark = needs_tools("age", "age-keygen", "shamir")

POLICY = {"interval": "10d", "reminders": ["1d"], "grace": "2d", "timezone": "UTC",
          "stages": [{"name": "staff", "after": "0d", "audience": ["ana@example.org", "bruno@example.org"],
                      "action": "release"},
                     {"name": "family", "after": "1d", "audience": ["carla@example.org"], "action": "release"},
                     {"name": "tell", "after": "2d", "audience": ["owner"], "action": "notify"}]}


@dataclass
class Pair:
    primary: Runtime
    witness: Runtime
    client: TestClient
    owner_id: int
    life: Life
    linking: Linking
    watcher: Witness
    url: str
    clock: FakeClock
    tmp: Path


@pytest.fixture
def pair(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Pair]:
    other = "postgres" if db_url.startswith("sqlite") else "sqlite"
    (tmp_path / "w").mkdir()
    with scratch_database(other, tmp_path / "w") as witness_url:
        primary = build(settings_for(db_url, data_dir=tmp_path / "primary", outbound_allow=["127.0.0.0/8"],
                                     witness_min_free_bytes=0), clock=clock)
        witness = build(settings_for(witness_url, data_dir=tmp_path / "witness", base_url="http://witness.test",
                                     witness_min_free_bytes=0, witness_watch_seconds=3600,
                                     witness_heartbeat_seconds=3600), clock=clock)
        try:
            made = primary.service.create_owner("owner@example.org", "correct horse battery", "UTC", policy=POLICY)
            with TestClient(create_app(primary.service), base_url=primary.settings.base_url) as client:
                client.headers["Authorization"] = f"Bearer {made.api_token}"
                life = make_vault(client, tmp_path, lambda who: enrol_url(primary.engine, primary.service.key, who),
                                  made.api_token)
                with live_server(create_app(witness.service)) as url:
                    yield Pair(primary, witness, client, made.owner.id, life, Linking(primary.service),
                               Witness(witness.service), url, clock, tmp_path)
        finally:
            primary.engine.dispose()
            witness.engine.dispose()


def link(p: Pair, silence: str = "1d") -> dict[str, Any]:
    with p.witness.engine.begin() as conn:
        code = make_code(conn, p.clock.now())
    return p.linking.add(p.owner_id, p.url, code, p.witness.service.signer.public_hex, silence)


def mirror_owner(p: Pair) -> int:
    with p.witness.engine.connect() as conn:
        return int(conn.execute(select(witnessed.c.owner_id)).scalar_one())


def mails(rt: Runtime, purpose: str) -> list[Any]:
    with rt.engine.connect() as conn:
        return conn.execute(select(outbox.c.recipient, outbox.c.subject, outbox.c.body_text)
                            .where(outbox.c.purpose == purpose).order_by(outbox.c.id)).all()


def dump(rt: Runtime) -> str:
    with rt.engine.connect() as conn:
        return "\n".join(repr(row) for table in tables() for row in conn.execute(select(table)))


def test_a_linked_witness_holds_what_a_release_needs_and_no_secret(pair: Pair) -> None:
    """After linking, the witness holds the people, the compartment and the sealed shares — and none of the
    life's secrets: not the registrar password, the passphrase, the owner's password or token, any key."""
    linked = link(pair)
    assert linked["synced_version"] is not None and linked["problem"] is None
    with pair.witness.engine.connect() as conn:
        kinds = {r.kind for r in conn.execute(select(audit_entries.c.kind))}
    assert {"witness.paired", "witness.synced"} <= kinds
    primary_secrets = [bytes(pair.primary.service.signer.key).hex(),
                       (pair.primary.settings.data_dir / "deployment.key").read_text().strip()]
    secrets = pair.life.secrets + primary_secrets
    assert len(secrets) == 9
    assert holds_none(secrets, dump(pair.witness), pair.witness.settings.data_dir) == []


def test_the_witness_takes_over_at_the_policy_moment_and_its_release_opens_with_age_and_shamir(pair: Pair) -> None:
    """The primary falls silent: nothing before its fire moment; then the owner is told on the witness, given
    the whole grace again, and the witness fires; ana and bruno's packages open with the terminal path."""
    link(pair, silence="1d")
    watcher, worker = pair.watcher, pair.witness.worker(senders={})
    fire = pair.clock.now() + timedelta(days=12)  # the primary's own fire moment: 10d + 2d grace
    pair.clock.set(fire - timedelta(seconds=1))
    assert watcher.watch() == 0
    worker.run_switches()
    assert mails(pair.witness, "witness") == []
    pair.clock.set(fire)
    assert watcher.watch() == 1
    [alert] = mails(pair.witness, "witness")
    assert alert.recipient == "owner@example.org" and "silent" in alert.subject
    assert re.search(r"http://witness.test/l/", stored_links.expand(pair.witness.service.key, alert.body_text))
    pair.clock.set(fire + timedelta(days=2) - timedelta(seconds=1))
    worker.run_switches()
    assert mails(pair.witness, "release") == []
    pair.clock.set(fire + timedelta(days=2))
    worker.run_switches()
    released = mails(pair.witness, "release")
    assert sorted(m.recipient for m in released) == ["ana@example.org", "bruno@example.org"]
    assert worker.build_packages() == 2
    witness_client = TestClient(create_app(pair.witness.service), base_url=pair.witness.settings.base_url)
    folders = {}
    for mail in released:
        url = re.findall(r"http://\S+/d/\S+", stored_links.expand(pair.witness.service.key, mail.body_text))[0]
        got = witness_client.post(url.replace(pair.witness.settings.base_url, ""))
        assert got.status_code == 200, got.text
        holder = mail.recipient.split("@")[0]
        folders[holder] = unzip(got.content, pair.tmp / "downloads" / holder)
    witness_client.close()
    from witness_support import PASSWORD
    assert open_with_terminal(folders, pair.life.identities) == PASSWORD


def test_a_check_in_at_the_witness_stops_it_and_the_primary_takes_it_in(pair: Pair) -> None:
    """Primary silent, the witness takes over; the owner checks in there: nothing fires; the primary, back,
    hears it, shows the check-in and re-arms; the witness hands the switch back."""
    link(pair, silence="1d")
    fire = pair.clock.now() + timedelta(days=12)
    pair.clock.set(fire)
    assert pair.watcher.watch() == 1
    [alert] = mails(pair.witness, "witness")
    url = re.findall(r"http://\S+/l/\S+", stored_links.expand(pair.witness.service.key, alert.body_text))[0]
    pair.clock.advance(hours=1)
    pair.witness.service.check_in_by_link(url.rsplit("/", 1)[1])
    pair.clock.advance(days=5)
    pair.witness.worker(senders={}).run_switches()
    assert mails(pair.witness, "release") == []
    assert pair.linking.push_all() == 1  # the primary is back
    status = pair.primary.service.status(pair.owner_id).to_dict()
    assert status["status"] == "armed"
    assert status["last_checkin"].startswith((fire + timedelta(hours=1)).date().isoformat())
    assert any("witness" in t["reason"] for t in pair.primary.service.timeline(pair.owner_id))
    assert pair.linking.push_all() == 1  # the witness sees the primary took it in: dormant again
    with pair.witness.engine.connect() as conn:
        assert conn.execute(select(witnessed.c.taken_over_at)).scalar() is None
    pair.primary.worker(senders={}).run_switches()
    assert mails(pair.primary, "release") == []


def test_after_the_primary_ran_stage_one_the_witness_runs_stages_two_and_three_only(pair: Pair) -> None:
    """The primary fires and runs 'staff', reports it, dies: the witness runs 'family' and 'tell', each once."""
    link(pair, silence="1d")
    pair.clock.advance(days=12)
    pair.primary.worker(senders={}).run_switches()
    assert sorted(m.recipient for m in mails(pair.primary, "release")) == ["ana@example.org", "bruno@example.org"]
    assert pair.linking.push_all() == 1  # the last heartbeat: fired, one stage run
    pair.clock.advance(days=1)  # silence over; 'family' due at +1d
    assert pair.watcher.watch() == 1
    worker = pair.witness.worker(senders={})
    worker.run_switches()
    pair.clock.advance(days=2)
    worker.run_switches()
    worker.run_switches()
    assert [m.recipient for m in mails(pair.witness, "release")] == ["carla@example.org"]
    assert [m.recipient for m in mails(pair.witness, "stage")] == ["owner@example.org"]


def test_a_forged_or_replayed_heartbeat_is_refused_and_audited(pair: Pair) -> None:
    """A heartbeat signed by another key, and one sent again, are refused; each refusal is in the audit log."""
    import httpx
    from nacl.signing import SigningKey

    from baton.services.witness import wire
    from baton.store.signing import DeploymentSigner, Ed25519Signer
    link(pair)
    state = pair.primary.service.status(pair.owner_id)
    assert state is not None
    body = {"version": 99, "state": {}}
    other = DeploymentSigner(Ed25519Signer(SigningKey.generate()), pair.primary.service.key)
    forged = wire.seal(other, "heartbeat", pair.owner_id, 1000, pair.clock.now(), body)
    forged["from"] = pair.primary.service.signer.public_hex  # claims to be the primary
    answer = httpx.post(f"{pair.url}/witness/heartbeat", json=forged)
    assert answer.status_code == 401 and "signature does not match" in answer.json()["detail"]
    from sqlalchemy import func

    from baton.store.tables import witness_links
    with pair.primary.engine.connect() as conn:
        seq = conn.execute(select(func.max(witness_links.c.seq))).scalar_one()
    replayed = wire.seal(pair.primary.service.signer, "heartbeat", pair.owner_id, seq, pair.clock.now(), body)
    answer = httpx.post(f"{pair.url}/witness/heartbeat", json=replayed)
    assert answer.status_code == 409 and "a replay" in answer.json()["detail"]
    with pair.witness.engine.connect() as conn:
        refused = [r.data for r in conn.execute(select(audit_entries.c.data)
                                                .where(audit_entries.c.kind == "witness.refused"))]
    assert [r["kind"] for r in refused] == ["heartbeat", "heartbeat"]
    assert "signature" in refused[0]["why"] and "replay" in refused[1]["why"]


def test_a_wrong_code_a_changed_key_or_an_address_that_does_not_answer_links_nothing(pair: Pair) -> None:
    """Each bad input is refused with what was expected, and nothing is linked on either side."""
    from baton.errors import BadRequest, Conflict
    key = pair.witness.service.signer.public_hex
    with pytest.raises(BadRequest) as wrong:
        pair.linking.add(pair.owner_id, pair.url, "000000-000000-000000", key, "1d")
    assert str(wrong.value) == ("the witness refused to pair: pairing code: expected a code this witness's operator "
                                "made (unused, under a day old), got one it does not know; nothing linked")
    with pair.witness.engine.begin() as conn:
        code = make_code(conn, pair.clock.now())
    with pytest.raises(Conflict) as changed:
        pair.linking.add(pair.owner_id, pair.url, code, "ab" * 32, "1d")
    assert f"signs with {key[:16]}…, not the key abababababababab… you compared" in str(changed.value)
    with pytest.raises(BadRequest) as silent:
        pair.linking.add(pair.owner_id, "http://127.0.0.1:9", code, key, "1d")
    assert str(silent.value).startswith("expected a Baton witness at 127.0.0.1:9, but it did not answer as one")
    assert pair.linking.listed(pair.owner_id) == []
    with pair.witness.engine.connect() as conn:
        assert conn.execute(select(witnessed.c.id)).first() is None


def test_a_witness_out_of_disk_refuses_new_versions_and_readiness_says_so(pair: Pair) -> None:
    """A witness short of disk refuses the version (HTTP 507) and says why; the primary flags it in readiness."""
    link(pair)
    pair.witness.service.settings.witness_min_free_bytes = 10**18
    pair.client.post("/api/people", json={"name": "dora", "display_name": "Dora", "email": "dora@example.org",
                                          "role": "heir"}).raise_for_status()
    assert pair.linking.push_all() == 0
    [seen] = pair.linking.listed(pair.owner_id)
    assert seen["problem"].startswith("refuses new versions: out of disk:")
    findings = pair.client.get("/api/readiness").json()["findings"]
    assert any(f["kind"] == "witness" and "out of disk" in f["what"] for f in findings)
    with pair.witness.engine.connect() as conn:
        kinds = [r.data.get("why", "") for r in conn.execute(select(audit_entries.c.data)
                                                             .where(audit_entries.c.kind == "witness.refused"))]
    assert any("out of disk" in k for k in kinds)
