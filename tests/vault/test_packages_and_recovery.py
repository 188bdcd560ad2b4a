"""Release packages: a quorum of holders opens a compartment, anything less or altered opens nothing.

One release is made for the module: a compartment encrypted to the owner and a release
key, a 2-of-3 split of the release key sealed to Ana, Budi and Carla, and a package per
holder, signed. Sealing costs a second of scrypt, so it is done twice in all (the second
split is the "other release").
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from pyrage import x25519

from tests_support import tool
from vault import agecrypt, release
from vault.document import Compartment, pack, unpack
from vault.entries import entry_from_dict
from vault.errors import BadSignature, DamagedFile, MismatchedShares, NotEnoughShares, WrongKey
from vault.keys import Identity, generate_identity, public_of
from vault.package import Package, PackageFile, build
from vault.recovery import Recovered, recover, write_opened
from vault.release import SealedSplit, read_share_file, seal
from vault.shares import SharePolicy, combine, policy_from_dict
from vault.signature import FINGERPRINT_COMMAND, fingerprint, parse_fingerprint, public_pem

HOLDERS = ("ana", "budi", "carla")
NAME = "operations"
ATTACHMENT = b"%PDF-1.7\n" + bytes(range(256)) * 16
CHECKSUMS_FAILED = "checksum does not match SHA256SUMS (the file is truncated or altered)"


class Signer:
    """An Ed25519 signer as the service has one (PyNaCl)."""

    def __init__(self) -> None:
        self._key = SigningKey.generate()

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message).signature)

    @property
    def public_hex(self) -> str:
        return bytes(self._key.verify_key).hex()

    @property
    def public(self) -> bytes:
        return bytes(self._key.verify_key)


@dataclass(frozen=True)
class Release:
    owner: x25519.Identity
    identities: dict[str, x25519.Identity]
    release_key: x25519.Identity
    policy: SharePolicy
    compartment: Compartment
    ciphertext: bytes  # the compartment, to the owner and the release key
    split: SealedSplit
    other_split: SealedSplit  # a second split of the same release key: another release
    signer: Signer
    folders: dict[str, Path]  # holder -> their package folder (the zip is beside it)


def _compartment() -> Compartment:
    compartment = Compartment(NAME)
    compartment.put(entry_from_dict({"id": "mail", "kind": "login", "title": "Mail admin", "updated_at": "2026-03-01",
                                     "fields": {"username": "postmaster", "password": "hunter2-mail"}}))
    compartment.put(entry_from_dict({"id": "contract", "kind": "file", "title": "Datacentre contract",
                                     "updated_at": "2026-03-01", "fields": {"filename": "contract.pdf"}}), ATTACHMENT)
    return compartment


def _build(root: Path, holder: str, split: SealedSplit, signer: Signer, ciphertext: bytes,
           folder_name: str | None = None) -> Path:
    """The holder's package folder, built as the service builds it (the zip is written beside it)."""
    folder = root / (folder_name or f"{holder}-{NAME}")
    manifest = {"compartment": NAME, "split": split.split_id, "policy": split.policy.to_dict(),
                "holder": {"name": holder, "language": "en"}, "drill": False}
    files = [PackageFile(f"share-{holder}.age", "share", split.sealed[holder]),
             PackageFile(f"compartment-{NAME}.age", "compartment", ciphertext),
             PackageFile(f"release-key-{NAME}.age", "release-key", split.protected_release_key)]
    zipped = build(folder, manifest, files, signer)
    assert zipped == folder.with_name(folder.name + ".zip")
    return folder


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Release:
    identities = {h: generate_identity() for h in HOLDERS}
    recipients = {h: public_of(i) for h, i in identities.items()}
    owner, release_key = generate_identity(), release.new_release_key()
    policy = policy_from_dict({"threshold": 2, "holders": list(HOLDERS)})
    compartment = _compartment()
    ciphertext = agecrypt.encrypt(pack(compartment), [public_of(owner), public_of(release_key)])
    split = seal(release_key, NAME, policy, recipients)
    other_split = seal(release_key, NAME, policy, recipients)
    while other_split.split_id == split.split_id:  # one chance in 32768
        other_split = seal(release_key, NAME, policy, recipients)
    signer = Signer()
    root = tmp_path_factory.mktemp("packages")
    folders = {h: _build(root, h, split, signer, ciphertext) for h in HOLDERS}
    return Release(owner, identities, release_key, policy, compartment, ciphertext, split, other_split, signer,
                   folders)


