"""A large vault attachment: Baton's encrypt and decrypt paths against the ``age`` command on the same data.

    python benchmarks/bench_vault_attachment.py [--size-mb 100] [--rounds 3] [--age age]

One attachment of ``--size-mb`` MiB of random bytes, in one compartment. Baton's owner-side
path, as ``OwnerVault.save`` and ``OwnerVault.open`` run it, in memory: a
``vault.document.Compartment`` with one ``file`` entry holding the attachment,
``vault.document.pack``, then ``vault.agecrypt.encrypt`` to two recipients (the owner's
key and the compartment's release key); back again, ``vault.agecrypt.decrypt`` with the
owner's identity, then ``vault.document.unpack``. Against it, the ``age`` command on the
same bytes in a file: ``age -r OWNER -r RELEASE -o out.age in.bin`` and
``age -d -i owner.txt -o out.bin out.age``, process start, reads and writes included. The
files go in a temporary folder on /dev/shm (tmpfs) when there is one, so a disk does not
set the pace; the output says where they went.

Each of ``--rounds`` rounds times the four in turn, Baton first in even rounds and ``age``
first in odd ones; the figures are medians over the rounds. Prints each time, Baton's
parts (pack, encrypt, decrypt, unpack) and time(Baton) / time(age) for encrypting and for
decrypting. Target: both ratios at most 1.5.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import _common

from vault import agecrypt, document, keys, release
from vault.entries import entry_from_dict

TARGET = 1.5
MiB = 1 << 20


def scratch_folder() -> Path:
    """A temporary folder on /dev/shm (tmpfs) if the machine has one, else in the default temp folder."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="baton-bench-", dir=base))


def filesystem(path: Path) -> str:
    """The type and mount point of the filesystem holding ``path``, from /proc/mounts."""
    found = ("unknown filesystem", "")
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                _device, point, kind = line.split()[:3]
                point = point.replace("\\040", " ")
                if path.resolve().is_relative_to(point) and len(point) >= len(found[1]):
                    found = (kind, point)
    except OSError:
        pass
    return f"{found[0]} at {found[1]}" if found[1] else found[0]


