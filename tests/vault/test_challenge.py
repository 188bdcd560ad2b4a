"""Key checks: a code sealed to a holder's key opens with the holder's identity and is typed back loosely."""

from __future__ import annotations

import re

import pytest

from vault.agecrypt import decrypt
from vault.challenge import Challenge, code_from, hash_code, matches, new_challenge
from vault.errors import WrongKey
from vault.keys import Identity, generate_identity, public_of

CODE = re.compile(r"^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$")  # no 0, O, 1, I or L


@pytest.fixture
def issued() -> tuple[Identity, Challenge, str]:
    """A holder's identity, a challenge sealed to it, and the code inside as the holder reads it."""
    identity = generate_identity()
    challenge = new_challenge(public_of(identity), "Ana")
    return identity, challenge, code_from(decrypt(challenge.sealed, [identity], "the key check"))


def test_the_challenge_opens_with_the_holders_identity(issued: tuple[Identity, Challenge, str]) -> None:
    """The sealed challenge opens with the holder's identity and greets the holder, with a code easy to read aloud."""
    identity, challenge, code = issued
    text = decrypt(challenge.sealed, [identity], "the key check").decode()
    assert text.startswith("Baton key check for Ana.\nYour code: ")
    assert CODE.match(code)
    assert code.encode() not in challenge.sealed


def test_the_code_matches_typed_loosely(issued: tuple[Identity, Challenge, str]) -> None:
    """The code typed in lower case, with spaces or without dashes, still matches."""
    _, challenge, code = issued
    for typed in (code, code.lower(), code.replace("-", " "), code.replace("-", "").lower(), f"  {code}\n"):
        assert matches(typed, challenge.code_hash), typed


def test_a_wrong_code_does_not_match(issued: tuple[Identity, Challenge, str]) -> None:
    """A code with one character changed, or another challenge's code, does not match."""
    _, challenge, code = issued
    changed = ("B" if code[0] != "B" else "C") + code[1:]
    other = new_challenge(public_of(generate_identity()), "Budi")
    assert not matches(changed, challenge.code_hash)
    assert not matches("", challenge.code_hash)
    assert not matches(code, other.code_hash)


def test_the_server_keeps_only_a_hash_of_the_code(issued: tuple[Identity, Challenge, str]) -> None:
    """What the server keeps is the SHA-256 of the normalised code; repr shows neither the code nor the hash."""
    _, challenge, code = issued
    assert challenge.code_hash == hash_code(code.replace("-", "").lower())
    assert repr(challenge) == "Challenge(sealed=…, code_hash=…)"
    assert code not in repr(challenge)
    assert challenge.code_hash not in repr(challenge)


def test_another_identity_cannot_read_the_code(issued: tuple[Identity, Challenge, str]) -> None:
    """Only the holder's identity opens the challenge."""
    _, challenge, _ = issued
    with pytest.raises(WrongKey) as raised:
        decrypt(challenge.sealed, [generate_identity()], "the key check")
    assert str(raised.value) == ("the key check: none of the identities given can open it (a wrong key, or a key "
                                 "for another file)")


def test_text_that_is_no_key_check_has_no_code() -> None:
    """code_from on other text is a ValueError: the caller passed the wrong file."""
    with pytest.raises(ValueError, match="^not a Baton key check$"):
        code_from(b"Your code is 1234\n")
