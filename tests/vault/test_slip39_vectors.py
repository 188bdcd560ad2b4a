"""The SLIP-39 reference vectors: valid sets combine to their master secret, invalid sets raise a ShareError.

The vectors are trezor/python-shamir-mnemonic's ``vectors.json`` (passphrase ``TREZOR``),
kept unchanged in tests/vault/vectors (a copy of the shared folder's, so a clean checkout has them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vault.errors import CorruptShare, MismatchedShares, NotEnoughShares, ShareError
from vault.shares import combine

VECTORS = Path(__file__).parent / "vectors" / "slip39" / "vectors.json"
PASSPHRASE = b"TREZOR"

CHECKSUM = "share 1: the checksum does not match (a word is wrong or two are swapped)"
PADDING = "share 1: not a valid SLIP-39 share (its padding or parameters are wrong)"
DIGEST = "the shares agree in form but do not combine (the digest does not match): one of them was altered"
TWO_GROUPS = "2 complete groups of 4 needed, 1 complete"

# What each rejected vector raises, by its number; None where the message is not pinned here
# (the "different split" message names two equal split numbers: see test_shares.py).
REJECTED: dict[int, tuple[type[ShareError], str | None]] = {
    2: (CorruptShare, CHECKSUM),
    3: (CorruptShare, PADDING),
    5: (NotEnoughShares, "2 shares needed, 1 given"),
    6: (MismatchedShares, "share 2 comes from a different split (split 283) than share 1 (split 282): "
                          "use shares of one release"),
    7: (MismatchedShares, None),
    8: (MismatchedShares, None),
    9: (MismatchedShares, None),
    10: (CorruptShare, PADDING),
    # Two different shares with one member index count as one share.
    11: (NotEnoughShares, "2 shares needed, 1 given"),
    12: (MismatchedShares, "share 2 does not match the other shares of its group"),
    13: (CorruptShare, DIGEST),
    14: (NotEnoughShares, TWO_GROUPS),
    15: (NotEnoughShares, TWO_GROUPS),
    16: (NotEnoughShares, TWO_GROUPS + " (group 4 has 1 of 2)"),
    21: (CorruptShare, CHECKSUM),
    22: (CorruptShare, PADDING),
    24: (NotEnoughShares, "2 shares needed, 1 given"),
    25: (MismatchedShares, "share 2 comes from a different split (split 26511) than share 1 (split 26510): "
                           "use shares of one release"),
    26: (MismatchedShares, None),
    27: (MismatchedShares, None),
    28: (MismatchedShares, None),
    29: (CorruptShare, PADDING),
    30: (NotEnoughShares, "2 shares needed, 1 given"),
    31: (MismatchedShares, "share 2 does not match the other shares of its group"),
    32: (CorruptShare, DIGEST),
    33: (NotEnoughShares, TWO_GROUPS),
    34: (NotEnoughShares, TWO_GROUPS),
    35: (NotEnoughShares, TWO_GROUPS + " (group 4 has 1 of 2)"),
    39: (CorruptShare, "share 1: expected 20 or 33 words, got 19"),
    40: (CorruptShare, "share 1: expected 20 or 33 words, got 21"),
}


def _number(description: str) -> int:
    return int(description.split(".", 1)[0])


def _load() -> tuple[list[pytest.ParameterSet], list[pytest.ParameterSet]]:
    valid, rejected = [], []
    for description, mnemonics, secret, _xprv in json.loads(VECTORS.read_text()):
        if secret:
            valid.append(pytest.param(mnemonics, bytes.fromhex(secret), id=description))
        else:
            rejected.append(pytest.param(mnemonics, *REJECTED[_number(description)], id=description))
    return valid, rejected


VALID, INVALID = _load()


def _labelled(mnemonics: list[str]) -> list[tuple[str, str]]:
    return [(f"share {i}", m) for i, m in enumerate(mnemonics, 1)]


def test_the_vector_file_has_every_reference_case() -> None:
    """All 45 vectors are there: 15 valid sets and 30 that must be rejected, each with a pinned outcome."""
    assert (len(VALID), len(INVALID)) == (15, 30)
    assert len(REJECTED) == len(INVALID)


@pytest.mark.parametrize(("mnemonics", "secret"), VALID)
def test_a_valid_set_combines_to_its_master_secret(mnemonics: list[str], secret: bytes) -> None:
    """The shares of a valid vector give back its master secret."""
    assert combine(_labelled(mnemonics), passphrase=PASSPHRASE) == secret


@pytest.mark.parametrize(("mnemonics", "error", "message"), INVALID)
def test_an_invalid_set_is_rejected_without_echoing_a_word(mnemonics: list[str], error: type[ShareError],
                                                           message: str | None) -> None:
    """An invalid vector raises its pinned ShareError, and no word of any share given appears in the message."""
    with pytest.raises(ShareError) as raised:
        combine(_labelled(mnemonics), passphrase=PASSPHRASE)
    assert type(raised.value) is error
    if message is not None:
        assert str(raised.value) == message
    words = {word for mnemonic in mnemonics for word in mnemonic.split()}
    assert not words & set(re.findall(r"[a-z]+", str(raised.value).lower()))