def age_version(age: str) -> str:
    done = subprocess.run([age, "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip() or done.stderr.strip()


def timed(call: Callable[[], object]) -> tuple[float, object]:
    began = time.perf_counter()
    result = call()
    return time.perf_counter() - began, result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100, help="attachment size in MiB (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each timing all four (default %(default)s)")
    parser.add_argument("--age", default=shutil.which("age") or "/usr/bin/age",
                        help="the age command (default %(default)s)")
    args = parser.parse_args()
    if args.size_mb < 1 or args.rounds < 1:
        parser.error("--size-mb and --rounds: expected at least 1")

    size = args.size_mb * MiB
    folder = scratch_folder()
    print("== a large vault attachment: Baton's encrypt/decrypt path against the age command")
    print(f"   {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {_common.machine()}")
    print(f"   age {age_version(args.age)} ({args.age}); pyrage {version('pyrage')}; "
          f"files in {folder} ({filesystem(folder)})")
    try:
        data = os.urandom(size)
        plain_file, sealed_file, opened_file = folder / "in.bin", folder / "out.age", folder / "out.bin"
        plain_file.write_bytes(data)
        owner, release_key = keys.generate_identity(), release.new_release_key()
        recipients = [keys.public_of(owner), keys.public_of(release_key)]
        key_file = folder / "owner.txt"
        key_file.write_text(f"# public key: {recipients[0].text}\n{keys.identity_text(owner)}\n")
        entry = entry_from_dict({"id": "attachment", "kind": "file", "title": "A large attachment",
                                 "fields": {"filename": "attachment.bin"}, "updated_at": "2026-11-22"})

        parts: dict[str, list[float]] = {name: [] for name in ("pack", "encrypt", "decrypt", "unpack")}
        totals: dict[str, list[float]] = {name: [] for name in ("baton encrypt", "age encrypt",
                                                                "baton decrypt", "age decrypt")}

        def baton_encrypt() -> bytes:
            compartment = document.Compartment("bench")
            compartment.put(entry, data)
            took, packed = timed(lambda: document.pack(compartment))
            parts["pack"].append(took)
            took, sealed = timed(lambda: agecrypt.encrypt(packed, recipients))  # type: ignore[arg-type]
            parts["encrypt"].append(took)
            assert isinstance(sealed, bytes)
            return sealed

        def baton_decrypt(sealed: bytes) -> document.Compartment:
            took, plain = timed(lambda: agecrypt.decrypt(sealed, [owner], "compartment bench"))
            parts["decrypt"].append(took)
            took, opened = timed(lambda: document.unpack(plain, "compartment bench"))  # type: ignore[arg-type]
            parts["unpack"].append(took)
            assert isinstance(opened, document.Compartment)
            return opened

        def age_encrypt() -> None:
            subprocess.run([args.age, "-r", recipients[0].text, "-r", recipients[1].text, "-o", str(sealed_file),
                            str(plain_file)], check=True)

        def age_decrypt() -> None:
            subprocess.run([args.age, "-d", "-i", str(key_file), "-o", str(opened_file), str(sealed_file)],
                           check=True)

        sizes: dict[str, int] = {}
        for round_ in range(args.rounds):
            baton_first = round_ % 2 == 0
            sealed_file.unlink(missing_ok=True)
            opened_file.unlink(missing_ok=True)
            sealed = b""
            for side in ("baton", "age") if baton_first else ("age", "baton"):
                if side == "baton":
                    took, sealed = timed(baton_encrypt)  # type: ignore[assignment]
                else:
                    took, _ = timed(age_encrypt)
                totals[f"{side} encrypt"].append(took)
            for side in ("baton", "age") if baton_first else ("age", "baton"):
                if side == "baton":
                    took, opened = timed(lambda: baton_decrypt(sealed))
                    assert isinstance(opened, document.Compartment)
                    if opened.attachments["attachment"] != data:
                        raise SystemExit("Baton's round trip changed the attachment")
                    del opened
                else:
                    took, _ = timed(age_decrypt)
                totals[f"{side} decrypt"].append(took)
            if opened_file.read_bytes() != data:
                raise SystemExit("age's round trip changed the file")
            sizes = {"baton": len(sealed), "age": sealed_file.stat().st_size}
            del sealed
            line = "  ".join(f"{name} {values[-1]:.3f}" for name, values in totals.items())
            print(f"   round {round_ + 1} ({'Baton' if baton_first else 'age'} first, s): {line}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    med = {name: statistics.median(values) for name, values in totals.items()}
    part = {name: statistics.median(values) for name, values in parts.items()}
    mb = size / MiB
    print(f"\n-- {args.size_mb} MiB attachment, median of {args.rounds} rounds (s, and MiB/s)")
    print(f"   ciphertext: Baton {sizes['baton']:,} bytes (a zip inside), age {sizes['age']:,} bytes")
    for name, seconds in med.items():
        print(f"   {name:<14} {seconds:8.3f}  {mb / seconds:8.0f} MiB/s")
    print(f"   Baton's parts: pack {part['pack']:.3f}, agecrypt.encrypt {part['encrypt']:.3f}; "
          f"agecrypt.decrypt {part['decrypt']:.3f}, unpack {part['unpack']:.3f}")
    ratios = {"encrypt": med["baton encrypt"] / med["age encrypt"],
              "decrypt": med["baton decrypt"] / med["age decrypt"]}
    for name, ratio in ratios.items():
        print(f"   {name}: Baton / age = {ratio:.2f}")
    worst = max(ratios.values())
    verdict = "PASS" if worst <= TARGET else "FAIL"
    print(f"{verdict}: Baton / age is {ratios['encrypt']:.2f} for encrypting and {ratios['decrypt']:.2f} for "
          f"decrypting {args.size_mb} MiB (target at most {TARGET})")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
