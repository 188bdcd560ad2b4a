"""Two witnesses beside a primary, in one process with one fake clock: the primary on each database (SQLite and
PostgreSQL), the first witness on the other, the second on the primary's kind (its own database), each witness
served on the loopback. The takeover claims the witnesses exchange (the first to claim acts, the other learns
it and yields, audited), a forged claim refused and audited, a sibling that does not answer not holding the
release back, and the messages of a stage held until the witnesses heard it (a crash between the commit and
the push delivers nothing, so the witness's stage is the only one)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from baton.http.app import create_app
from baton.jobs.outbox import Channel
from baton.runtime import Runtime, build
from baton.services.wakeup import advance_batch
from baton.services.witness import hold
from baton.services.witness.linking import Linking
from baton.services.witness.watching import Witness, make_code
from baton.store.tables import audit_entries, outbox, witness_claims, witness_links, witnessed
from baton.testing import FakeClock, RecordingSender
from tests_support import live_server, scratch_database, settings_for

POLICY = {"interval": "10d", "reminders": ["1d"], "grace": "2d", "timezone": "UTC",
          "stages": [{"name": "staff", "after": "0d", "audience": ["ana@example.org", "bruno@example.org"],
                      "action": "notify"},
                     {"name": "family", "after": "1d", "audience": ["carla@example.org"], "action": "notify"}]}
FIRE = timedelta(days=12)  # the primary's own fire moment from its arming: 10d + 2d grace


@dataclass
class Trio:
    primary: Runtime
    witnesses: list[Runtime]  # by rank
    urls: list[str]
    owner_id: int
    linking: Linking
    watchers: list[Witness]
    clock: FakeClock


@pytest.fixture
def trio(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Trio]:
    other = "postgres" if db_url.startswith("sqlite") else "sqlite"
    same = "sqlite" if db_url.startswith("sqlite") else "postgres"
    (tmp_path / "w0").mkdir()
    (tmp_path / "w1").mkdir()
    with scratch_database(other, tmp_path / "w0") as url0, scratch_database(same, tmp_path / "w1") as url1:
        primary = build(settings_for(db_url, data_dir=tmp_path / "primary", outbound_allow=["127.0.0.0/8"],
                                     witness_min_free_bytes=0, witness_timeout=2.0), clock=clock)
        witnesses = [build(settings_for(url, data_dir=tmp_path / f"witness{i}", base_url=f"http://witness{i}.test",
                                        witness_min_free_bytes=0, witness_watch_seconds=3600,
                                        witness_heartbeat_seconds=3600, outbound_allow=["127.0.0.0/8"],
                                        witness_timeout=2.0), clock=clock)
                     for i, url in enumerate((url0, url1))]
        try:
            made = primary.service.create_owner("owner@example.org", "correct horse battery", "UTC", policy=POLICY)
            with live_server(create_app(witnesses[0].service)) as first, \
                    live_server(create_app(witnesses[1].service)) as second:
                trio = Trio(primary, witnesses, [first, second], made.owner.id, Linking(primary.service),
                            [Witness(w.service) for w in witnesses], clock)
                for rank in range(2):
                    with witnesses[rank].engine.begin() as conn:
                        code = make_code(conn, clock.now())
                    trio.linking.add(made.owner.id, trio.urls[rank], code, witnesses[rank].service.signer.public_hex,
                                     "1d")
                assert trio.linking.push_all() == 2  # each witness now knows its sibling
                yield trio
        finally:
            primary.engine.dispose()
            for w in witnesses:
                w.engine.dispose()


def kinds(rt: Runtime) -> list[str]:
    with rt.engine.connect() as conn:
        return [r.kind for r in conn.execute(select(audit_entries.c.kind).order_by(audit_entries.c.id))]


def audited(rt: Runtime, kind: str) -> list[dict[str, Any]]:
    with rt.engine.connect() as conn:
        return [dict(r.data) for r in conn.execute(select(audit_entries.c.data).where(audit_entries.c.kind == kind)
                                                   .order_by(audit_entries.c.id))]


def taken_over(rt: Runtime) -> bool:
    with rt.engine.connect() as conn:
        return conn.execute(select(witnessed.c.taken_over_at)).scalar() is not None


def mails(rt: Runtime, purpose: str) -> list[str]:
    with rt.engine.connect() as conn:
        return [r.recipient for r in conn.execute(select(outbox.c.recipient).where(outbox.c.purpose == purpose)
                                                  .order_by(outbox.c.id))]


def test_each_witness_is_told_its_sibling_by_the_primary(trio: Trio) -> None:
    """The heartbeat names the other witness (address, key, rank): what a claim is checked against."""
    for rank, rt in enumerate(trio.witnesses):
        with rt.engine.connect() as conn:
            [sibling] = conn.execute(select(witnessed.c.siblings)).scalar_one()
        other = 1 - rank
        assert sibling == {"url": trio.urls[other], "key": trio.witnesses[other].service.signer.public_hex,
                           "rank": other}


def test_the_first_witness_claims_tells_its_sibling_and_the_sibling_yields(trio: Trio) -> None:
    """The primary silent past its fire moment: the first witness asks, claims, tells, then takes over; the
    second learned the claim before its own turn, yields (audited once) and never alerts or fires."""
    trio.clock.set(trio.clock.now() + FIRE)
    assert trio.watchers[0].watch() == 1
    assert taken_over(trio.witnesses[0])
    assert {"witness.claimed", "witness.took_over"} <= set(kinds(trio.witnesses[0]))
    [learned] = audited(trio.witnesses[1], "witness.claim_learned")
    assert learned["witness"] == trio.urls[0].removeprefix("http://") and learned["rank"] == 0
    trio.clock.advance(days=3)  # past the second witness's own moment (one silence later) and the first's fire
    assert trio.watchers[1].watch() == 0
    assert trio.watchers[1].watch() == 0
    [yielded] = audited(trio.witnesses[1], "witness.yielded")
    assert "claimed the takeover" in yielded["reason"]
    assert not taken_over(trio.witnesses[1]) and "witness.claimed" not in kinds(trio.witnesses[1])
    for rank in (0, 1):
        trio.witnesses[rank].worker(senders={}).run_switches()
    assert mails(trio.witnesses[0], "witness") == ["owner@example.org"]
    assert sorted(mails(trio.witnesses[0], "stage")) == ["ana@example.org", "bruno@example.org", "carla@example.org"]
    assert mails(trio.witnesses[1], "witness") == [] and mails(trio.witnesses[1], "stage") == []


def test_a_witness_that_learns_a_held_claim_when_it_asks_yields_before_claiming(trio: Trio) -> None:
    """The second witness missed the first's claim (it was told while unreachable): asking first, it learns
    the claim (held) and yields without making one of its own."""
    trio.clock.set(trio.clock.now() + FIRE)
    with trio.witnesses[1].engine.begin() as conn:  # the second witness unreachable for the first's tell
        real = conn.execute(select(witnessed.c.siblings)).scalar_one()
    with trio.witnesses[0].engine.begin() as conn:
        siblings = conn.execute(select(witnessed.c.siblings)).scalar_one()
        conn.execute(update(witnessed).values(siblings=[{**siblings[0], "url": "http://127.0.0.1:9"}]))
    assert trio.watchers[0].watch() == 1
    assert [d["phase"] for d in audited(trio.witnesses[0], "witness.sibling_unreachable")] == ["ask", "tell"]
    assert audited(trio.witnesses[1], "witness.claim_learned") == [] and real
    trio.clock.advance(days=2)
    assert trio.watchers[1].watch() == 0
    [learned] = audited(trio.witnesses[1], "witness.claim_learned")
    assert learned["held"] is True
    assert "witness.claimed" not in kinds(trio.witnesses[1]) and audited(trio.witnesses[1], "witness.yielded")


def test_two_witnesses_claiming_at_once_both_learn_both_and_the_first_rank_acts(trio: Trio) -> None:
    """The first witness recorded its claim but has not told anyone yet when the second asks: the second
    learns it from the answer and yields; the first then goes on and acts. Exactly one takes over."""
    trio.clock.set(trio.clock.now() + FIRE + timedelta(days=1))  # both witnesses' moments have come
    from baton.services.witness.claims import Claims
    first = trio.witnesses[0]
    with first.engine.begin() as conn:
        link = conn.execute(select(witnessed)).one()
        Claims(first.service).record_own(conn, link, int(link.reported["version"]), trio.clock.now())
    assert trio.watchers[1].watch() == 0
    assert audited(trio.witnesses[1], "witness.yielded")
    assert trio.watchers[0].watch() == 1
    assert taken_over(first) and not taken_over(trio.witnesses[1])


def test_a_claim_signed_by_a_key_the_primary_did_not_name_is_refused_and_audited(trio: Trio) -> None:
    """A claim for the switch, well signed but by a stranger's key, is refused (401) and audited; the witness
    still takes over at its moment as if it had never come."""
    from nacl.signing import SigningKey

    from baton.services.witness import wire
    from baton.store.signing import DeploymentSigner, Ed25519Signer
    stranger = DeploymentSigner(Ed25519Signer(SigningKey.generate()), trio.primary.service.key)
    with trio.witnesses[0].engine.connect() as conn:
        link = conn.execute(select(witnessed)).one()
    forged = wire.seal(stranger, "claim", link.remote_owner, 99, trio.clock.now(),
                       {"primary": link.primary_public, "version": 99, "rank": 0, "at": trio.clock.now().isoformat()})
    answer = httpx.post(f"{trio.urls[0]}/witness/claims", json=forged)
    assert answer.status_code == 401 and "a witness the primary named" in answer.json()["detail"]
    [refused] = audited(trio.witnesses[0], "witness.refused")
    assert refused["kind"] == "claim" and refused["from"] == stranger.public_hex
    with trio.witnesses[0].engine.connect() as conn:
        assert conn.execute(select(witness_claims.c.id)).first() is None
    tampered = wire.seal(trio.witnesses[1].service.signer, "claim", link.remote_owner, 99, trio.clock.now(),
                         {"primary": link.primary_public, "version": 99, "rank": 1, "at": trio.clock.now().isoformat()})
    tampered["body"]["rank"] = 0  # changed after signing
    answer = httpx.post(f"{trio.urls[0]}/witness/claims", json=tampered)
    assert answer.status_code == 401 and "signature does not match" in answer.json()["detail"]
    assert len(audited(trio.witnesses[0], "witness.refused")) == 2
    trio.clock.set(trio.clock.now() + FIRE)
    assert trio.watchers[0].watch() == 1


def test_a_sibling_that_does_not_answer_does_not_hold_the_release_back(trio: Trio) -> None:
    """The primary names a second witness whose address no longer answers: the first asks, claims, tells
    (each failure audited) and takes over at its moment, not one second later for waiting."""
    with trio.primary.engine.begin() as conn:
        conn.execute(update(witness_links).where(witness_links.c.rank == 1).values(url="http://127.0.0.1:9"))
    trio.linking.push_all()  # the first witness hears of the dead address
    trio.clock.set(trio.clock.now() + FIRE - timedelta(seconds=1))
    assert trio.watchers[0].watch() == 0
    trio.clock.advance(seconds=1)
    assert trio.watchers[0].watch() == 1
    failures = audited(trio.witnesses[0], "witness.sibling_unreachable")
    assert [f["phase"] for f in failures] == ["ask", "tell"] and all("did not answer" in f["why"] for f in failures)
    [took] = audited(trio.witnesses[0], "witness.took_over")
    assert took["siblings"] == 1


def reported_stages(rt: Runtime) -> int:
    with rt.engine.connect() as conn:
        return int(conn.execute(select(witnessed.c.reported)).scalar_one()["state"]["stages_run"])


def test_the_witnesses_hear_a_stage_before_its_messages_can_go(trio: Trio) -> None:
    """The primary fires and runs 'staff': by the time a sender could take its messages, both witnesses have
    heard stages_run = 1; after the primary dies they run only 'family'."""
    trio.clock.set(trio.clock.now() + FIRE)
    seen: list[tuple[int, int]] = []

    class Checking(RecordingSender):
        def send(self, message: Any) -> None:
            seen.append((reported_stages(trio.witnesses[0]), reported_stages(trio.witnesses[1])))
            super().send(message)

    sender = Checking()
    worker = trio.primary.worker(senders={Channel.EMAIL: sender})
    worker.run_switches()
    assert worker.deliver() >= 2
    assert sorted(m.recipient for m in sender.sent if m.purpose == "stage") == ["ana@example.org", "bruno@example.org"]
    assert seen and all(pair == (1, 1) for pair in seen)
    trio.clock.advance(days=1)
    assert trio.watchers[0].watch() == 1
    trio.witnesses[0].worker(senders={}).run_switches()
    assert mails(trio.witnesses[0], "stage") == ["carla@example.org"]


def test_a_primary_that_dies_between_the_commit_and_the_push_delivered_nothing(trio: Trio) -> None:
    """The stage committed, the process dies before telling its witnesses: its messages are held, so nothing
    goes out; the witness, which never heard the stage, runs it — each holder gets it once, from the witness."""
    trio.clock.set(trio.clock.now() + FIRE)
    assert advance_batch(trio.primary.service, 100) is not None  # committed; the push never happens
    assert hold.take_pending(trio.primary.service) == {trio.owner_id}  # ... the process is gone
    with trio.primary.engine.connect() as conn:
        held = conn.execute(select(outbox.c.recipient, outbox.c.claimed_by).where(outbox.c.purpose == "stage")).all()
    assert sorted(r.recipient for r in held) == ["ana@example.org", "bruno@example.org"]
    assert {r.claimed_by for r in held} == {hold.HOLDER}
    sender = RecordingSender()
    assert trio.primary.worker(senders={Channel.EMAIL: sender}).deliver() == 0 and sender.sent == []
    assert reported_stages(trio.witnesses[0]) == 0
    trio.clock.advance(days=1)
    assert trio.watchers[0].watch() == 1
    worker = trio.witnesses[0].worker(senders={})
    trio.clock.advance(days=2)  # the witness gives the unheard grace again, then fires: 'staff'
    worker.run_switches()
    assert sorted(mails(trio.witnesses[0], "stage")) == ["ana@example.org", "bruno@example.org"]
    trio.clock.advance(days=1)  # 'family'
    worker.run_switches()
    assert sorted(mails(trio.witnesses[0], "stage")) == ["ana@example.org", "bruno@example.org", "carla@example.org"]


def test_a_switch_without_witnesses_holds_nothing_and_pushes_nothing(runtime: Runtime, clock: FakeClock) -> None:
    """The mass wake-up path: a switch with no witness fires with its messages free at once, and nothing waits
    for a push (no HTTP call, no held row)."""
    made = runtime.service.create_owner("solo@example.org", "correct horse battery", "UTC", policy=POLICY)
    clock.set(clock.now() + FIRE)
    assert advance_batch(runtime.service, 100) is not None
    assert runtime.service.witness_pending == set()
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.claimed_by).where(outbox.c.owner_id == made.owner.id,
                                                              outbox.c.purpose == "stage")).all()
    assert len(rows) == 2 and {r.claimed_by for r in rows} == {None}


def test_a_dead_witness_costs_a_batch_one_timeout_not_one_per_switch(runtime: Runtime, clock: FakeClock,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Two owners linked to one witness that does not answer fire in one batch: the push after the batch tries
    that witness once, records the problem on both links, and lets both owners' messages go."""
    from baton.services.witness import linking as linking_module
    from baton.services.witness import transport
    calls: list[str] = []

    def silent(_settings: Any, url: str, _data: Any) -> Any:
        calls.append(url)
        raise transport.WitnessUnreachable("the witness at 127.0.0.1:9 did not answer (ConnectTimeout)")

    monkeypatch.setattr(transport, "post", silent)
    owners = [runtime.service.create_owner(f"o{i}@example.org", "correct horse battery", "UTC", policy=POLICY)
              for i in range(2)]
    with runtime.engine.begin() as conn:
        for made in owners:
            conn.execute(witness_links.insert().values(owner_id=made.owner.id, url="http://127.0.0.1:9",
                                                       witness_public="ab" * 32, remote_id=1, rank=0,
                                                       silence_seconds=86400, seq=1, created_at=clock.now()))
    clock.set(clock.now() + FIRE)
    assert advance_batch(runtime.service, 100) is not None
    with runtime.engine.connect() as conn:
        assert {r.claimed_by for r in conn.execute(select(outbox.c.claimed_by).where(outbox.c.purpose == "stage"))} \
            == {hold.HOLDER}
    assert linking_module.push_pending(runtime.service) == 2
    assert calls == ["http://127.0.0.1:9/witness/heartbeat"]
    with runtime.engine.connect() as conn:
        stage = conn.execute(select(outbox.c.claimed_by).where(outbox.c.purpose == "stage")).all()
        problems = [r.problem for r in conn.execute(select(witness_links.c.problem).order_by(witness_links.c.id))]
    assert len(stage) == 4 and {r.claimed_by for r in stage} == {None}
    assert problems[0].endswith("(ConnectTimeout)") and problems[1].endswith("did not answer earlier in this round")


