"""Progress bars for long commands: drawn on a terminal, silent in pipes, files and CI logs.

A bar is drawn (with rich, on standard error, and wiped when done) only when standard output
and standard error are both terminals, so ``baton domains check --json > out.json`` or a CI job
gets exactly the output it asked for. ``BATON_PROGRESS=always`` or ``never`` overrides the
guess (``auto``, the default). Commands get a ``Bar`` either way and call it the same way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, Protocol

SETTING = "BATON_PROGRESS"


class Bar(Protocol):
    def advance(self, steps: int = 1) -> None: ...

    def describe(self, description: str, total: float | None = None, unit: str = "items") -> None: ...


class _Silent:
    def advance(self, steps: int = 1) -> None:
        pass

    def describe(self, description: str, total: float | None = None, unit: str = "items") -> None:
        pass


class _Drawn:
    def __init__(self, progress: Any, task: Any) -> None:
        self.progress, self.task = progress, task

    def advance(self, steps: int = 1) -> None:
        self.progress.advance(self.task, steps)  # rich's Progress holds a lock: callable from worker threads

    def describe(self, description: str, total: float | None = None, unit: str = "items") -> None:
        """The same bar for the next step of the work (counted in ``unit``: items, or bytes shown as sizes)."""
        self.progress.update(self.task, description=description, total=total, completed=0, unit=unit)


def shown() -> bool:
    """Whether bars are drawn: BATON_PROGRESS=always/never, else only when both outputs are terminals."""
    setting = os.environ.get(SETTING, "auto").strip().lower()
    if setting in ("always", "1", "yes"):
        return True
    if setting in ("never", "0", "no"):
        return False
    return _terminal(sys.stdout) and _terminal(sys.stderr) and os.environ.get("TERM") != "dumb"


def _terminal(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except ValueError:  # a closed stream
        return False


@contextmanager
def progress(description: str, total: float | None = None, *, unit: str = "items") -> Iterator[Bar]:
    """A bar for ``total`` steps (None: a spinner until the work ends); ``unit="bytes"`` counts sizes."""
    if not shown():
        yield _Silent()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    class Count(ProgressColumn):
        """``3/10`` for items, ``1.2/4.0 GB`` for bytes: each step of the work says which it counts."""
        sizes, items = DownloadColumn(), MofNCompleteColumn()

        def render(self, task: Any) -> Any:
            return (self.sizes if task.fields.get("unit") == "bytes" else self.items).render(task)

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), Count(), TimeRemainingColumn())
    with Progress(*columns, console=Console(file=sys.stderr, force_terminal=True), transient=True) as bar:
        yield _Drawn(bar, bar.add_task(description, total=total, unit=unit))


class CountingReader:
    """A binary file that reports each read to a bar (an upload's progress), and its end to ``at_end``;
    everything else is the file's."""

    def __init__(self, handle: IO[bytes], bar: Bar, at_end: Callable[[], None] | None = None) -> None:
        self._handle, self._bar, self._at_end = handle, bar, at_end

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._bar.advance(len(data))
        if not data and self._at_end is not None:
            self._at_end()
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(64 * 1024):
            yield chunk