def _packages(made: Release, *holders: str, zipped: bool = False) -> list[Package]:
    folders = [made.folders[h] for h in holders or HOLDERS]
    return [Package(f.with_name(f.name + ".zip") if zipped else f) for f in folders]


def _ids(made: Release, *holders: str) -> list[Identity]:
    return [made.identities[h] for h in holders]


def _copy(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / folder.name))


@pytest.fixture(scope="module")
def recovered(made: Release) -> Recovered:
    """The compartment opened from all three package folders with Ana's and Carla's identities."""
    report = recover(_packages(made), _ids(made, "ana", "carla"))
    assert report.problems == []
    assert len(report.opened) == 1
    return report.opened[0]


# A quorum opens


def test_two_holders_open_the_compartment_from_the_folders(made: Release, recovered: Recovered) -> None:
    """Two of three holders' identities, with all packages, open the compartment, naming whose shares opened it."""
    assert (recovered.compartment, recovered.holders, recovered.drill) == (NAME, ["ana", "carla"], False)
    opened = unpack(recovered.plaintext, "the opened compartment")
    assert {k: e.to_dict() for k, e in opened.entries.items()} == {k: e.to_dict()
                                                                  for k, e in made.compartment.entries.items()}
    assert opened.attachments == {"contract": ATTACHMENT}
    assert repr(recovered) == "Recovered('operations', holders=['ana', 'carla'])"


def test_two_holders_open_the_compartment_from_the_zips(made: Release) -> None:
    """The same works from the two holders' zips, with the service's key given as the trusted one."""
    report = recover(_packages(made, "budi", "carla", zipped=True), _ids(made, "budi", "carla"),
                     trusted_key=made.signer.public)
    assert [(r.compartment, r.holders) for r in report.opened] == [(NAME, ["budi", "carla"])]
    assert sorted(unpack(report.opened[0].plaintext, "the opened compartment").entries) == ["contract", "mail"]


def test_all_three_holders_together_open_the_compartment(made: Release) -> None:
    """More holders than the threshold open the compartment too."""
    report = recover(_packages(made), _ids(made, *HOLDERS))
    assert [(r.compartment, r.holders) for r in report.opened] == [(NAME, list(HOLDERS))]


def test_write_opened_extracts_the_documents_and_attachments(made: Release, recovered: Recovered,
                                                             tmp_path: Path) -> None:
    """write_opened puts README.md, vault.html, vault.json and the attachment in a folder named for the compartment."""
    target = write_opened(recovered, tmp_path)
    assert target == tmp_path / NAME
    written = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert written == ["README.md", "attachments/contract/contract.pdf", "vault.html", "vault.json"]
    assert (target / "attachments" / "contract" / "contract.pdf").read_bytes() == ATTACHMENT
    assert json.loads((target / "vault.json").read_text())["compartment"] == NAME
    assert "## Mail admin" in (target / "README.md").read_text()
    assert [p.name for p in tmp_path.iterdir()] == [NAME]  # no staging folder left


def test_write_opened_does_not_overwrite_an_earlier_opening(recovered: Recovered, tmp_path: Path) -> None:
    """Opening into a folder that already holds the compartment is refused, and nothing half-written stays."""
    write_opened(recovered, tmp_path)
    with pytest.raises(FileExistsError) as raised:
        write_opened(recovered, tmp_path)
    assert str(raised.value) == f"{tmp_path / NAME} exists already; choose an empty output folder"


# Less than a quorum, or mixed releases, opens nothing