def _third_witness(trio: Trio) -> Any:
    """A third sibling the primary named (a signer only; its address does not answer), told to both witnesses."""
    from nacl.signing import SigningKey

    from baton.store.signing import DeploymentSigner, Ed25519Signer
    third = DeploymentSigner(Ed25519Signer(SigningKey.generate()), trio.primary.service.key)
    for w in trio.witnesses:
        with w.engine.begin() as conn:
            link = conn.execute(select(witnessed)).one()
            siblings = [*link.siblings, {"url": "http://127.0.0.1:9", "key": third.public_hex, "rank": 2}]
            conn.execute(update(witnessed).where(witnessed.c.id == link.id).values(siblings=siblings))
    return third


def test_a_claim_is_passed_on_to_a_sibling_that_cannot_reach_its_maker(trio: Trio) -> None:
    """Three witnesses: the third claimed and told the second only (the first cannot reach it). When the first's
    moment comes it asks the second, whose answer passes the third's signed claim on: the first yields."""
    from baton.services.witness import wire
    third = _third_witness(trio)
    trio.clock.set(trio.clock.now() + FIRE + timedelta(days=1))
    now = trio.clock.now()
    with trio.witnesses[1].engine.connect() as conn:
        link = conn.execute(select(witnessed)).one()
    claim = wire.seal(third, "claim", link.remote_owner, 1, now, {"primary": link.primary_public, "rank": 2,
                                                                  "version": int(link.reported["version"]),
                                                                  "at": now.isoformat()})
    assert httpx.post(f"{trio.urls[1]}/witness/claims", json=claim).status_code == 200
    assert trio.watchers[0].watch() == 0
    assert not taken_over(trio.witnesses[0])
    learned = audited(trio.witnesses[0], "witness.claim_learned")
    assert [c["witness"] for c in learned] == ["127.0.0.1:9"] and learned[0]["rank"] == 2
    [yielded] = audited(trio.witnesses[0], "witness.yielded")
    assert third.public_hex[:16] in yielded["reason"]


