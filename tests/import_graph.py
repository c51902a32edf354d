"""The package's import graph, read with ``ast`` (no package code runs).

One reader for the architecture tests (``tests/unit/test_layers.py`` for the whole
package, ``tests/engine/test_architecture.py`` for the engine's own rules): every module of
``gee_cscc``, relative imports resolved, and imports inside functions and under
``TYPE_CHECKING`` counted, so a wrong-way import or a cycle that a deferred import hides is
still found.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "gee_cscc"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: Every module of the package: dotted name → file.
MODULES: dict[str, Path] = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports(name: str, path: Path) -> list[tuple[str, str | None]]:
    """``(module, name or None)`` for every import of a module (of any package)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                target = ".".join(
                    parts[: len(parts) - node.level + 1] + ([node.module] if node.module else [])
                )
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((sub, None) if sub in MODULES else (target, alias.name))
    return out


def package_imports(name: str, path: Path) -> list[tuple[str, str | None]]:
    """The imports of a module that name ``gee_cscc``."""
    return [(m, n) for m, n in imports(name, path) if m == "gee_cscc" or m.startswith("gee_cscc.")]


def graph(modules: dict[str, Path] = MODULES) -> dict[str, set[str]]:
    """Module → the package modules it imports."""
    return {
        name: {m for m, _ in package_imports(name, path) if m in MODULES and m != name}
        for name, path in modules.items()
    }


def cycle(g: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``g`` as a list of modules, or None."""
    try:
        tuple(TopologicalSorter(g).static_order())
    except CycleError as exc:
        return list(exc.args[1])
    return None
