"""The audit chain, signed with a real Ed25519 key: a built chain verifies, and each tampering is named."""

from __future__ import annotations

from dataclasses import replace

import pytest
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from switch import AuditEntry, ChainProblem, next_entry, parse_scenario, simulate, verify_chain
from switch.audit import entry_hash

OWNER = "owner-7f3a"
SCENARIO = {
    "start": "2026-01-01T09:00:00Z",
    "until": "2026-03-01T00:00:00Z",
    "policy": {"interval": "14d", "reminders": ["2d"], "grace": "3d",
               "stages": [{"name": "staff", "after": "0d"}, {"name": "family", "after": "7d"}]},
    "events": [{"at": "2026-01-10T09:00:00Z", "type": "checkin"}],
}


class NaclSigner:
    """Signs with a PyNaCl Ed25519 key, as the service does."""

    def __init__(self, key: SigningKey) -> None:
        self._key = key

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message).signature


class NaclCheck:
    """Checks signatures with the matching PyNaCl verify key, as anyone can offline."""

    def __init__(self, key: VerifyKey) -> None:
        self._key = key

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(message, signature)
        except BadSignatureError:
            return False
        return True


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def check(key: SigningKey) -> NaclCheck:
    return NaclCheck(key.verify_key)


@pytest.fixture(scope="module")
def chain(key: SigningKey) -> list[AuditEntry]:
    """The signed log of a simulated switch: check-in, reminders, deadline, fire, stages."""
    signer = NaclSigner(key)
    entries: list[AuditEntry] = []
    for event in simulate(parse_scenario(SCENARIO)):
        last = (entries[-1].seq, entries[-1].hash) if entries else None
        entries.append(next_entry(OWNER, last, event.at, str(event.kind), event.to_dict(), signer))
    return entries


def head(entries: list[AuditEntry]) -> tuple[int, str]:
    return entries[-1].seq, entries[-1].hash


def problem(entries: list[AuditEntry], check: NaclCheck, recorded: tuple[int, str] | None = None) -> str | None:
    found = verify_chain(OWNER, entries, check, head=recorded)
    return None if found is None else str(found)


def test_the_chain_is_the_switch_timeline_in_order(chain: list[AuditEntry]) -> None:
    """Each event of the timeline became one entry, numbered from 1, each chained from the one before."""
    assert [(e.seq, e.kind) for e in chain] == [
        (1, "checkin"), (2, "reminder"), (3, "deadline"), (4, "fired"), (5, "stage"), (6, "stage")]
    assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:], strict=False))


def test_a_built_chain_verifies(chain: list[AuditEntry], check: NaclCheck) -> None:
    """An untouched chain has no problem, with or without the recorded head."""
    assert problem(chain, check) is None
    assert problem(chain, check, head(chain)) is None


def test_altering_an_entrys_data_is_detected(chain: list[AuditEntry], check: NaclCheck) -> None:
    """Changing what an entry says breaks its hash."""
    forged = list(chain)
    forged[3] = replace(chain[3], data={**chain[3].data, "reason": "the owner asked for it"})

    assert problem(forged, check, head(chain)) == "entry 4: altered: its content does not match its hash"


def test_altering_an_entry_and_rehashing_it_is_detected_by_its_signature(
        chain: list[AuditEntry], check: NaclCheck) -> None:
    """Whoever lacks the service's key cannot re-sign a rehashed entry."""
    data = {**chain[3].data, "reason": "the owner asked for it"}
    forged = list(chain)
    forged[3] = replace(chain[3], data=data,
                        hash=entry_hash(chain[3].prev_hash, 4, chain[3].at, chain[3].kind, data))

    assert problem(forged, check, head(chain)) == "entry 4: altered: its signature does not verify"


def test_a_chain_signed_by_another_key_is_detected(chain: list[AuditEntry]) -> None:
    """The service's public key, not any key, vouches for the entries."""
    stranger = NaclCheck(SigningKey.generate().verify_key)

    assert problem(chain, stranger) == "entry 1: altered: its signature does not verify"


def test_another_owners_chain_does_not_pass_for_this_owners(chain: list[AuditEntry], check: NaclCheck) -> None:
    """The first entry chains from a genesis bound to the owner."""
    found = verify_chain("someone-else", chain, check)

    assert str(found) == "entry 1: altered or reordered: it does not chain from the entry before"


def test_removing_an_entry_in_the_middle_is_detected(chain: list[AuditEntry], check: NaclCheck) -> None:
    """A gap in the numbering names the missing entry."""
    forged = chain[:2] + chain[3:]

    assert problem(forged, check, head(chain)) == "entry 3: removed: the chain jumps from entry 2 to entry 4"


def test_removing_the_first_entry_is_detected(chain: list[AuditEntry], check: NaclCheck) -> None:
    """The chain must start at entry 1."""
    assert problem(chain[1:], check) == "entry 1: removed: the chain starts at entry 2"


def test_removing_the_tail_is_detected_given_the_recorded_head(chain: list[AuditEntry], check: NaclCheck) -> None:
    """The recorded head says how many entries there were; a shorter chain names the first missing one."""
    assert problem(chain[:-2], check, head(chain)) == (
        "entry 5: removed: the chain ends at entry 4 but the service recorded 6 entries")


def test_without_the_recorded_head_a_removed_tail_goes_unseen(chain: list[AuditEntry], check: NaclCheck) -> None:
    """This is why release packages carry the head: a prefix of a chain is a valid chain."""
    assert problem(chain[:-2], check) is None


def test_a_head_that_does_not_match_the_last_entry_is_detected(chain: list[AuditEntry], check: NaclCheck) -> None:
    """The same count with a different last hash means the last entry is not the one recorded."""
    assert problem(chain, check, (6, "0" * 64)) == "entry 6: altered: the last entry does not match the recorded head"


@pytest.mark.parametrize(("first", "second", "message"), [
    (1, 2, "entry 3: reordered: found where entry 2 belongs"),
    (1, 4, "entry 5: reordered: found where entry 2 belongs"),
    (0, 5, "entry 6: reordered: found where entry 1 belongs"),
], ids=["adjacent", "apart", "first-and-last"])
def test_swapping_two_entries_is_detected(
        chain: list[AuditEntry], check: NaclCheck, first: int, second: int, message: str) -> None:
    """Two entries in each other's place: the first one out of place is named with where it was found."""
    forged = list(chain)
    forged[first], forged[second] = chain[second], chain[first]

    assert problem(forged, check, head(chain)) == message


def test_a_chain_problem_reads_as_entry_and_problem() -> None:
    """ChainProblem prints as `entry N: problem`, the words the CLI's `audit verify` shows."""
    assert str(ChainProblem(3, "removed: the chain jumps from entry 2 to entry 4")) == (
        "entry 3: removed: the chain jumps from entry 2 to entry 4")
