"""The handover's errors: each says what was expected and what arrived."""

from __future__ import annotations

from dataclasses import dataclass


class HandoverError(Exception):
    """Bad input to the handover."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad cell (or row): where it is, what was expected, what arrived."""

    file: str
    row: int  # 1-based data row (the header is row 0); 0 for the file itself
    column: str
    expected: str
    got: str

    def __str__(self) -> str:
        where = f"{self.file}, row {self.row}" if self.row else self.file
        return f"{where}, column {self.column!r}: expected {self.expected}, got {self.got}"

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "row": self.row, "column": self.column, "expected": self.expected,
                "got": self.got}


class ImportRejected(HandoverError):
    """An import with bad rows: nothing of it was kept. ``errors`` lists every bad row found."""

    def __init__(self, errors: list[RowError], total: int | None = None) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.row))
        self.total = len(errors) if total is None else total
        more = f" (the first {len(errors)} shown)" if self.total > len(errors) else ""
        rows = len({(e.file, e.row) for e in errors})
        super().__init__(f"import rejected, nothing was changed: {self.total} "
                         f"{'problem' if self.total == 1 else 'problems'} in {rows} {'row' if rows == 1 else 'rows'}"
                         f"{more}\n" + "\n".join(str(e) for e in self.errors))
