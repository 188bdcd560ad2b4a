"""The signing-key history a package carries: only changes signed by both keys lead back to an older key."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from vault import keyhistory
from vault.errors import BadSignature


def _change(old: SigningKey, new: SigningKey, at: str, signer_of_old: SigningKey | None = None) -> keyhistory.Rotation:
    said = keyhistory.statement(bytes(old.verify_key), bytes(new.verify_key), at)
    return keyhistory.Rotation(bytes(old.verify_key), bytes(new.verify_key), at,
                               bytes((signer_of_old or old).sign(said).signature), bytes(new.sign(said).signature))


def test_the_walk_goes_back_through_every_change_signed_by_both_keys() -> None:
    a, b, c = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
    history = [_change(a, b, "2026-01-01T00:00:00Z"), _change(b, c, "2026-06-01T00:00:00Z")]
    path = keyhistory.earlier_keys(bytes(c.verify_key), history)
    assert [step.old for step in path] == [bytes(b.verify_key), bytes(a.verify_key)]
    assert keyhistory.parse(keyhistory.document(history), "x") == history


def test_a_change_the_old_key_did_not_sign_stops_the_walk() -> None:
    """A forger's key "replacing" a real key needs the real key's signature, which the forger lacks."""
    real, forger = SigningKey.generate(), SigningKey.generate()
    forged = _change(real, forger, "2026-01-01T00:00:00Z", signer_of_old=forger)
    assert not forged.holds()
    assert keyhistory.earlier_keys(bytes(forger.verify_key), [forged]) == []
    altered = keyhistory.Rotation(forged.old, forged.new, "2027-01-01T00:00:00Z", forged.signed_by_old,
                                  forged.signed_by_new)
    assert keyhistory.earlier_keys(bytes(forger.verify_key), [altered]) == []


def test_a_loop_in_the_history_ends_the_walk() -> None:
    a, b = SigningKey.generate(), SigningKey.generate()
    history = [_change(a, b, "2026-01-01T00:00:00Z"), _change(b, a, "2026-02-01T00:00:00Z")]
    assert [s.old for s in keyhistory.earlier_keys(bytes(a.verify_key), history)] == [bytes(b.verify_key)]


@pytest.mark.parametrize("data", [{}, {"rotations": [{"old": "zz"}]}, [], {"rotations": [1]}])
def test_a_file_that_is_not_a_history_is_named(data: object) -> None:
    with pytest.raises(BadSignature) as refused:
        keyhistory.parse(data, "pkg/signing-keys.json")
    assert str(refused.value) == ("pkg/signing-keys.json: expected the signing-key history (rotations with old, "
                                  "new, at and both signatures), got something else")
