"""Keys and age files: recipients and identities parse or are refused in plain words, and files open with ``age``.

The round trips run the real ``age``, ``age-keygen`` and ``ssh-keygen``, so what Baton
seals opens with off-the-shelf tools and the other way round.
"""

from __future__ import annotations

import base64
import io
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests_support import tool
from vault.agecrypt import (
    decrypt,
    decrypt_stream,
    decrypt_with_passphrase,
    encrypt,
    encrypt_stream,
    write_atomically,
)
from vault.errors import DamagedFile, RecipientError, WrongKey
from vault.keys import (
    Identity,
    RecipientKey,
    generate_identity,
    identity_text,
    lock_identity,
    parse_identities,
    parse_recipient,
    public_of,
    unlock_identity,
)

PLAINTEXT = b"the registrar account: ana@example.net / correct horse battery staple\n" * 50
PASSPHRASE = "seven tired otters"


def _run(*args: str | Path, stdin: bytes | None = None) -> bytes:
    return subprocess.run([str(a) for a in args], input=stdin, capture_output=True, check=True).stdout


@pytest.fixture(scope="module")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An ed25519 and an RSA key pair made by ssh-keygen (private key paths; the public key is beside, .pub)."""
    keygen = tool("ssh-keygen")
    folder = tmp_path_factory.mktemp("ssh")
    made = {}
    for kind, extra in (("ssh-ed25519", ["-t", "ed25519"]), ("ssh-rsa", ["-t", "rsa", "-b", "2048"])):
        path = folder / kind
        _run(keygen, "-q", *extra, "-N", "", "-C", "ana@laptop", "-f", path)
        made[kind] = path
    return made


@pytest.fixture(scope="module")
def age_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An identity file made by age-keygen, and its public key."""
    keygen = tool("age-keygen")
    path = tmp_path_factory.mktemp("age") / "key.txt"
    _run(keygen, "-o", path)
    return path, _run(keygen, "-y", path).decode().strip()


@pytest.fixture(scope="module")
def locked() -> tuple[str, bytes]:
    """An identity (as text) and its file locked with PASSPHRASE (scrypt: about a second)."""
    identity = generate_identity()
    return identity_text(identity), lock_identity(identity, PASSPHRASE)


# Recipients


def test_an_age_public_key_is_a_recipient() -> None:
    """An age1… key, pasted with spaces and a newline around it, is an age recipient."""
    public = str(generate_identity().to_public())
    assert parse_recipient(f"  {public}\n") == RecipientKey(public, "age")


@pytest.mark.parametrize("kind", ["ssh-ed25519", "ssh-rsa"])
def test_an_ssh_public_key_is_a_recipient_without_its_comment(ssh_keys: dict[str, Path], kind: str) -> None:
    """An SSH public key line is a recipient of its kind; the comment after the key is dropped."""
    line = ssh_keys[kind].with_suffix(".pub").read_text()
    assert line.rstrip().endswith(" ana@laptop")
    kind_word, key, _comment = line.split()
    assert parse_recipient(line) == RecipientKey(f"{kind_word} {key}", kind)


def test_a_damaged_age_public_key_is_refused_showing_only_its_start() -> None:
    """An age1… key missing its last characters is refused, quoting at most its first 16 characters."""
    public = str(generate_identity().to_public())
    with pytest.raises(RecipientError) as raised:
        parse_recipient(public[:-3])
    assert str(raised.value) == ("expected an age public key (age1… in 62 characters), got a damaged one starting "
                                 f"'{public[:16]}…': check that it was copied whole")


def test_a_damaged_ssh_public_key_is_refused(ssh_keys: dict[str, Path]) -> None:
    """An SSH public key cut short is refused as damaged, without quoting it."""
    kind, key, _comment = ssh_keys["ssh-ed25519"].with_suffix(".pub").read_text().split()
    with pytest.raises(RecipientError) as raised:
        parse_recipient(f"{kind} {key[:40]}")
    assert str(raised.value) == ("expected an SSH public key (ssh-ed25519 AAAA…), got a damaged one: check that the "
                                 "whole line was copied")


def test_a_secret_key_pasted_as_a_recipient_is_refused_without_echoing_it() -> None:
    """An AGE-SECRET-KEY-… pasted where a public key belongs is refused with a warning, and not quoted."""
    secret = identity_text(generate_identity())
    with pytest.raises(RecipientError) as raised:
        parse_recipient(secret)
    assert str(raised.value) == ("expected a public key, got a secret key (AGE-SECRET-KEY-…): never share it; send "
                                 "the line starting age1… instead")
    assert secret[len("AGE-SECRET-KEY-"):] not in str(raised.value)