def test_one_holder_alone_gets_not_enough_shares(made: Release) -> None:
    """One holder's identity, even with every package, is short of the 2-of-3 threshold."""
    with pytest.raises(NotEnoughShares) as raised:
        recover(_packages(made), _ids(made, "budi"))
    assert str(raised.value) == "2 of 3 shares needed, 1 given"


def test_packages_of_two_releases_are_mismatched(made: Release, tmp_path: Path) -> None:
    """Packages from two splits of one compartment are refused, naming both split numbers."""
    other = _build(tmp_path, "budi", made.other_split, made.signer, made.ciphertext)
    with pytest.raises(MismatchedShares) as raised:
        recover([Package(made.folders["ana"]), Package(other)], _ids(made, "ana", "budi"))
    low, high = sorted((made.split.split_id, made.other_split.split_id))
    assert str(raised.value) == (f"compartment {NAME}: the packages come from different splits ({low}, {high}); "
                                 "use packages of one release")


def test_shares_of_two_releases_do_not_combine(made: Release) -> None:
    """Ana's share of one split and Budi's of the other are refused as different splits."""
    ana = read_share_file(agecrypt.decrypt(made.split.sealed["ana"], _ids(made, "ana"), "ana's share"))
    budi = read_share_file(agecrypt.decrypt(made.other_split.sealed["budi"], _ids(made, "budi"), "budi's share"))
    with pytest.raises(MismatchedShares) as raised:
        combine([("share 1 of ana", ana[0]), ("share 1 of budi", budi[0])], made.policy)
    assert str(raised.value) == (f"share 1 of budi comes from a different split (split {made.other_split.split_id}) "
                                 f"than share 1 of ana (split {made.split.split_id}): use shares of one release")


# An altered package is refused before anything is used


def test_a_truncated_compartment_file_fails_its_checksum(made: Release, tmp_path: Path) -> None:
    """A compartment file cut short in the folder is DamagedFile naming the package and the file."""
    folder = _copy(made.folders["ana"], tmp_path)
    file = folder / f"compartment-{NAME}.age"
    file.write_bytes(file.read_bytes()[:-100])
    with pytest.raises(DamagedFile) as raised:
        recover([Package(folder), Package(made.folders["budi"])], _ids(made, "ana", "budi"))
    assert str(raised.value) == f"{folder}: compartment-{NAME}.age: {CHECKSUMS_FAILED}"


def test_altered_checksums_fail_the_signature(made: Release, tmp_path: Path) -> None:
    """A SHA256SUMS rewritten to cover an altered share file fails the signature."""
    folder = _copy(made.folders["ana"], tmp_path)
    share = folder / "share-ana.age"
    share.write_bytes(share.read_bytes() + b"\n")
    digest = hashlib.sha256(share.read_bytes()).hexdigest()
    sums = folder / "SHA256SUMS"
    sums.write_text("".join(f"{digest}  share-ana.age\n" if line.endswith("  share-ana.age") else f"{line}\n"
                            for line in sums.read_text().splitlines()))
    with pytest.raises(BadSignature) as raised:
        recover([Package(folder), Package(made.folders["budi"])], _ids(made, "ana", "budi"))
    assert str(raised.value) == (f"{folder}: SHA256SUMS: the signature does not verify (the package was altered, or "
                                 "was not made by this Baton service)")


def test_a_package_signed_by_another_key_is_refused_when_a_key_is_trusted(made: Release, tmp_path: Path) -> None:
    """With the service's key given, a package signed by any other key is BadSignature naming both fingerprints."""
    stranger = Signer()
    folder = _build(tmp_path, "ana", made.split, stranger, made.ciphertext)
    with pytest.raises(BadSignature) as raised:
        recover([Package(folder), Package(made.folders["budi"])], _ids(made, "ana", "budi"),
                trusted_key=made.signer.public)
    assert str(raised.value) == (f"{folder}: signed by another key (fingerprint {fingerprint(stranger.public)}) than "
                                 f"the one expected ({fingerprint(made.signer.public)})")


