"""A package's zip is a valid zip whether a large member's CRC-32 is given or computed."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

from nacl.signing import SigningKey

from vault.package import Package, PackageFile, build


class Signer:
    def __init__(self) -> None:
        self.key = SigningKey.generate()

    def sign(self, message: bytes) -> bytes:
        return bytes(self.key.sign(message).signature)

    @property
    def public_hex(self) -> str:
        return bytes(self.key.verify_key).hex()


def test_a_member_with_a_known_crc_makes_a_zip_that_unzip_and_python_accept(tmp_path: Path) -> None:
    """The compartment is copied by the kernel with its known CRC; unzip -t, testzip and verify agree."""
    blob = tmp_path / "blob"
    data = os.urandom(3 * 1024 * 1024 + 17)
    blob.write_bytes(data)
    files = [PackageFile("share-ana.age", "share", b"sealed share"),
             PackageFile("compartment-operations.age", "compartment", source=blob, crc32=zlib.crc32(data)),
             PackageFile("RECOVER.md", "instructions", b"# how to")]
    archive = build(tmp_path / "pkgs" / "baton-operations-ana", {"compartment": "operations"}, files, Signer())
    with zipfile.ZipFile(archive) as opened:
        assert opened.testzip() is None
        assert opened.read("baton-operations-ana/compartment-operations.age") == data
        assert sorted(n.rsplit("/", 1)[1] for n in opened.namelist()) == sorted(
            ["share-ana.age", "compartment-operations.age", "RECOVER.md", "signing-key.pem", "manifest.json",
             "SHA256SUMS", "SHA256SUMS.sig"])
    Package(archive).verify()
    if shutil.which("unzip"):
        assert subprocess.run(["unzip", "-tq", str(archive)], capture_output=True).returncode == 0


def test_a_wrong_known_crc_is_caught_when_the_zip_is_read(tmp_path: Path) -> None:
    """The CRC is trusted from the blob store; a wrong one shows as a damaged member, not as silence."""
    blob = tmp_path / "blob"
    blob.write_bytes(b"x" * 1000)
    files = [PackageFile("compartment-operations.age", "compartment", source=blob, crc32=12345)]
    archive = build(tmp_path / "pkgs" / "p", {"compartment": "operations"}, files, Signer())
    with zipfile.ZipFile(archive) as opened:
        assert opened.testzip() == "p/compartment-operations.age"
