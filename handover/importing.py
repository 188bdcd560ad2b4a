"""What an import reads: CSV files (one per kind, named after it) and WHMCS-style JSON exports.

``sources`` turns the files given (or the files in a folder) into one stream of parsed
rows per kind, in the order references need: registrars, customers, domains, hosting.
A file whose kind cannot be told is itself an error of the import.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from handover.errors import RowError
from handover.rows import COLUMNS, KIND_ORDER, Parsed, kind_of, read_csv


def files_in(paths: list[Path]) -> list[Path]:
    """The files to import: the paths given, with each folder replaced by its CSV files, and its WHMCS
    JSON: one file as itself (a merged export), several by the folder (read together, so products see
    their clients' currencies)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file())
            found += [p for p in inside if p.suffix.lower() == ".csv"]
            exports = [p for p in inside if p.suffix.lower() == ".json"]
            if len(exports) == 1:
                found += exports
            elif exports:
                found.append(path)
        else:
            found.append(path)
    return found


def sources(paths: list[Path]) -> dict[str, Iterator[Parsed]]:
    """One stream of parsed rows per kind, from every file in ``paths``."""
    streams: dict[str, list[Iterator[Parsed]]] = {kind: [] for kind in KIND_ORDER}
    for path in files_in(paths):
        suffix = path.suffix.lower()
        if suffix == ".json" or path.is_dir():
            from handover.whmcs import read_export
            for exported, rows in read_export(path).items():
                streams[exported].append(rows)
            continue
        kind = kind_of(path) if suffix == ".csv" else None
        if kind is None:
            streams["registrars"].append(iter([Parsed(0, None, (RowError(
                path.name, 0, "*", f"a CSV file named {', '.join(n + '.csv' for n in COLUMNS)}, "
                                   "or a WHMCS export (.json)", "a file whose kind cannot be told"),))]))
            continue
        streams[kind].append(read_csv(path, kind))
    return {kind: itertools.chain.from_iterable(streams[kind]) for kind in KIND_ORDER}
