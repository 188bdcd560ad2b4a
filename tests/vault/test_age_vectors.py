"""The C2SP age test vectors (CCTV): what opens gives the right plaintext, what fails raises a VaultError.

Each vector file is ``key: value`` header lines, a blank line, then the age file (zlib-
compressed when the header says so). The outcomes where pyrage and the specification
differ are pinned, so a change in the library shows up here.
"""

from __future__ import annotations

import base64
import hashlib
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from vault import agecrypt
from vault.agecrypt import decrypt, decrypt_with_passphrase, encrypt_with_passphrase, scrypt_work_factor
from vault.errors import DamagedFile, ExcessiveWork, RecipientError, VaultError, WrongKey
from vault.keys import generate_identity, parse_identities

VECTORS = Path(__file__).parent / "vectors" / "age-cctv"

NOT_AGE = "{name}: expected an age file, got one that is truncated or not age at all"
PAYLOAD_MAC = "{name}: the file is truncated or altered (a payload MAC does not match)"
HEADER_MAC = "{name}: the file was altered (its header MAC does not match)"
NO_IDENTITY = "{name}: none of the identities given can open it (a wrong key, or a key for another file)"
NO_PASSPHRASE = "{name}: the passphrase (or recovered master secret) does not open it"
TOO_COSTLY = ("{name}: expected a passphrase file with a scrypt work factor of at most 22, got 23 "
              "(age refuses it too: it would take minutes to hours to compute)")

# Where pyrage 1.4.0 departs from the specification.
ACCEPTED_THOUGH_MALFORMED = ("stanza_missing_body", "stanza_missing_final_line")
REFUSED_THOUGH_VALID = ("armor_whitespace_outside",)
GAPS = (*ACCEPTED_THOUGH_MALFORMED, *REFUSED_THOUGH_VALID)


@dataclass(frozen=True)
class Vector:
    name: str
    expect: str
    payload: str | None
    identities: tuple[str, ...]
    passphrases: tuple[str, ...]
    age_file: bytes

    @property
    def post_quantum(self) -> bool:
        return any(i.startswith("AGE-SECRET-KEY-PQ-") for i in self.identities)


def _read(path: Path) -> Vector:
    head, _, body = path.read_bytes().partition(b"\n\n")
    fields: dict[str, list[str]] = {}
    for line in head.decode().splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    if fields.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    return Vector(path.name, fields["expect"][0], fields.get("payload", [None])[0],
                  tuple(fields.get("identity", [])), tuple(fields.get("passphrase", [])), body)


ALL = [_read(path) for path in sorted(VECTORS.iterdir())]


def _open(vector: Vector) -> bytes:
    """Open the vector as Baton would: with the passphrase, else with the identities (a stranger's when none)."""
    if vector.passphrases:
        return decrypt_with_passphrase(vector.age_file, vector.passphrases[0], vector.name)
    identities = (parse_identities("\n".join(vector.identities).encode()) if vector.identities
                  else [generate_identity()])
    return decrypt(vector.age_file, identities, vector.name)


AS_SPECIFIED = [v for v in ALL if not v.post_quantum and v.name not in GAPS]


def _params(vectors: list[Vector]) -> list[pytest.ParameterSet]:
    return [pytest.param(v, id=v.name) for v in vectors]


def test_the_vectors_are_all_there_and_sorted_into_known_outcomes() -> None:
    """143 vectors: 19 need post-quantum keys, 3 are known gaps, the other 121 behave as the specification says."""
    assert len(ALL) == 143
    assert sum(v.post_quantum for v in ALL) == 19
    assert {v.name for v in ALL} >= set(GAPS)
    assert len(AS_SPECIFIED) == 121


@pytest.mark.parametrize("vector", _params([v for v in AS_SPECIFIED if v.expect == "success"]))
def test_a_valid_file_opens_to_its_payload(vector: Vector) -> None:
    """A vector that must open gives the plaintext whose SHA-256 the vector names."""
    assert hashlib.sha256(_open(vector)).hexdigest() == vector.payload


def _expected_failure(vector: Vector) -> tuple[type[VaultError], set[str]]:
    if vector.expect == "no match":
        if vector.name == "scrypt_uppercase":  # "Scrypt" is no stanza age knows: no passphrase stanza at all
            return WrongKey, {"{name}: not protected by a passphrase (it needs an identity)"}
        return WrongKey, {NO_PASSPHRASE if vector.passphrases else NO_IDENTITY}
    if vector.expect == "HMAC failure":
        return DamagedFile, {HEADER_MAC}
    if vector.expect == "payload failure":
        return DamagedFile, {PAYLOAD_MAC, NOT_AGE}
    if vector.name == "scrypt_work_factor_23":  # refused by Baton before pyrage starts a minute of scrypt
        return ExcessiveWork, {TOO_COSTLY}
    assert vector.expect in ("header failure", "armor failure")
    return DamagedFile, {NOT_AGE}