def test_a_whole_key_file_pasted_as_a_recipient_is_refused_as_a_secret() -> None:
    """The likeliest mistake: the whole age-keygen file (comments, the public key, the secret)."""
    identity = generate_identity()
    pasted = (f"# created: 2026-11-29T16:00:00Z\n# public key: {identity.to_public()}\n"
              f"{identity_text(identity)}\n")
    with pytest.raises(RecipientError) as raised:
        parse_recipient(pasted)
    assert str(raised.value).startswith("expected a public key, got a secret key (AGE-SECRET-KEY-…)")
    assert identity_text(identity)[len("AGE-SECRET-KEY-"):] not in str(raised.value)


@pytest.mark.parametrize(("text", "shown"), [
    pytest.param("hello world", "'hello'", id="words"),
    pytest.param("", "''", id="empty"),
    pytest.param("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "'ssh-dss'", id="dsa-key"),
    pytest.param("npub1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", "'npub1qqqqqqqqqqq…'", id="long-garbage"),
])
def test_something_else_is_refused_naming_the_formats_expected(text: str, shown: str) -> None:
    """Text that is no known key is refused, naming the formats expected and the first word given (cut at 16)."""
    with pytest.raises(RecipientError) as raised:
        parse_recipient(text)
    assert str(raised.value) == ("expected an age public key (age1…) or an SSH public key (ssh-ed25519 or ssh-rsa), "
                                 f"got {shown}")


# Identities


def test_an_age_keygen_identity_file_opens_what_is_sealed_to_its_public_key(age_key: tuple[Path, str]) -> None:
    """An identity file as age-keygen writes it (comment lines, then the key) gives one identity that opens files."""
    path, public = age_key
    identities = parse_identities(path.read_bytes())
    assert len(identities) == 1
    assert decrypt(encrypt(PLAINTEXT, [parse_recipient(public)]), identities, "a file") == PLAINTEXT


def test_an_identity_file_may_hold_several_keys() -> None:
    """Each AGE-SECRET-KEY line is an identity; blank and # lines are skipped; case does not matter."""
    first, second = generate_identity(), generate_identity()
    data = f"# two keys\n\n{identity_text(first)}\n  {identity_text(second).lower()}  \n".encode()
    identities = parse_identities(data)
    assert [str(i) for i in identities] == [identity_text(first), identity_text(second)]


@pytest.mark.parametrize("kind", ["ssh-ed25519", "ssh-rsa"])
def test_an_ssh_private_key_is_an_identity(ssh_keys: dict[str, Path], kind: str) -> None:
    """An unencrypted SSH private key opens what was sealed to its public key."""
    recipient = parse_recipient(ssh_keys[kind].with_suffix(".pub").read_text())
    identities = parse_identities(ssh_keys[kind].read_bytes())
    assert decrypt(encrypt(PLAINTEXT, [recipient]), identities, "a file") == PLAINTEXT


def test_a_passphrase_protected_ssh_key_must_be_decrypted_first(tmp_path: Path) -> None:
    """An SSH private key under a passphrase is refused with the command that removes the passphrase."""
    path = tmp_path / "id_locked"
    _run(tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "a passphrase", "-f", path)
    with pytest.raises(RecipientError) as raised:
        parse_identities(path.read_bytes())
    assert str(raised.value) == ("expected an unencrypted SSH private key, got one that cannot be read (a "
                                 "passphrase-protected SSH key must be decrypted first: ssh-keygen -p)")


def test_a_damaged_age_secret_key_is_refused_by_line_without_echoing_it() -> None:
    """An age secret key missing characters is refused by its line number, and not quoted."""
    secret = identity_text(generate_identity())
    with pytest.raises(RecipientError) as raised:
        parse_identities(f"# my key\n{secret[:-2]}\n".encode())
    assert str(raised.value) == "identity file line 2: the age secret key is damaged; check it was copied whole"
    assert secret[len("AGE-SECRET-KEY-1"):][:8] not in str(raised.value)


@pytest.mark.parametrize(("data", "message"), [
    pytest.param(b"", "expected an identity file with an age secret key (AGE-SECRET-KEY-1…) or an SSH private key, "
                      "got none", id="empty"),
    pytest.param(b"# only a comment\n\n", "expected an identity file with an age secret key (AGE-SECRET-KEY-1…) or "
                                          "an SSH private key, got none", id="comments-only"),
    pytest.param(b"# key\nage1qqqqqq\n", "identity file line 2: expected an age secret key (AGE-SECRET-KEY-1…), got "
                                         "something else", id="public-key"),
])
def test_a_file_without_an_identity_is_refused(data: bytes, message: str) -> None:
    """A file with no usable key says what it expected, naming the line where something else was found."""
    with pytest.raises(RecipientError) as raised:
        parse_identities(data)
    assert str(raised.value) == message


def test_a_locked_identity_unlocks_with_its_passphrase(locked: tuple[str, bytes]) -> None:
    """An identity locked with a passphrase comes back whole with that passphrase, from an age scrypt file."""
    text, data = locked
    assert data.startswith(b"age-encryption.org/v1\n-> scrypt ")
    assert text.encode() not in data
    assert identity_text(unlock_identity(data, PASSPHRASE)) == text


def test_a_wrong_passphrase_does_not_unlock_an_identity(locked: tuple[str, bytes]) -> None:
    """A wrong passphrase is WrongKey, in words a holder understands."""
    with pytest.raises(WrongKey) as raised:
        unlock_identity(locked[1], "seven tired otter")
    assert str(raised.value) == "the passphrase does not open this identity file"


def test_a_truncated_locked_identity_is_damaged(locked: tuple[str, bytes]) -> None:
    """A locked identity file cut short is DamagedFile, not a wrong passphrase."""
    with pytest.raises(DamagedFile) as raised:
        unlock_identity(locked[1][:-5], PASSPHRASE)
    assert str(raised.value) == "the identity file is truncated or altered (its MAC does not match)"


# Age files


@pytest.fixture(scope="module")
def sealed() -> tuple[Identity, bytes]:
    """An identity, and PLAINTEXT sealed to it."""
    identity = generate_identity()
    return identity, encrypt(PLAINTEXT, [public_of(identity)])


def _altered_header_mac(data: bytes) -> bytes:
    """The file with one bit of its header MAC flipped (re-encoded, so the header still parses)."""
    start = data.index(b"\n--- ") + len(b"\n--- ")
    end = data.index(b"\n", start)
    mac = bytearray(base64.b64decode(data[start:end] + b"="))
    mac[0] ^= 1
    return data[:start] + base64.b64encode(bytes(mac)).rstrip(b"=") + data[end:]


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.mark.parametrize(("alter", "message"), [
    pytest.param(lambda d: d[:-5], "the compartment: the file is truncated or altered (a payload MAC does not match)",
                 id="payload-truncated"),
    pytest.param(lambda d: d[:60], "the compartment: expected an age file, got one that is truncated or not age at all",
                 id="header-truncated"),
    pytest.param(_flip_last_byte, "the compartment: the file is truncated or altered (a payload MAC does not match)",
                 id="payload-altered"),
    pytest.param(_altered_header_mac, "the compartment: the file was altered (its header MAC does not match)",
                 id="header-mac-altered"),
    pytest.param(lambda d: b"", "the compartment: expected an age file, got one that is truncated or not age at all",
                 id="empty"),
    pytest.param(lambda d: PLAINTEXT, "the compartment: expected an age file, got one that is truncated or not age "
                                      "at all", id="not-age"),
])
def test_a_damaged_file_is_refused_naming_the_file(sealed: tuple[Identity, bytes], alter: Callable[[bytes], bytes],
                                                   message: str) -> None:
    """A truncated or altered age file is DamagedFile, naming the file and what does not match."""
    identity, data = sealed
    with pytest.raises(DamagedFile) as raised:
        decrypt(alter(data), [identity], "the compartment")
    assert str(raised.value) == message


def test_a_file_sealed_to_another_key_is_wrong_key(sealed: tuple[Identity, bytes]) -> None:
    """Identities that are not among the file's recipients give WrongKey."""
    with pytest.raises(WrongKey) as raised:
        decrypt(sealed[1], [generate_identity(), generate_identity()], "the compartment")
    assert str(raised.value) == ("the compartment: none of the identities given can open it (a wrong key, or a key "
                                 "for another file)")


def test_a_stream_round_trips(sealed: tuple[Identity, bytes]) -> None:
    """What encrypt_stream seals, decrypt_stream opens."""
    identity, _ = sealed
    target = io.BytesIO()
    encrypt_stream(io.BytesIO(PLAINTEXT), target, [public_of(identity)])
    opened = io.BytesIO()
    decrypt_stream(io.BytesIO(target.getvalue()), opened, [identity], "the compartment")
    assert opened.getvalue() == PLAINTEXT


@pytest.mark.parametrize("alter", [lambda d: d[:-5], _flip_last_byte], ids=["truncated", "altered"])
def test_a_damaged_stream_is_refused_like_a_whole_file(sealed: tuple[Identity, bytes],
                                                        alter: Callable[[bytes], bytes]) -> None:
    """decrypt_stream on a truncated or altered payload raises the same DamagedFile as decrypt."""
    identity, data = sealed
    with pytest.raises(DamagedFile) as raised:
        decrypt_stream(io.BytesIO(alter(data)), io.BytesIO(), [identity], "the compartment")
    assert str(raised.value) == "the compartment: the file is truncated or altered (a payload MAC does not match)"


def test_a_passphrase_file_and_an_identity_file_are_not_confused(sealed: tuple[Identity, bytes],
                                                                 locked: tuple[str, bytes]) -> None:
    """An identity cannot open a passphrase file, and a passphrase cannot open a file sealed to an identity."""
    identity, data = sealed
    with pytest.raises(WrongKey) as by_identity:
        decrypt(locked[1], [identity], "the release key")
    assert str(by_identity.value) == ("the release key: none of the identities given can open it (a wrong key, or a "
                                      "key for another file)")
    with pytest.raises(WrongKey) as by_passphrase:
        decrypt_with_passphrase(data, PASSPHRASE, "the compartment")
    assert str(by_passphrase.value) == "the compartment: not protected by a passphrase (it needs an identity)"


def test_encrypting_to_nobody_is_a_programming_error() -> None:
    """Encrypting with no recipient is a ValueError (our bug), not a VaultError."""
    with pytest.raises(ValueError, match="^encrypting needs at least one recipient$"):
        encrypt(b"x", [])


def test_a_file_is_written_whole_and_private(tmp_path: Path) -> None:
    """write_atomically leaves only the finished file, readable by its owner alone."""
    target = tmp_path / "compartment.age"
    write_atomically(target, b"old")
    write_atomically(target, io.BytesIO(b"new"))
    assert target.read_bytes() == b"new"
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["compartment.age"]


# Round trips with the age command-line tool


def test_a_file_sealed_by_baton_opens_with_age(tmp_path: Path, age_key: tuple[Path, str]) -> None:
    """``age -d -i key.txt`` opens what vault.agecrypt sealed to the key's public key."""
    path, public = age_key
    sealed_file = tmp_path / "file.age"
    sealed_file.write_bytes(encrypt(PLAINTEXT, [parse_recipient(public)]))
    assert _run(tool("age"), "-d", "-i", path, sealed_file) == PLAINTEXT


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_a_file_made_by_age_opens_with_baton(age_key: tuple[Path, str], armor: bool) -> None:
    """What ``age -r`` (or ``age -a -r``) seals opens with vault.agecrypt and the identity file."""
    path, public = age_key
    data = _run(tool("age"), *(["-a"] if armor else []), "-r", public, stdin=PLAINTEXT)
    assert data.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----" if armor else b"age-encryption.org/v1\n")
    assert decrypt(data, parse_identities(path.read_bytes()), "a file") == PLAINTEXT


@pytest.mark.parametrize("kind", ["ssh-ed25519", "ssh-rsa"])
def test_ssh_keys_work_both_ways_with_age(tmp_path: Path, ssh_keys: dict[str, Path], kind: str) -> None:
    """A file Baton seals to an SSH key opens with ``age -d -i``, and one ``age -R`` seals opens with Baton."""
    age = tool("age")
    private, public = ssh_keys[kind], ssh_keys[kind].with_suffix(".pub")
    sealed_file = tmp_path / "file.age"
    sealed_file.write_bytes(encrypt(PLAINTEXT, [parse_recipient(public.read_text())]))
    assert _run(age, "-d", "-i", private, sealed_file) == PLAINTEXT
    by_age = _run(age, "-R", public, stdin=PLAINTEXT)
    assert decrypt(by_age, parse_identities(private.read_bytes()), "a file") == PLAINTEXT