def test_packages_signed_by_two_keys_are_refused_together(made: Release, tmp_path: Path) -> None:
    """Without a trusted key, the first package's key must sign every other package given with it."""
    stranger = Signer()
    folder = _build(tmp_path, "budi", made.split, stranger, made.ciphertext)
    with pytest.raises(BadSignature) as raised:
        recover([Package(made.folders["ana"]), Package(folder)], _ids(made, "ana", "budi"))
    assert str(raised.value) == (f"{folder}: signed by another key (fingerprint {fingerprint(stranger.public)}) than "
                                 f"the one expected ({fingerprint(made.signer.public)})")


def test_a_compartment_damaged_before_packaging_is_a_damaged_file(made: Release, tmp_path: Path) -> None:
    """A compartment file whose age payload is cut short (with matching checksums) is DamagedFile, not an OSError."""
    truncated = made.ciphertext[:-5]
    folders = [_build(tmp_path, h, made.split, made.signer, truncated) for h in ("ana", "budi")]
    with pytest.raises(DamagedFile) as raised:
        recover([Package(f) for f in folders], _ids(made, "ana", "budi"))
    assert str(raised.value) == f"compartment {NAME}: the file is truncated or altered (a payload MAC does not match)"


@pytest.mark.parametrize(("damage", "message"), [
    pytest.param(lambda data: data[: len(data) // 2], "expected a release package (a folder or a .zip), got a file "
                                                      "that is not a readable zip (truncated?)", id="truncated-zip"),
    pytest.param(lambda data: b"", "expected a release package (a folder or a .zip), got a file that is not a "
                                   "readable zip (truncated?)", id="empty-file"),
])
def test_a_damaged_zip_is_not_a_package(made: Release, tmp_path: Path, damage: Callable[[bytes], bytes],
                                        message: str) -> None:
    """A package zip that is not a readable zip is DamagedFile naming it."""
    path = tmp_path / "ana-operations.zip"
    path.write_bytes(damage(made.folders["ana"].with_name("ana-operations.zip").read_bytes()))
    with pytest.raises(DamagedFile) as raised:
        Package(path)
    assert str(raised.value) == f"{path}: {message}"


def test_a_folder_without_a_manifest_is_not_a_package(tmp_path: Path) -> None:
    """A folder with no manifest.json is DamagedFile naming it."""
    with pytest.raises(DamagedFile) as raised:
        Package(tmp_path)
    assert str(raised.value) == f"{tmp_path}: expected a release package folder with manifest.json, found none"


# Zero knowledge: the server's ciphertext opens for nobody but the owner and a quorum


def test_without_a_holder_identity_nothing_opens(made: Release) -> None:
    """A stranger with every share, the protected release key and the compartment file opens none of them."""
    stranger = [generate_identity()]
    files = {f"the share of {h}": made.split.sealed[h] for h in HOLDERS}
    files |= {"the release key": made.split.protected_release_key, f"compartment {NAME}": made.ciphertext}
    for what, data in files.items():
        with pytest.raises(WrongKey) as raised:
            agecrypt.decrypt(data, stranger, what)
        assert str(raised.value) == (f"{what}: none of the identities given can open it (a wrong key, or a key for "
                                     "another file)")
    with pytest.raises(WrongKey) as raised:
        recover(_packages(made), stranger)
    assert str(raised.value) == (f"compartment {NAME}: none of the identities given opens any share in these "
                                 "packages (the shares belong to ana, budi, carla)")


def test_one_holder_identity_opens_only_that_holders_share(made: Release) -> None:
    """Ana's identity opens Ana's share (one mnemonic, not enough alone) and nothing else."""
    ana = _ids(made, "ana")
    mnemonics = read_share_file(agecrypt.decrypt(made.split.sealed["ana"], ana, "the share of ana"))
    assert len(mnemonics) == 1
    with pytest.raises(NotEnoughShares) as raised:
        combine([("share 1 of ana", mnemonics[0])], made.policy)
    assert str(raised.value) == "2 of 3 shares needed, 1 given"
    for data in (made.split.sealed["budi"], made.split.protected_release_key, made.ciphertext):
        with pytest.raises(WrongKey):
            agecrypt.decrypt(data, ana, "a file")


def test_the_owner_alone_opens_the_compartment_file_but_no_share(made: Release) -> None:
    """The compartment is encrypted to the owner too, so the owner opens it directly; the shares stay closed."""
    opened = unpack(agecrypt.decrypt(made.ciphertext, [made.owner], "the compartment"), "the compartment")
    assert sorted(opened.entries) == ["contract", "mail"]
    with pytest.raises(WrongKey):
        recover(_packages(made), [made.owner])


def test_the_owners_copy_of_the_release_key_opens_for_the_owner_alone(made: Release) -> None:
    """keep_for_owner gives a file only the owner opens, holding the release key itself."""
    kept = release.keep_for_owner(made.release_key, public_of(made.owner))
    assert str(release.open_for_owner(kept, [made.owner])) == str(made.release_key)
    with pytest.raises(WrongKey):
        release.open_for_owner(kept, _ids(made, *HOLDERS))


def test_a_sealed_split_shows_no_share_in_its_repr(made: Release) -> None:
    """repr of a sealed split names the split and its holders only."""
    assert repr(made.split) == f"SealedSplit(split_id={made.split.split_id}, holders=['ana', 'budi', 'carla'])"


# Off-the-shelf tools check a package


def _sha256sum(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("sha256sum"), "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True,
                          check=False)


def _openssl_verify(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("openssl"), "pkeyutl", "-verify", "-pubin", "-inkey", "signing-key.pem", "-rawin",
                           "-in", "SHA256SUMS", "-sigfile", "SHA256SUMS.sig"], cwd=folder, capture_output=True,
                          text=True, check=False)