@pytest.mark.parametrize("vector", _params([v for v in AS_SPECIFIED if v.expect != "success"]))
def test_a_broken_file_raises_a_vault_error_and_nothing_else(vector: Vector) -> None:
    """A vector that must fail raises WrongKey or DamagedFile with a message naming the file, never another error."""
    error, messages = _expected_failure(vector)
    with pytest.raises(VaultError) as raised:
        _open(vector)
    assert type(raised.value) is error
    assert str(raised.value) in {m.format(name=vector.name) for m in messages}


@pytest.mark.parametrize("vector", _params([v for v in ALL if v.post_quantum]))
def test_a_post_quantum_identity_is_refused_as_an_unknown_key(vector: Vector) -> None:
    """pyrage knows no ML-KEM hybrid keys: the identity file is refused before any decryption."""
    line = next(n for n, i in enumerate(vector.identities, 1) if i.startswith("AGE-SECRET-KEY-PQ-"))
    with pytest.raises(RecipientError) as raised:
        _open(vector)
    assert str(raised.value) == (f"identity file line {line}: expected an age secret key (AGE-SECRET-KEY-1…), "
                                 "got something else")


@pytest.mark.parametrize("name", ACCEPTED_THOUGH_MALFORMED)
def test_a_stanza_without_its_final_short_line_is_accepted(name: str) -> None:
    """Known gap: pyrage opens a header whose stanza lacks the final short body line, which age refuses."""
    vector = next(v for v in ALL if v.name == name)
    assert vector.expect == "header failure"
    assert isinstance(_open(vector), bytes)


def test_whitespace_around_an_armored_file_is_refused() -> None:
    """Known gap: pyrage refuses an armored file with whitespace before and after it, which age accepts."""
    vector = next(v for v in ALL if v.name == "armor_whitespace_outside")
    assert vector.expect == "success"
    with pytest.raises(DamagedFile) as raised:
        _open(vector)
    assert str(raised.value) == NOT_AGE.format(name=vector.name)


def _work_factor_vector(factor: int, *, armored: bool = False) -> bytes:
    body = next(v for v in ALL if v.name == "scrypt_work_factor_23").age_file.replace(b"CQ 23\n", b"CQ %d\n" % factor)
    if not armored:
        return body
    lines = [base64.b64encode(body[i:i + 48]) for i in range(0, len(body), 48)]
    return b"\n".join([b"-----BEGIN AGE ENCRYPTED FILE-----", *lines, b"-----END AGE ENCRYPTED FILE-----", b""])


@pytest.mark.parametrize("armored", [False, True], ids=["binary", "armored"])
def test_a_scrypt_work_factor_of_23_is_refused_from_the_header_before_any_scrypt(armored: bool) -> None:
    """A 2**23 scrypt is refused as age refuses it, by reading the header: no timing, so no machine load, decides."""
    data = _work_factor_vector(23, armored=armored)
    assert scrypt_work_factor(data) == 23
    started = time.monotonic()
    with pytest.raises(ExcessiveWork) as raised:
        decrypt_with_passphrase(data, "password", "vector")
    assert str(raised.value) == TOO_COSTLY.format(name="vector")
    assert time.monotonic() - started < 1  # a generous bound: the refusal computes no scrypt at all


def test_the_work_factor_baton_writes_is_read_back_from_the_header() -> None:
    """A file Baton encrypts names a work factor the bound lets through; a header without scrypt names none."""
    factor = scrypt_work_factor(encrypt_with_passphrase(b"payload", "a long passphrase"))
    assert factor is not None and 10 <= factor <= agecrypt.MAX_WORK_FACTOR
    assert scrypt_work_factor(next(v for v in ALL if v.name == "x25519").age_file) is None
    assert scrypt_work_factor(b"not age at all") is None


def test_ages_own_refusal_of_a_work_factor_is_reported_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past Baton's bound, pyrage's machine-speed refusal is named as what it is, not as a damaged file."""
    monkeypatch.setattr(agecrypt, "MAX_WORK_FACTOR", 64)
    with pytest.raises(ExcessiveWork) as raised:
        decrypt_with_passphrase(_work_factor_vector(40), "password", "vector")
    assert str(raised.value) == ("vector: its passphrase's scrypt work factor is more than this machine will "
                                 "compute just now (age refused it as too slow); try again when it is less busy")
