"""Encrypting and decrypting age files (pyrage), with failures turned into errors that name the file."""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import pyrage
from pyrage import passphrase

from vault.errors import DamagedFile, ExcessiveWork, WrongKey
from vault.keys import Identity, RecipientKey

# age's reference implementation refuses a passphrase file whose scrypt costs more than 2**22;
# pyrage's own bound depends on how fast the machine is just then, so a file that opens on a
# quiet machine would be refused on a busy one, and a 2**23 file would compute for a minute.
MAX_WORK_FACTOR = 22
_ARMOR_BEGIN, _ARMOR_END = b"-----BEGIN AGE ENCRYPTED FILE-----", b"-----END AGE ENCRYPTED FILE-----"
_SCRYPT_STANZA = re.compile(rb"-> scrypt [A-Za-z0-9+/]+ ([1-9][0-9]{0,2})")


def scrypt_work_factor(data: bytes) -> int | None:
    """The work factor (log2 N) a passphrase file's scrypt stanza names, or None when it names none clearly.

    Only the header is read; anything malformed is left to the decryption to refuse in its words.
    """
    head = data[:64 * 1024]
    if head.lstrip().startswith(_ARMOR_BEGIN):
        body = head.lstrip()[len(_ARMOR_BEGIN):].partition(_ARMOR_END)[0]
        try:
            head = base64.b64decode(b"".join(body.split()))
        except (binascii.Error, ValueError):
            return None
    for line in head.split(b"\n")[1:]:
        if line.startswith(b"---"):
            return None
        if match := _SCRYPT_STANZA.fullmatch(line):
            return int(match.group(1))
    return None


def _failure(what: str, exc: Exception, *, by_passphrase: bool = False) -> Exception:
    reason = str(exc)
    if reason == "No matching keys found":
        if by_passphrase:
            return WrongKey(f"{what}: not protected by a passphrase (it needs an identity)")
        return WrongKey(f"{what}: none of the identities given can open it (a wrong key, or a key for "
                        "another file)")
    if reason == "Decryption failed" and by_passphrase:
        return WrongKey(f"{what}: the passphrase (or recovered master secret) does not open it")
    if reason == "Header MAC is invalid":
        return DamagedFile(f"{what}: the file was altered (its header MAC does not match)")
    if reason == "decryption error":
        return DamagedFile(f"{what}: the file is truncated or altered (a payload MAC does not match)")
    if reason.startswith("Excessive work parameter"):
        # pyrage's bound is machine-speed times a margin: reached only on a very busy machine
        return ExcessiveWork(f"{what}: its passphrase's scrypt work factor is more than this machine will "
                             "compute just now (age refused it as too slow); try again when it is less busy")
    return DamagedFile(f"{what}: expected an age file, got one that is truncated or not age at all")


def encrypt(data: bytes, recipients: Sequence[RecipientKey], *, armored: bool = False) -> bytes:
    """An age file; ``armored``: as ASCII text (PEM-like) that can be shown on a page and pasted back into a file."""
    if not recipients:
        raise ValueError("encrypting needs at least one recipient")
    return bytes(pyrage.encrypt(data, [r.to_age() for r in recipients], armored=armored))


def decrypt(data: bytes, identities: Sequence[Identity], what: str) -> bytes:
    try:
        return bytes(pyrage.decrypt(data, list(identities)))
    except pyrage.DecryptError as exc:
        raise _failure(what, exc) from None


def encrypt_stream(source: IO[bytes], target: IO[bytes], recipients: Sequence[RecipientKey]) -> None:
    """Stream ``source`` into ``target`` as an age file (large attachments stay out of memory twice)."""
    if not recipients:
        raise ValueError("encrypting needs at least one recipient")
    pyrage.encrypt_io(source, target, [r.to_age() for r in recipients])


def decrypt_stream(source: IO[bytes], target: IO[bytes], identities: Sequence[Identity], what: str) -> None:
    try:
        pyrage.decrypt_io(source, target, list(identities))
    except pyrage.DecryptError as exc:
        raise _failure(what, exc) from None
    except OSError as exc:  # pyrage's streaming reader reports a failed payload MAC as an I/O error
        if str(exc) != "decryption error":
            raise
        raise _failure(what, exc) from None


def encrypt_with_passphrase(data: bytes, secret: str) -> bytes:
    return bytes(passphrase.encrypt(data, secret))


def decrypt_with_passphrase(data: bytes, secret: str, what: str) -> bytes:
    factor = scrypt_work_factor(data)
    if factor is not None and factor > MAX_WORK_FACTOR:
        raise ExcessiveWork(f"{what}: expected a passphrase file with a scrypt work factor of at most "
                            f"{MAX_WORK_FACTOR}, got {factor} (age refuses it too: it would take minutes "
                            "to hours to compute)")
    try:
        return bytes(passphrase.decrypt(data, secret))
    except pyrage.DecryptError as exc:
        raise _failure(what, exc, by_passphrase=True) from None


def write_atomically(path: Path, data: bytes | io.BytesIO, mode: int = 0o600) -> None:
    """Write to a temporary name beside ``path`` and rename, so a crash leaves no half file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data.getbuffer() if isinstance(data, io.BytesIO) else data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