def test_sha256sum_and_openssl_accept_a_package(made: Release) -> None:
    """``sha256sum -c SHA256SUMS`` and ``openssl pkeyutl -verify`` both pass on a package as built."""
    checked = _sha256sum(made.folders["ana"])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert sorted(checked.stdout.splitlines()) == sorted(f"{name}: OK" for name in (
        f"compartment-{NAME}.age", "manifest.json", f"release-key-{NAME}.age", "share-ana.age", "signing-key.pem"))
    verified = _openssl_verify(made.folders["ana"])
    assert (verified.returncode, verified.stdout.strip()) == (0, "Signature Verified Successfully")


def test_sha256sum_catches_an_altered_file_and_openssl_altered_checksums(made: Release, tmp_path: Path) -> None:
    """An altered share fails ``sha256sum -c``; SHA256SUMS rewritten to match it fails ``openssl pkeyutl -verify``."""
    folder = _copy(made.folders["ana"], tmp_path)
    share = folder / "share-ana.age"
    share.write_bytes(share.read_bytes()[:-1])
    checked = _sha256sum(folder)
    assert checked.returncode == 1
    assert "share-ana.age: FAILED" in checked.stdout.splitlines()
    sums = folder / "SHA256SUMS"
    sums.write_text(subprocess.run([tool("sha256sum"), *sorted(
        line.split("  ", 1)[1] for line in sums.read_text().splitlines())], cwd=folder, capture_output=True,
        text=True, check=True).stdout)
    assert _sha256sum(folder).returncode == 0
    verified = _openssl_verify(folder)
    assert verified.returncode == 1
    assert verified.stdout.strip() == "Signature Verification Failure"


def test_the_zip_holds_the_folder(made: Release) -> None:
    """The zip holds exactly the folder's files under the folder's name, byte for byte."""
    folder = made.folders["ana"]
    with zipfile.ZipFile(folder.with_name(folder.name + ".zip")) as archive:
        inside = {name: archive.read(name) for name in archive.namelist()}
    assert inside == {f"{folder.name}/{p.name}": p.read_bytes() for p in folder.iterdir()}
    assert json.loads(inside[f"{folder.name}/manifest.json"])["holder"] == {"name": "ana", "language": "en"}


# The signing key's fingerprint: one definition, what the instructions' command prints, checked first


