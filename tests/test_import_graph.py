"""The hand-written modules of ffn_async and token_stores import each other without a cycle.

Every import counts: top level, inside functions (lazy imports) and under ``TYPE_CHECKING``.
A cycle hidden behind ``TYPE_CHECKING`` still means two modules are written against each
other; the namespaces, pages and feeds depend on :class:`ffn_async.http._requester.Requester`
instead of the client, and the fake server's resource families on the shared state of
:mod:`ffn_async.testing.state` instead of one another. Generated modules are nodes like any
other, so an edge into them counts, but they are generated from the spec, not arranged by hand.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ffn_async", "token_stores")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ``known`` that ``name`` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                targets.add(submodule if submodule in known else origin)
    return {target for target in targets if target in known and target != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def knots(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of two or more modules: each holds an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(group)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_every_kind_of_import() -> None:
    edges = graph()
    assert "ffn_async.errors" in edges["ffn_async.client"]  # top level
    assert "ffn_async.api.creates" in edges["ffn_async.client"]  # inside a function
    assert "ffn_async.http._requester" in edges["ffn_async.api.pagination"]  # under TYPE_CHECKING
    assert "ffn_async.api.odata" in edges["ffn_async.api._base"]  # from .. import module
    assert "token_stores.base" in edges["ffn_async.errors"]  # another package
    assert "ffn_async.testing.state" in edges["ffn_async.testing.products"]  # the fake's too


def test_knots_finds_cycles() -> None:
    assert knots({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert knots({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    found = [sorted(group) for group in knots(graph())]
    assert not found, f"import cycles among: {found}"
