"""The project's layout holds: imports point one way, no import cycle anywhere, no module too long.

Read with ``ast`` from the source, so an import inside a function counts as much as one at the top.
The rooms of ``baton/``, lowest first (README, "Layout"):

- the base modules (settings, errors, time, logging) that every room may use;
- ``store`` — tables, engine, migrations, blobs, register, audit log, links, signing key;
- ``jobs.outbox`` — the outbox every message goes through;
- ``services`` — the switch, vault and handover services and what they need;
- ``jobs`` — delivery, its channels and the worker, which drives the services;
- ``runtime`` and ``testing`` — the wiring and the honest fakes;
- ``http`` — the web face; ``cli`` — the command line, which may also start the web face.

A module may import from its own room or from a lower one, never from a higher one. The three
cores import no room of ``baton`` at all, and ``switch`` imports no other core.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("baton", "switch", "vault", "handover", "templates")
MAX_LINES = 500

BASE = {"baton", "baton.settings", "baton.errors", "baton.timeutil", "baton.logging_setup", "baton.netguard",
        "baton.channelrules"}
RANKS = [  # (prefix, rank); the longest matching prefix wins
    ("baton.store", 1),
    ("baton.jobs.outbox", 2),
    ("baton.services", 3),
    ("baton.jobs", 4),
    ("baton.runtime", 5),
    ("baton.testing", 5),
    ("baton.http", 6),
    ("baton.cli", 7),
]
CORES = {  # what each core may import of the project
    "switch": {"switch"},
    "vault": {"vault"},
    "handover": {"handover", "vault", "templates"},
    "templates": {"templates"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts and "versions" in path.parts:
                continue  # Alembic loads revisions by path; they are not imported
            found[module_name(path)] = path
    return found


MODULES = project_modules()


def imported(name: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every project module ``name`` imports, wherever the import statement is."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # ``from baton.store import auditlog`` imports the module baton.store.auditlog
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield node.lineno, target


GRAPH = {name: sorted({t for _, t in imported(name, path)}) for name, path in MODULES.items()}


def rank(module: str) -> int:
    if module in BASE:
        return 0
    matches = [(len(prefix), r) for prefix, r in RANKS if module == prefix or module.startswith(prefix + ".")]
    assert matches, f"{module} is in no room of baton: add it to the layout (README and this test)"
    return max(matches)[1]


def test_every_baton_module_is_in_a_room() -> None:
    for module in MODULES:
        if module.startswith("baton"):
            rank(module)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("baton")))
def test_baton_imports_point_down(module: str) -> None:
    against = [f"line {line}: {target}" for line, target in imported(module, MODULES[module])
               if target.startswith("baton") and rank(target) > rank(module)]
    assert not against, f"{module} (room rank {rank(module)}) imports a higher room: {against}"


@pytest.mark.parametrize("core", sorted(CORES))
def test_the_cores_import_no_room_of_baton(core: str) -> None:
    wrong = [f"{module} line {line}: {target}"
             for module, path in MODULES.items() if module.split(".")[0] == core
             for line, target in imported(module, path) if target.split(".")[0] not in CORES[core]]
    assert not wrong, f"the {core} core imports outside what it may: {wrong}"


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, []))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_anywhere() -> None:
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check above would pass on a finder that finds nothing: show it finds one."""
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert cycles({"a": ["b"], "b": []}) == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("baton")))
def test_no_baton_module_is_too_long(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by concept (at most {MAX_LINES})"