def test_the_fingerprint_is_what_openssl_and_sha256sum_print_for_the_package_key(made: Release) -> None:
    """Debian's openssl and coreutils, run as the instructions say, print exactly ``fingerprint``."""
    tool("openssl"), tool("sha256sum")
    printed = subprocess.run(["bash", "-c", FINGERPRINT_COMMAND], cwd=made.folders["ana"], capture_output=True,
                             text=True, timeout=30)
    assert printed.returncode == 0 and printed.stderr == ""
    assert printed.stdout == f"{fingerprint(made.signer.public)}  -\n"
    assert Package(made.folders["ana"]).manifest["signing_key"]["fingerprint"] == fingerprint(made.signer.public)


@pytest.mark.parametrize("how", ["as printed", "sha256sum's line", "upper case", "grouped", "colons"])
def test_a_fingerprint_is_read_as_people_paste_it(made: Release, how: str) -> None:
    real = fingerprint(made.signer.public)
    typed = {"as printed": real, "sha256sum's line": f"{real}  -\n", "upper case": f"  {real.upper()} ",
             "grouped": " ".join(real[i:i + 4] for i in range(0, 64, 4)),
             "colons": ":".join(real[i:i + 2] for i in range(0, 64, 2))}[how]
    assert parse_fingerprint(typed) == real


@pytest.mark.parametrize("typed", ["", "abc", "0" * 63, "g" * 64, "0" * 65, "DEAD BEEF " * 7, "-"])
def test_anything_else_given_as_a_fingerprint_is_refused_in_one_line(typed: str) -> None:
    with pytest.raises(BadSignature) as raised:
        parse_fingerprint(typed, "--fingerprint")
    assert str(raised.value) == ("--fingerprint: expected the signing key's fingerprint, 64 hex digits (as in "
                                 f"Baton's e-mails), got {typed!r}")


def test_packages_open_when_signed_by_the_key_with_the_fingerprint_given(made: Release) -> None:
    report = recover(_packages(made, "ana", "budi"), _ids(made, "ana", "budi"),
                     fingerprint=fingerprint(made.signer.public).upper())
    assert [r.compartment for r in report.opened] == [NAME] and report.signing_key == made.signer.public


def test_a_package_signed_by_another_key_is_refused_by_the_fingerprint_before_anything_else(
        made: Release, tmp_path: Path) -> None:
    """A package made whole by another key (it verifies against the key it carries) is refused by the
    fingerprint known from outside, naming both; nothing of it is read further."""
    stranger = Signer()
    folder = _build(tmp_path, "ana", made.split, stranger, made.ciphertext)
    assert Package(folder).verify() == stranger.public  # on its own, it proves only its own key
    with pytest.raises(BadSignature) as raised:
        recover([Package(folder), Package(made.folders["budi"])], _ids(made, "ana", "budi"),
                fingerprint=fingerprint(made.signer.public))
    assert str(raised.value) == (f"{folder}: signed by the key with fingerprint {fingerprint(stranger.public)}, not "
                                 f"the one expected ({fingerprint(made.signer.public)}, from Baton's e-mails): the "
                                 "package was not made by your Baton service")


def test_a_manifest_naming_another_key_than_the_one_that_signed_is_refused(made: Release, tmp_path: Path) -> None:
    """signing-key.pem swapped for another key that re-signed SHA256SUMS, manifest.json still naming the real key."""
    stranger = Signer()
    folder = _copy(made.folders["ana"], tmp_path)
    (folder / "signing-key.pem").write_text(public_pem(stranger.public))
    sums = "".join(f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}\n" for name in
                   [line.split("  ", 1)[1] for line in (folder / "SHA256SUMS").read_text().splitlines()]).encode()
    (folder / "SHA256SUMS").write_bytes(sums)
    (folder / "SHA256SUMS.sig").write_bytes(stranger.sign(sums))
    with pytest.raises(BadSignature) as raised:
        recover([Package(folder)], _ids(made, "ana", "budi"))
    assert str(raised.value) == f"{folder}: manifest.json names another signing key than signing-key.pem (the " \
                                "package was altered)"
