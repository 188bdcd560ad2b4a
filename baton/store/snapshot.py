"""A database-neutral copy of every table: rows read in one consistent snapshot, as JSON, and loaded back.

The same rows load into SQLite or PostgreSQL whichever they came from: moments are ISO 8601 in UTC,
dates ISO dates, binary columns base64, JSON columns as they are. Tables are read and loaded parent
before child (the metadata's foreign-key order), with their ids, so references stay; PostgreSQL's
id sequences are then moved past the highest id loaded.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Connection, Date, Engine, LargeBinary, Table, bindparam, func, insert, select, text

from baton.store.engine import reading
from baton.store.tables import UTCDateTime, metadata

CHUNK_ROWS = 2000  # rows per part of the backup, and per INSERT: memory stays bounded whatever the size


def tables() -> list[Table]:
    """Every table, parents before children."""
    return list(metadata.sorted_tables)


@contextlib.contextmanager
def consistent_read(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one moment of the database: SQLite's read transaction over its
    WAL, or PostgreSQL's ``SERIALIZABLE READ ONLY DEFERRABLE`` (waits for a safe snapshot, never fails)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="SERIALIZABLE", postgresql_readonly=True,
                                                postgresql_deferrable=True) as conn, conn.begin():
            yield conn
        return
    with reading(engine) as conn, conn.begin():
        conn.execute(text("SELECT 1 FROM sqlite_master LIMIT 1"))  # the snapshot starts at the first read
        yield conn


def chunks(conn: Connection, table: Table) -> Iterator[list[dict[str, Any]]]:
    """The table's rows in primary-key order, as JSON-ready dicts, ``CHUNK_ROWS`` at a time."""
    query = select(table).order_by(*table.primary_key.columns)
    result = conn.execution_options(yield_per=CHUNK_ROWS).execute(query)
    for part in result.partitions(CHUNK_ROWS):
        yield [{name: _encode(value) for name, value in row._mapping.items()} for row in part]


def load(conn: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """Insert rows read by ``chunks`` (columns unknown to ``table`` are an error); how many."""
    known = {c.name: c for c in table.columns}
    batch = []
    for row in rows:
        unknown = sorted(set(row) - set(known))
        if unknown:
            raise ValueError(f"table {table.name}: expected its columns, got {', '.join(unknown)}")
        batch.append({name: _decode(known[name], value) for name, value in row.items()})
    if batch:
        # A nullable JSON column's None is SQL NULL, as the service writes it (``answer IS NULL``), not JSON null.
        nullable_json = {c.name: bindparam(c.name, type_=JSON(none_as_null=True)) for c in table.columns
                         if isinstance(c.type, JSON) and c.nullable}
        conn.execute(insert(table).values(nullable_json) if nullable_json else insert(table), batch)
    return len(batch)


def reset_sequences(conn: Connection) -> None:
    """On PostgreSQL, each id sequence continues after the highest id loaded (SQLite needs nothing)."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables():
        if "id" not in table.c or not table.c.id.primary_key or not table.c.id.autoincrement:
            continue
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}).scalar()
        if sequence is None:
            continue
        conn.execute(text("SELECT setval(CAST(:s AS regclass), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) "
                          f'FROM "{table.name}"'), {"s": sequence})


def counts(conn: Connection) -> dict[str, int]:
    """Rows per table."""
    return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in tables()}


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _decode(column: Any, value: Any) -> Any:
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    if isinstance(kind, LargeBinary):
        return base64.b64decode(value, validate=True)
    return value
