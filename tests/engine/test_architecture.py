"""The engine's structure: an acyclic module graph, no private names across modules,
small modules, and nothing imported from the rest of the package.

The import graph is read with ``ast`` from every module of ``gee_cscc.engine``, with
relative imports resolved and imports inside functions (and under ``TYPE_CHECKING``)
counted: a cycle that only a deferred import hides is still a cycle.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import gee_cscc.engine

ENGINE = Path(gee_cscc.engine.__file__).parent
PACKAGE = "gee_cscc.engine"
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


MODULES = {_module_name(p): p for p in sorted(ENGINE.rglob("*.py"))}


def _imports(name: str, path: Path) -> list[tuple[str, str | None]]:
    """(imported module, imported name or None) for every import in a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((sub, None) if sub in MODULES else (target, alias.name))
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        deps = {m for m, _ in _imports(name, path) if m in MODULES and m != name}
        # A package's own __init__ is not a dependency of its submodules (Python runs it
        # first anyway); only explicit imports count.
        graph[name] = deps
    return graph


def test_module_graph_is_acyclic() -> None:
    try:
        tuple(TopologicalSorter(_graph()).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle in the engine: {' -> '.join(exc.args[1])}")


def test_no_private_names_across_modules() -> None:
    offences = []
    for name, path in MODULES.items():
        for module, imported in _imports(name, path):
            if not module.startswith(PACKAGE) or module == name:
                continue
            leaf = module.rpartition(".")[2]
            if leaf.startswith("_") and leaf != "__init__":
                offences.append(f"{name} imports private module {module}")
            if imported is not None and imported.startswith("_"):
                offences.append(f"{name} imports {module}.{imported}")
    assert not offences, "\n".join(offences)


def test_no_private_module_names() -> None:
    private = [n for n in MODULES if n.rpartition(".")[2].startswith("_")]
    assert not private


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_are_small(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


def test_engine_imports_nothing_from_the_rest_of_the_package() -> None:
    outside = [
        f"{name} imports {module}"
        for name, path in MODULES.items()
        for module, _ in _imports(name, path)
        if module.startswith("gee_cscc") and not module.startswith(PACKAGE)
    ]
    assert not outside, "\n".join(outside)


def test_no_unittest_in_production_code() -> None:
    users = [
        name
        for name, path in MODULES.items()
        for module, _ in _imports(name, path)
        if module.split(".")[0] == "unittest"
    ]
    assert not users


def test_no_leftover_module_names() -> None:
    leaves = {n.rpartition(".")[2] for n in MODULES}
    assert not leaves & {"misc", "util", "utils", "helpers", "common"}
