"""Key rotation in the audit chain: the old key signs the rotation, the new key accepts it right after,
and a chain is read back from its end, where the deployment's current key signed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from switch.audit import ACCEPTED, ROTATED, AuditEntry, next_entry, rotation, verify_chain, verify_excerpt

OWNER = "7"
T0 = datetime(2026, 12, 1, tzinfo=UTC)


class Key:
    def __init__(self) -> None:
        self.key = SigningKey.generate()

    @property
    def public_hex(self) -> str:
        return bytes(self.key.verify_key).hex()

    def sign(self, message: bytes) -> bytes:
        return bytes(self.key.sign(message).signature)


class Check:
    def __init__(self, public_hex: str) -> None:
        self.public_hex = public_hex
        self.key = VerifyKey(bytes.fromhex(public_hex))

    def for_key(self, public_hex: str) -> Check:
        if len(public_hex) != 64:
            raise ValueError(public_hex)
        return Check(public_hex)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.key.verify(message, signature)
        except BadSignatureError:
            return False
        return True


def _append(chain: list[AuditEntry], key: Key, kind: str = "switch.checkin") -> None:
    last = (chain[-1].seq, chain[-1].hash) if chain else None
    chain.append(next_entry(OWNER, last, T0 + timedelta(hours=len(chain)), kind, {"n": len(chain)}, key))


def _rotated_chain(old: Key, new: Key, before: int = 3, after: int = 2) -> list[AuditEntry]:
    chain: list[AuditEntry] = []
    for _ in range(before):
        _append(chain, old)
    chain.extend(rotation(OWNER, (chain[-1].seq, chain[-1].hash), T0 + timedelta(days=1), old, old.public_hex,
                          new, new.public_hex))
    for _ in range(after):
        _append(chain, new)
    return chain


def test_a_chain_across_two_rotations_verifies_with_the_newest_key_only() -> None:
    first, second, third = Key(), Key(), Key()
    chain = _rotated_chain(first, second)
    chain.extend(rotation(OWNER, (chain[-1].seq, chain[-1].hash), T0 + timedelta(days=2), second,
                          second.public_hex, third, third.public_hex))
    _append(chain, third)
    assert [e.kind for e in chain][3:5] == [ROTATED, ACCEPTED]
    assert verify_chain(OWNER, chain, Check(third.public_hex), head=(chain[-1].seq, chain[-1].hash)) is None
    found = verify_chain(OWNER, chain, Check(first.public_hex))
    assert found is not None and str(found) == (f"entry {chain[-3].seq}: a key rotation to a key that did not "
                                                "sign the entries after it")
    assert verify_chain(OWNER, chain, Check(second.public_hex)) is not None


def test_the_retired_key_signing_after_its_rotation_is_found() -> None:
    old, new = Key(), Key()
    chain = _rotated_chain(old, new)
    _append(chain, old)  # a thief with a copy of the retired key
    found = verify_chain(OWNER, chain, Check(new.public_hex))
    assert found is not None and str(found) == f"entry {chain[-1].seq}: altered: its signature does not verify"


def test_a_rotation_the_new_key_did_not_accept_is_refused() -> None:
    """With only the old key, a thief cannot end a chain with a rotation to a key of the deployment's."""
    old, new = Key(), Key()
    chain: list[AuditEntry] = []
    for _ in range(3):
        _append(chain, old)
    rotated, _accepted = rotation(OWNER, (chain[-1].seq, chain[-1].hash), T0, old, old.public_hex, new,
                                  new.public_hex)
    found = verify_chain(OWNER, [*chain, rotated], Check(new.public_hex))
    assert found is not None and found.seq == rotated.seq
    assert found.problem == "a key rotation that the new key did not accept right after"
    # Nor can an acceptance be moved from another place: it no longer chains from the rotation.
    elsewhere = _rotated_chain(old, new)
    found = verify_chain(OWNER, [*chain, rotated, elsewhere[4]], Check(new.public_hex))
    assert found is not None and "does not chain" in found.problem


def test_a_rotation_from_something_that_is_not_a_key_is_named() -> None:
    old, new = Key(), Key()
    chain: list[AuditEntry] = []
    _append(chain, old)
    chain.extend(rotation(OWNER, (chain[-1].seq, chain[-1].hash), T0, old, "not-a-key", new, new.public_hex))
    found = verify_chain(OWNER, chain, Check(new.public_hex))
    assert found is not None and found.problem == "a key rotation from something that is not a key"


def test_an_excerpt_across_a_rotation_verifies_with_the_package_key() -> None:
    old, new = Key(), Key()
    chain = _rotated_chain(old, new, before=4, after=3)
    excerpt = chain[2:]
    assert verify_excerpt(excerpt, Check(new.public_hex)) is None
    assert verify_excerpt(excerpt, Check(old.public_hex)) is not None
    assert verify_excerpt(chain[:3], Check(old.public_hex)) is None  # before the rotation: the old key's