def test_a_claim_passed_on_by_a_key_the_primary_did_not_name_counts_for_nothing(trio: Trio) -> None:
    """The second witness passes on a claim signed by a key the first was never told of: refused, audited, and
    the first takes over at its moment."""
    from baton.services.witness import wire
    third = _third_witness(trio)
    with trio.witnesses[0].engine.begin() as conn:  # the first was never told of the third
        link = conn.execute(select(witnessed)).one()
        conn.execute(update(witnessed).where(witnessed.c.id == link.id).values(siblings=link.siblings[:1]))
    trio.clock.set(trio.clock.now() + FIRE + timedelta(days=1))
    now = trio.clock.now()
    claim = wire.seal(third, "claim", link.remote_owner, 1, now, {"primary": link.primary_public, "rank": 2,
                                                                  "version": int(link.reported["version"]),
                                                                  "at": now.isoformat()})
    assert httpx.post(f"{trio.urls[1]}/witness/claims", json=claim).status_code == 200
    assert trio.watchers[0].watch() == 1
    refused = [r for r in audited(trio.witnesses[0], "witness.refused") if r.get("via")]
    assert refused and refused[0]["from"] == third.public_hex and "did not name" in refused[0]["why"]


def test_a_claim_dated_ahead_of_the_witness_clock_is_refused(trio: Trio) -> None:
    """A sibling's claim dated an hour ahead (it would count from then on, whatever the primary says until
    then): refused with what was expected, and audited."""
    from baton.services.witness import wire
    with trio.witnesses[0].engine.connect() as conn:
        link = conn.execute(select(witnessed)).one()
    ahead = trio.clock.now() + timedelta(hours=1)
    claim = wire.seal(trio.witnesses[1].service.signer, "claim", link.remote_owner, 5, trio.clock.now(),
                      {"primary": link.primary_public, "version": 1, "rank": 1, "at": ahead.isoformat()})
    answer = httpx.post(f"{trio.urls[0]}/witness/claims", json=claim)
    assert answer.status_code == 401 and "at most 0:10:00 ahead" in answer.json()["detail"]
    assert audited(trio.witnesses[0], "witness.refused")[-1]["kind"] == "claim"
    with trio.witnesses[0].engine.connect() as conn:
        assert conn.execute(select(witness_claims.c.id)).first() is None
