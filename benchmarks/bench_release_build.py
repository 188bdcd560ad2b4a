"""Building a release: a drill's packages for every holder and compartment, against one ``age`` run on the data.

    python benchmarks/bench_release_build.py [--db sqlite|postgres] [--size-mb 100] [--compartments 2]
                                             [--holders 5] [--threshold 3] [--rounds 3] [--folder DIR]
                                             [--age age] [--profile]

Set up with the real services on a fresh database: ``baton.runtime.build``, then
``vault_parts`` for the ``VaultService`` and ``PackageBuilder``. One owner with a vault key;
``--compartments`` compartments, each with its own release key and one attachment of
random bytes, ``--size-mb`` MiB in all, packed, encrypted to the owner and the release key
and uploaded into the content-addressed store; ``--holders`` heirs with e-mail addresses
and keys set by the owner; a ``--threshold``-of-``--holders`` split per compartment, sealed
on the owner's side (``vault.release.seal``) and stored with ``set_split``.

Timed, per round: ``baton.services.drills.start_drill``, which writes the release and one package row
per holder and compartment in one transaction (``create_release``), builds every package
(``PackageBuilder.build_all``, up to 4 threads: per package a folder, where the compartment
file is hard-linked from the store, and a zip, ``ZIP_STORED``, into which the kernel copies
it with its CRC-32 known from the store), issues key checks and queues the report. The
builds are timed together (wall time) and one by one (the slowest is shown). Against it, on the same filesystem, the
``age`` command encrypts the same plaintext once: ``age -r OWNER -o out.age data.bin``,
where ``data.bin`` holds the attachments one after the other. Rounds alternate which goes
first; the figures are medians. Each drill's packages are removed after its round, outside
the timing. The data dir and the data go in one temporary folder (in ``--folder``, or the
system's temporary folder), removed at the end.

Target: the whole drill within 3x the ``age`` run. ``--profile`` runs one more drill under
cProfile and prints where its time went.
"""

from __future__ import annotations

import base64
import cProfile
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import _common
from sqlalchemy import select

from baton.services import uploads
from baton.services.drills import start_drill
from baton.services.releases import PackageBuilder, vault_parts
from baton.store.tables import packages
from vault import agecrypt, document, keys, release
from vault.entries import entry_from_dict
from vault.shares import policy_from_dict

TARGET = 3.0
MiB = 1 << 20
NAMES = ("ana", "bruno", "carla", "dario", "elena", "fabio", "gina", "hugo", "ines", "luca", "marta", "nico",
         "olga", "piero", "rita", "sara")


@dataclass
class TimedBuilder(PackageBuilder):
    """The real builder; each ``build`` call's time is kept, and the wall time of ``build_all`` (threads overlap)."""

    times: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)

    def build(self, package_id: int, now: datetime) -> Path:
        began = time.perf_counter()
        built = super().build(package_id, now)
        self.times.append(time.perf_counter() - began)
        return built

    def build_all(self, package_ids: list[int], now: datetime) -> list[Path | Exception]:
        began = time.perf_counter()
        built = super().build_all(package_ids, now)
        self.walls.append(time.perf_counter() - began)
        return built


def set_up(runtime: Any, args: Any, folder: Path) -> tuple[int, str, Path, int]:
    """The owner, compartments, holders and splits; returns the owner's id and key, the data file and its size."""
    vault = vault_parts(runtime.service)[0]
    made = runtime.service.create_owner("owner@bench.example", "correct horse battery staple", "Europe/Rome")
    owner_id = made.owner.id
    owner = keys.public_of(keys.generate_identity())
    vault.set_owner_key(owner_id, owner.text)

    holders = NAMES[:args.holders]
    holder_keys = {h: keys.public_of(keys.generate_identity()) for h in holders}
    for holder in holders:
        vault.add_person(owner_id, holder, holder.capitalize(), f"{holder}@bench.example", "en", "heir")
        vault.set_key(owner_id, holder, holder_keys[holder].text, "owner")
    policy = policy_from_dict({"threshold": args.threshold, "holders": list(holders)})

    data_file = folder / "data.bin"
    per = args.size_mb * MiB // args.compartments
    with open(data_file, "wb") as plain:
        for number in range(args.compartments):
            name = f"compartment-{number + 1}"
            release_key = release.new_release_key()
            vault.create_compartment(owner_id, name, keys.public_of(release_key).text,
                                     release.keep_for_owner(release_key, owner))
            attachment = os.urandom(per)
            plain.write(attachment)
            compartment = document.Compartment(name)
            compartment.put(entry_from_dict({"id": "attachment", "kind": "file", "title": "Disk image",
                                             "fields": {"filename": "image.bin"}, "updated_at": "2026-11-22"}),
                            attachment)
            sealed = agecrypt.encrypt(document.pack(compartment), [owner, keys.public_of(release_key)])
            del compartment, attachment
            uploads.upload(vault, owner_id, name, 0, [sealed])
            del sealed
            split = release.seal(release_key, name, policy, holder_keys)
            vault.set_split(owner_id, name, {
                "split_id": split.split_id, "policy": policy.to_dict(),
                "protected_release_key": base64.b64encode(split.protected_release_key).decode(),
                "sealed": {h: {"recipient": holder_keys[h].text, "sealed": base64.b64encode(s).decode()}
                           for h, s in split.sealed.items()}})
    return owner_id, owner.text, data_file, per * args.compartments


