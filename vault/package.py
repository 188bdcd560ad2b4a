"""Release packages: a folder and a zip per holder and compartment, with a manifest, checksums and a signature.

Everything in a package can be checked and opened with off-the-shelf tools:
``sha256sum -c SHA256SUMS``, ``openssl pkeyutl -verify`` on ``SHA256SUMS.sig``,
``age -d`` and ``shamir recover``. The instructions inside say exactly how.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from vault import keyhistory, signature
from vault.errors import BadSignature, DamagedFile
from vault.signature import Signer

FORMAT = "baton-release/1"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
SIG = "SHA256SUMS.sig"
KEY = "signing-key.pem"
ROLES = ("manifest", "share", "compartment", "release-key", "audit", "signature", "signing-key", "instructions",
         "checksums", "key-history", "holders")


@dataclass(frozen=True)
class PackageFile:
    """A file to put in a package: bytes, or a large file on disk whose digest may already be known."""

    name: str
    role: str
    data: bytes | None = None
    source: Path | None = None
    sha256: str | None = None
    crc32: int | None = None  # known for stored blobs: the zip then needs no second reading

    def digest(self) -> str:
        if self.sha256:
            return self.sha256
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        assert self.source is not None
        return _file_digest(self.source)

    def size(self) -> int:
        return len(self.data) if self.data is not None else os.path.getsize(self.source or "")


def _file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def build(folder: Path, manifest: dict[str, Any], files: Sequence[PackageFile], signer: Signer) -> Path:
    """Write ``folder`` and ``folder``.zip; returns the zip. Both appear whole or not at all."""
    for f in files:
        if f.role not in ROLES or "/" in f.name or f.name in (MANIFEST, SUMS, SIG, KEY):
            raise ValueError(f"bad package file {f.name!r} with role {f.role!r}")
    public = bytes.fromhex(signer.public_hex)
    pem = signature.public_pem(public).encode()
    listed = [*files, PackageFile(KEY, "signing-key", pem)]
    body = {**manifest, "format": FORMAT, "signing_key": {"file": KEY, "ed25519": signer.public_hex,
                                                          "fingerprint": signature.fingerprint(public)},
            "files": [{"name": f.name, "role": f.role, "size": f.size(), "sha256": f.digest()} for f in listed]
            + [{"name": MANIFEST, "role": "manifest"}, {"name": SUMS, "role": "checksums"},
               {"name": SIG, "role": "signature"}]}
    manifest_bytes = (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode()
    listed.append(PackageFile(MANIFEST, "manifest", manifest_bytes))
    sums = "".join(f"{f.digest()}  {f.name}\n" for f in sorted(listed, key=lambda f: f.name)).encode()
    sig = signer.sign(sums)
    listed += [PackageFile(SUMS, "checksums", sums), PackageFile(SIG, "signature", sig)]

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(f".{folder.name}.building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for f in listed:
        target = staging / f.name
        if f.data is not None:
            target.write_bytes(f.data)
        else:
            assert f.source is not None
            _link_or_copy(f.source, target)
    archive = folder.with_name(folder.name + ".zip")
    partial = archive.with_name(f".{archive.name}.building")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as zf:
        for f in listed:
            if f.source is not None and f.crc32 is not None:
                _add_known(zf, f"{folder.name}/{f.name}", staging / f.name, f.size(), f.crc32)
            else:
                zf.write(staging / f.name, f"{folder.name}/{f.name}")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    partial.replace(archive)
    return archive


def _add_known(zf: zipfile.ZipFile, arcname: str, source: Path, size: int, crc: int) -> None:
    """Add a stored member whose CRC-32 is known, its bytes copied by the kernel.

    ``zipfile`` has no public way to take a known CRC: it would read a large compartment
    again for every holder. This does what ``ZipFile._open_to_write`` does for a seekable
    file (header at ``start_dir``, then the data, then the member is listed and
    ``start_dir`` moves past it), with the header made by ``ZipInfo.FileHeader``.
    """
    info = zipfile.ZipInfo(arcname, (1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = info.compress_size = size
    info.CRC = crc
    info.external_attr = 0o600 << 16
    out = zf.fp
    assert out is not None
    out.seek(zf.start_dir)
    info.header_offset = out.tell()
    zf._writecheck(info)  # type: ignore[attr-defined]
    zf._didModify = True  # type: ignore[attr-defined]
    header = info.FileHeader(size > zipfile.ZIP64_LIMIT)
    out.write(header)
    out.flush()
    with open(source, "rb") as src:
        sent = 0
        while sent < size:
            done = os.sendfile(out.fileno(), src.fileno(), sent, size - sent)
            if done == 0:
                raise DamagedFile(f"{source}: shorter than its recorded size ({sent} of {size} bytes)")
            sent += done
    out.seek(info.header_offset + len(header) + size)
    zf.filelist.append(info)
    zf.NameToInfo[arcname] = info
    zf.start_dir = out.tell()


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # ciphertext is immutable in the store: a hard link costs nothing
    except OSError:
        shutil.copyfile(source, target)


class Package:
    """A package read from its folder or its zip."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.signing_key: bytes | None = None  # the key that verified the package, once ``verify`` has
        self.key_changes: list[keyhistory.Rotation] = []  # from the key with the fingerprint given to it
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if path.is_dir():
            if not (path / MANIFEST).exists():
                raise DamagedFile(f"{path}: expected a release package folder with {MANIFEST}, found none")
        else:
            try:
                self._zip = zipfile.ZipFile(path)
            except (OSError, zipfile.BadZipFile):
                raise DamagedFile(f"{path}: expected a release package (a folder or a .zip), got a file that "
                                  "is not a readable zip (truncated?)") from None
            names = [n for n in self._zip.namelist() if PurePosixPath(n).name == MANIFEST]
            if len(names) != 1:
                raise DamagedFile(f"{path}: expected one {MANIFEST} in the zip, found {len(names)}")
            self._prefix = names[0][: -len(MANIFEST)]
        try:
            self.manifest: dict[str, Any] = json.loads(self.read(MANIFEST))
        except ValueError:
            raise DamagedFile(f"{path}: {MANIFEST} is not valid JSON (the file was altered)") from None
        if self.manifest.get("format") != FORMAT:
            raise DamagedFile(f"{path}: expected a package of format {FORMAT}, got {self.manifest.get('format')!r}")

    def __repr__(self) -> str:
        return f"Package({str(self.path)!r})"

    def read(self, name: str) -> bytes:
        try:
            if self._zip is not None:
                return self._zip.read(self._prefix + name)
            return (self.path / name).read_bytes()
        except (KeyError, FileNotFoundError):
            raise DamagedFile(f"{self.path}: {name} is missing from the package") from None
        except zipfile.BadZipFile:
            raise DamagedFile(f"{self.path}: {name} is damaged in the zip (its CRC does not match)") from None

    def _chunks(self, name: str) -> Iterator[bytes]:
        with self.open_stream(name) as handle:
            try:
                while chunk := handle.read(1 << 20):
                    yield chunk
            except zipfile.BadZipFile:
                raise DamagedFile(f"{self.path}: {name} is damaged in the zip (its CRC does not match)") from None

    def verify(self, trusted_key: bytes | None = None, fingerprint: str | None = None) -> bytes:
        """Check the signature on SHA256SUMS and every file's checksum; returns the key that verified them.

        That key is the one the package carries (``signing-key.pem``), so on its own this proves only
        that the package is whole and was signed by the key inside it: an altered package re-signed
        with another key, carrying that key, verifies too. Who made it is proved by the key's
        ``fingerprint`` as known from outside the package (the holders' e-mails), or by
        ``trusted_key``; both are checked before anything else is read. A fingerprint of a key the
        deployment replaced later is accepted when the package's key history leads from it, through
        changes both keys signed, to the package's key (``key_changes``).
        """
        pem = self.read(KEY).decode("ascii", errors="replace")
        public = signature.public_from_pem(pem, f"{self.path}: {KEY}")
        expected = None if fingerprint is None else signature.parse_fingerprint(fingerprint, "the fingerprint given")
        found = signature.fingerprint(public)
        changes = self._changes_since(public, expected) if expected not in (None, found) else []
        if expected not in (None, found) and not changes:
            raise BadSignature(f"{self.path}: signed by the key with fingerprint {found}, "
                               f"not the one expected ({expected}, from Baton's e-mails): the package was not made "
                               "by your Baton service")
        if trusted_key is not None and public != trusted_key:
            raise BadSignature(f"{self.path}: signed by another key (fingerprint {signature.fingerprint(public)}) "
                               f"than the one expected ({signature.fingerprint(trusted_key)})")
        sums = self.read(SUMS)
        signature.verify(public, sums, self.read(SIG), f"{self.path}: {SUMS}")
        listed: dict[str, str] = {}
        for number, line in enumerate(sums.decode("utf-8", errors="replace").splitlines(), 1):
            digest, sep, name = line.partition("  ")
            if not sep or len(digest) != 64:
                raise DamagedFile(f"{self.path}: {SUMS} line {number} is not '<sha256>  <name>'")
            listed[name] = digest
        for entry in self.manifest.get("files", []):
            if entry["name"] not in (SUMS, SIG) and entry["name"] not in listed:
                raise DamagedFile(f"{self.path}: {entry['name']} is not covered by {SUMS}")
        for name, digest in listed.items():
            hasher = hashlib.sha256()
            for chunk in self._chunks(name):
                hasher.update(chunk)
            if hasher.hexdigest() != digest:
                raise DamagedFile(f"{self.path}: {name}: checksum does not match {SUMS} (the file is truncated "
                                  "or altered)")
        named = (self.manifest.get("signing_key") or {}).get("ed25519")
        if named != public.hex():
            raise BadSignature(f"{self.path}: {MANIFEST} names another signing key than {KEY} (the package was "
                               "altered)")
        self.signing_key, self.key_changes = public, changes
        return public

    def _changes_since(self, public: bytes, expected: str | None) -> list[keyhistory.Rotation]:
        """The signed key changes from the key with fingerprint ``expected`` to ``public`` (newest
        first), or none when the package's history does not lead there."""
        try:
            data = json.loads(self.read(keyhistory.FILE))
        except DamagedFile:
            return []  # a package made before any rotation carries no history
        except ValueError:
            raise DamagedFile(f"{self.path}: {keyhistory.FILE} is not valid JSON (the file was altered)") from None
        path = keyhistory.earlier_keys(public, keyhistory.parse(data, f"{self.path}: {keyhistory.FILE}"))
        reached = [signature.fingerprint(step.old) for step in path]
        return path[: reached.index(expected) + 1] if expected in reached else []

    def file_with_role(self, role: str) -> str:
        names = [f["name"] for f in self.manifest.get("files", []) if f.get("role") == role]
        if len(names) != 1:
            raise DamagedFile(f"{self.path}: expected one file with the role {role!r} in the manifest, "
                              f"found {len(names)}")
        return str(names[0])

    def open_stream(self, name: str) -> IO[bytes]:
        try:
            if self._zip is not None:
                return self._zip.open(self._prefix + name)
            return open(self.path / name, "rb")  # noqa: SIM115 - the caller closes it
        except (KeyError, FileNotFoundError):
            raise DamagedFile(f"{self.path}: {name} is missing from the package") from None
