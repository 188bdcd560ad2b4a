"""Shared commits for SQLite's one writer: writes of one process that arrive together share a transaction
and its fsync.

SQLite has one writer at a time, and with ``synchronous=FULL`` each commit waits for an fsync while it
holds the write slot, so on a busy disk the fsync, not the work, bounds how many check-ins a second
are stored. Here a thread that finds no batch under way becomes its leader: it opens one transaction,
runs every write queued so far, each in its own savepoint (one that fails is rolled back alone, and its
caller gets its error), commits once, and then releases every caller of the batch. Writes that arrive
meanwhile queue for the next batch, led by the first of them. No caller returns before the commit that
holds its write is on disk, so what is acknowledged is as durable as before; a failed commit fails
every write of its batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine


class _Write:
    def __init__(self, work: Callable[[Connection], Any]) -> None:
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit:
    """Run writes in shared transactions of ``engine`` (each write in a savepoint); ``run`` returns once
    the write is committed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cond = threading.Condition()
        self._queue: list[_Write] = []
        self._leading = False

    def run(self, work: Callable[[Connection], Any]) -> Any:
        write = _Write(work)
        with self._cond:
            self._queue.append(write)
            # Until a batch has stored this write, or no batch is under way: then this thread leads the
            # next one, with every write queued (its own among them: only a leader takes writes out).
            self._cond.wait_for(lambda: write.done or not self._leading)
            batch: list[_Write] = []
            if not write.done:
                self._leading = True
                batch, self._queue = self._queue, []
        if batch:
            self._commit(batch)
        if write.error is not None:
            raise write.error
        return write.result

    def _commit(self, batch: list[_Write]) -> None:
        try:
            with self.engine.begin() as conn:
                for write in batch:
                    try:
                        with conn.begin_nested():
                            write.result = write.work(conn)
                    except Exception as exc:  # noqa: BLE001 - the error goes to its own caller
                        write.error = exc
        except BaseException as exc:  # the commit failed: nothing of the batch was stored
            for write in batch:
                if write.error is None:
                    write.error = exc
        finally:
            with self._cond:
                for write in batch:
                    write.done = True
                self._leading = False
                self._cond.notify_all()