def drill_folder(builder: PackageBuilder, owner_id: int, report: dict[str, Any]) -> Path:
    return builder.root / str(owner_id) / f"drill-{report['release']}"


def main() -> int:
    parser = _common.arguments((__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100, help="MiB of attachments in all (default %(default)s)")
    parser.add_argument("--compartments", type=int, default=2, help="compartments (default %(default)s)")
    parser.add_argument("--holders", type=int, default=5, help="holders, at most 16 (default %(default)s)")
    parser.add_argument("--threshold", type=int, default=3, help="shares needed (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="timed drills, and age runs (default %(default)s)")
    parser.add_argument("--folder", type=Path, default=None,
                        help="where the temporary folder goes (default: the system's temporary folder)")
    parser.add_argument("--age", default=shutil.which("age") or "/usr/bin/age",
                        help="the age command (default %(default)s)")
    parser.add_argument("--profile", action="store_true", help="profile one more drill with cProfile")
    args = parser.parse_args()
    if not 1 <= args.threshold <= args.holders <= len(NAMES) or args.compartments < 1 or args.rounds < 1:
        parser.error(f"expected 1 <= --threshold <= --holders <= {len(NAMES)}, and at least one compartment "
                     "and one round")

    with _common.scratch_runtime(args.db, parent=args.folder) as (runtime, folder):
        return run(args, runtime, folder)


def run(args: Any, runtime: Any, folder: Path) -> int:
    _common.header("building a release (a drill) against one age run on the same data", runtime.engine)
    age_version = subprocess.run([args.age, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"   age {age_version} ({args.age}); data dir and data in {folder} ({_common.filesystem(folder)})")
    vault, plain_builder = vault_parts(runtime.service)
    builder = TimedBuilder(plain_builder.engine, plain_builder.settings, plain_builder.signer, plain_builder.store)

    began = time.perf_counter()
    owner_id, owner_key, data_file, total = set_up(runtime, args, folder)
    with runtime.engine.connect() as conn:
        rows_before = len(conn.execute(select(packages.c.id)).all())
    print(f"   set up in {time.perf_counter() - began:.1f} s: {args.compartments} compartments of "
          f"{total // args.compartments / MiB:.0f} MiB of attachments, {args.holders} holders, "
          f"{args.threshold}-of-{args.holders} splits; {rows_before} packages before the drills")
    sealed_file = folder / "out.age"

    def age_run() -> float:
        sealed_file.unlink(missing_ok=True)
        began = time.perf_counter()
        subprocess.run([args.age, "-r", owner_key, "-o", str(sealed_file), str(data_file)], check=True)
        return time.perf_counter() - began

    drills: list[float] = []
    builds: list[float] = []
    slowest: list[float] = []
    ages: list[float] = []
    written = count = 0
    for round_ in range(args.rounds):
        order = ("drill", "age") if round_ % 2 == 0 else ("age", "drill")
        for side in order:
            if side == "age":
                ages.append(age_run())
                continue
            builder.times.clear()
            builder.walls.clear()
            began = time.perf_counter()
            report = start_drill(vault, builder, owner_id)
            drills.append(time.perf_counter() - began)
            builds.append(sum(builder.walls))
            slowest.append(max(builder.times))
            count = len(report["packages"])
            if count != args.holders * args.compartments or len(builder.times) != count:
                raise SystemExit(f"expected {args.holders * args.compartments} packages, got {count}")
            made = drill_folder(builder, owner_id, report)
            written = sum(p.stat().st_size for p in made.glob("*.zip"))
            shutil.rmtree(made)
            os.sync()  # the next round starts without this one's writes pending
        print(f"   round {round_ + 1} ({order[0]} first, s): drill {drills[-1]:.3f} (builds {builds[-1]:.3f}, "
              f"slowest {slowest[-1]:.3f})  age {ages[-1]:.3f}")

    drill, build_all, age = statistics.median(drills), statistics.median(builds), statistics.median(ages)
    print(f"\n-- median of {args.rounds} rounds (s)")
    rows = [(f"age -r OWNER, {total / MiB:.0f} MiB", age, f"{total / MiB / age:.0f} MiB/s"),
            (f"start_drill, {count} packages", drill,
             f"{written / MiB:.0f} MiB of zips written, {written / MiB / drill:.0f} MiB/s"),
            ("  PackageBuilder.build_all", build_all, f"{count} packages, up to 4 threads"),
            ("  the rest", drill - build_all, "release and package rows, key checks, readiness, report e-mail")]
    for label, seconds, note in rows:
        print(f"   {label:<30} {seconds:8.3f}  ({note})")
    print(f"   start_drill / age = {drill / age:.2f}; the builds alone / age = {build_all / age:.2f}")
    ratio = drill / age
    verdict = "PASS" if ratio <= TARGET else "FAIL"

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        report = start_drill(vault, builder, owner_id)
        profiler.disable()
        shutil.rmtree(drill_folder(builder, owner_id, report))
        print("\n-- one more drill under cProfile: the functions with the most time of their own")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        print("\n".join("   " + line for line in out.getvalue().splitlines() if line.strip()
                        and not line.lstrip().startswith(("Ordered by", "List reduced"))))

    print(f"{verdict}: the drill ({count} packages of {args.compartments} compartments, {total / MiB:.0f} MiB of "
          f"attachments) took {ratio:.2f}x one age run on the same data (target at most {TARGET:.0f}x)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
