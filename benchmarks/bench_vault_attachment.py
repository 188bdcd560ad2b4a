"""A large vault attachment: Baton's encrypt and decrypt paths against the ``age`` command on the same data.

    python benchmarks/bench_vault_attachment.py [--size-mb 100] [--rounds 3] [--age age]

One attachment of ``--size-mb`` MiB of random bytes, in one compartment. Baton's owner-side
path, as ``OwnerVault.save`` and ``OwnerVault.open`` run it, in memory: a
``vault.document.Compartment`` with one ``file`` entry holding the attachment,
``vault.document.encrypt`` (the zip packed in memory and streamed through age to two
recipients: the owner's key and the compartment's release key); back again,
``vault.document.decrypt`` with the owner's identity (streamed out of age, then the zip
read). Against it, the ``age`` command on the
same bytes in a file: ``age -r OWNER -r RELEASE -o out.age in.bin`` and
``age -d -i owner.txt -o out.bin out.age``, process start, reads and writes included. The
files go in a temporary folder on /dev/shm (tmpfs) when there is one, so a disk does not
set the pace; the output says where they went.

Each of ``--rounds`` rounds times the four in turn, Baton first in even rounds and ``age``
first in odd ones; the figures are medians over the rounds. Prints each time, Baton's
parts (document.encrypt, document.decrypt) with the minor page faults of each (fresh memory
touched), and time(Baton) / time(age) for encrypting and for decrypting. Target: both
ratios at most 1.5.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
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
from typing import Any, TypeVar

import _common

from vault import document, keys, release
from vault.entries import entry_from_dict

TARGET = 1.5
MiB = 1 << 20
T = TypeVar("T")


def scratch_folder() -> Path:
    """A temporary folder on /dev/shm (tmpfs) if the machine has one, else in the default temp folder."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="baton-bench-", dir=base))


def age_version(age: str) -> str:
    done = subprocess.run([age, "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip() or done.stderr.strip()


def timed(call: Callable[[], T]) -> tuple[float, T]:
    began = time.perf_counter()
    result = call()
    return time.perf_counter() - began, result


def minor_faults() -> int:
    """This process's minor page faults so far: each first touch of a fresh 4 KiB page of memory."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def part(record: list[tuple[float, int]], call: Callable[[], T]) -> T:
    """``call()``, its time and its minor page faults appended to ``record``."""
    faults = minor_faults()
    took, result = timed(call)
    record.append((took, minor_faults() - faults))
    return result


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
          f"files in {folder} ({_common.filesystem(folder)})")
    if os.environ.get("GLIBC_TUNABLES"):
        print(f"   GLIBC_TUNABLES={os.environ['GLIBC_TUNABLES']}")
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

        parts: dict[str, list[tuple[float, int]]] = {name: [] for name in ("encrypt", "decrypt")}
        totals: dict[str, list[float]] = {name: [] for name in ("baton encrypt", "age encrypt",
                                                                "baton decrypt", "age decrypt")}

        held: dict[str, Any] = {}  # Baton's ciphertext, then the attachment it gave back

        def baton_encrypt() -> None:
            compartment = document.Compartment("bench")
            compartment.put(entry, data)
            held["sealed"] = part(parts["encrypt"], lambda: document.encrypt(compartment, recipients))

        def baton_decrypt() -> None:
            source = held.pop("source")
            opened = part(parts["decrypt"], lambda: document.decrypt(source, [owner], "compartment bench"))
            held["opened"] = opened.attachments["attachment"]

        def age_encrypt() -> None:
            subprocess.run([args.age, "-r", recipients[0].text, "-r", recipients[1].text, "-o", str(sealed_file),
                            str(plain_file)], check=True)

        def age_decrypt() -> None:
            subprocess.run([args.age, "-d", "-i", str(key_file), "-o", str(opened_file), str(sealed_file)],
                           check=True)

        steps = {"baton encrypt": baton_encrypt, "age encrypt": age_encrypt,
                 "baton decrypt": baton_decrypt, "age decrypt": age_decrypt}
        sizes: dict[str, int] = {}
        for round_ in range(args.rounds):
            order = ("baton", "age") if round_ % 2 == 0 else ("age", "baton")
            sealed_file.unlink(missing_ok=True)
            opened_file.unlink(missing_ok=True)
            for operation in ("encrypt", "decrypt"):
                if operation == "decrypt":  # untimed: the ciphertext arrives whole, as from the server or a file
                    held["source"] = io.BytesIO(b"".join(held["sealed"]))
                for side in order:
                    took, _ = timed(steps[f"{side} {operation}"])
                    totals[f"{side} {operation}"].append(took)
            if held.pop("opened") != data:
                raise SystemExit("Baton's round trip changed the attachment")
            if opened_file.read_bytes() != data:
                raise SystemExit("age's round trip changed the file")
            sizes = {"baton": sum(map(len, held.pop("sealed"))), "age": sealed_file.stat().st_size}
            line = "  ".join(f"{name} {values[-1]:.3f}" for name, values in totals.items())
            print(f"   round {round_ + 1} ({order[0]} first, s): {line}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    med = {name: statistics.median(values) for name, values in totals.items()}
    split = {name: (statistics.median(t for t, _ in values), statistics.median(f for _, f in values))
             for name, values in parts.items()}
    mb = size / MiB
    print(f"\n-- {args.size_mb} MiB attachment, median of {args.rounds} rounds (s, and MiB/s)")
    print(f"   ciphertext: Baton {sizes['baton']:,} bytes (a zip inside), age {sizes['age']:,} bytes")
    for name, seconds in med.items():
        print(f"   {name:<14} {seconds:8.3f}  {mb / seconds:8.0f} MiB/s")
    print(f"   Baton's parts (s, minor page faults; {size // 4096:,} pages of 4 KiB hold the attachment once):")
    for name, label in (("encrypt", "document.encrypt"), ("decrypt", "document.decrypt")):
        print(f"      {label:<17} {split[name][0]:8.3f}  {split[name][1]:>9,.0f} faults")
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
