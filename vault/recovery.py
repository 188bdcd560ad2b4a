"""Opening compartments from release packages and holders' identities: the friendly path.

It does what the package's instructions tell a person to do with off-the-shelf tools:
check the signature and checksums, unseal each holder's share, combine the shares,
open the release key with the master secret, and open the compartment.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol, cast

from vault import agecrypt, document, release, shares
from vault.errors import BadSignature, MismatchedShares, ShareError, VaultError, WrongKey
from vault.keyhistory import Rotation
from vault.keys import Identity
from vault.package import Package


class Steps(Protocol):
    """Where a long recovery reports how far it is (a progress bar on a terminal; nothing by default)."""

    def describe(self, description: str, total: float | None = None, unit: str = "items") -> None: ...

    def advance(self, steps: int = 1) -> None: ...


class _Unseen:
    def describe(self, description: str, total: float | None = None, unit: str = "items") -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass


class _Counted:
    """A binary source that tells ``steps`` how many bytes were read from it."""

    def __init__(self, source: IO[bytes], steps: Steps) -> None:
        self._source, self._steps = source, steps

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self._steps.advance(len(data))
        return data


@dataclass
class Recovered:
    """One opened compartment: its plaintext zip (in memory) and whose shares opened it."""

    compartment: str
    plaintext: bytes
    holders: list[str]
    drill: bool

    def __repr__(self) -> str:
        return f"Recovered({self.compartment!r}, holders={self.holders})"


@dataclass
class Report:
    opened: list[Recovered] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    signing_key: bytes | None = None  # the key that verified every package
    key_changes: list[Rotation] = field(default_factory=list)  # from the fingerprint given to that key


def recover(packages: Sequence[Package], identities: Sequence[Identity],
            trusted_key: bytes | None = None, fingerprint: str | None = None, steps: Steps | None = None) -> Report:
    """Open every compartment for which the packages and identities make a quorum.

    A package that fails its signature or checksums stops everything (``BadSignature`` /
    ``DamagedFile``): nothing from an altered package is used. Every package must be signed by
    one key: with ``fingerprint`` (known from outside the packages: the holders' e-mails) or
    ``trusted_key``, that key; without either, the key the first package carries, which proves
    nothing about who made them. Compartments short of a quorum are reported in ``problems``;
    if none opens, the first problem is raised. ``steps`` hears of each package checked and of
    each compartment's bytes decrypted.
    """
    steps = steps or _Unseen()
    steps.describe("checking the packages' signatures and checksums", len(packages))
    key = trusted_key
    for package in packages:
        key = package.verify(key, fingerprint)
        steps.advance()
    by_compartment: dict[str, list[Package]] = defaultdict(list)
    for package in packages:
        by_compartment[str(package.manifest["compartment"])].append(package)
    report = Report(signing_key=key, key_changes=packages[0].key_changes if packages else [])
    errors: list[VaultError] = []
    for name, group in sorted(by_compartment.items()):
        try:
            report.opened.append(_open(name, group, identities, steps))
        except (ShareError, WrongKey) as exc:
            errors.append(exc)
            report.problems.append(f"compartment {name}: {exc}")
    if not report.opened and errors:
        raise errors[0]
    return report


def _open(name: str, packages: list[Package], identities: Sequence[Identity], steps: Steps) -> Recovered:
    splits = {int(p.manifest["split"]) for p in packages}
    if len(splits) > 1:
        raise MismatchedShares(f"compartment {name}: the packages come from different splits "
                               f"({', '.join(str(s) for s in sorted(splits))}); use packages of one release")
    policy = shares.policy_from_dict(packages[0].manifest["policy"])
    labelled: list[tuple[str, str]] = []
    holders: list[str] = []
    for package in packages:
        holder = str(package.manifest["holder"]["name"])
        sealed = package.read(package.file_with_role("share"))
        try:
            body = agecrypt.decrypt(sealed, identities, f"the share of {holder}")
        except WrongKey:
            continue  # this holder's identity was not given; the others may suffice
        holders.append(holder)
        labelled += [(f"share {i + 1} of {holder}", m) for i, m in enumerate(release.read_share_file(body))]
    if not labelled:
        raise WrongKey(f"compartment {name}: none of the identities given opens any share in these packages "
                       f"(the shares belong to {', '.join(str(p.manifest['holder']['name']) for p in packages)})")
    master = shares.combine(labelled, policy)
    release_key = release.open_release_key(packages[0].read(packages[0].file_with_role("release-key")), master)
    out = io.BytesIO()
    file = packages[0].file_with_role("compartment")
    size = next((f.get("size") for f in packages[0].manifest.get("files", []) if f.get("name") == file), None)
    steps.describe(f"decrypting compartment {name}", size if isinstance(size, int) else None, unit="bytes")
    with packages[0].open_stream(file) as source:
        agecrypt.decrypt_stream(cast(IO[bytes], _Counted(source, steps)), out, [release_key], f"compartment {name}")
    plaintext = out.getvalue()
    document.unpack(plaintext, f"compartment {name}")  # proves it is whole before anything is written
    return Recovered(name, plaintext, holders, bool(packages[0].manifest.get("drill")))


def write_opened(recovered: Recovered, out_dir: Path, steps: Steps | None = None) -> Path:
    """Extract an opened compartment into ``out_dir/<name>``; appears whole or not at all. ``steps`` hears
    of each file written."""
    steps = steps or _Unseen()
    target = out_dir / recovered.compartment
    if target.exists():
        raise FileExistsError(f"{target} exists already; choose an empty output folder")
    staging = out_dir / f".{recovered.compartment}.opening"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True, mode=0o700)
    try:
        with zipfile.ZipFile(io.BytesIO(recovered.plaintext)) as archive:
            members = archive.infolist()
            steps.describe(f"writing the files of {recovered.compartment}", len(members))
            for member in members:
                path = (staging / member.filename).resolve()
                if not path.is_relative_to(staging.resolve()):
                    raise BadSignature(f"compartment {recovered.compartment}: a file name leaves the folder")
                path.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(path, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                steps.advance()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # no opened secrets left half-written
        raise
    return target
