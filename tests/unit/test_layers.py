"""The package's layers: imports point down only, no cycles, no private names across modules.

The layers (DESIGN.md)::

    cli ─→ demo ─→ workflow ─→ {method, stats, cloud, report} ─→ {config, errors} ─→ ee
    testing ─→ engine          engine stands alone (imports nothing from gee_cscc outside it)

The graph is read with ``ast`` from every module of ``gee_cscc``, relative imports resolved,
and imports inside functions and under ``TYPE_CHECKING`` counted: a wrong-way import that a
deferred import hides is still wrong. These tests run no package code.
"""

from __future__ import annotations

from import_graph import MODULES, cycle, graph
from import_graph import package_imports as imports

MAX_LINES = 500

#: Each layer and the layers it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "version": set(),
    "errors": set(),
    "config": {"errors"},
    "method": {"config", "errors"},
    "stats": {"config", "errors"},
    "cloud": {"config", "errors"},
    "report": {"config", "errors", "stats"},
    "workflow": {"config", "errors", "method", "stats", "cloud", "report", "engine"},
    "demo": {"config", "errors", "workflow", "engine"},
    "cli": {"config", "errors", "workflow", "cloud", "demo", "method", "report", "stats"},
    "testing": {"engine", "errors", "method"},
    "engine": set(),
    "": {"config", "errors", "workflow", "engine", "method", "stats", "cloud", "report"},
}


#: Every layer but the engine may import the version and the error types.
for _name, _allowed in ALLOWED.items():
    if _name not in ("engine", "version"):
        _allowed.update({"version", "errors"})


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def wrong_way(g: dict[str, set[str]]) -> list[str]:
    """Imports that break the layering, as ``a -> b`` lines."""
    bad = []
    for name, deps in g.items():
        here = layer(name)
        for dep in deps:
            there = layer(dep)
            if there == here or dep == "gee_cscc":
                continue
            if there not in ALLOWED[here]:
                bad.append(f"{name} -> {dep}")
    return sorted(bad)


def test_every_module_belongs_to_a_known_layer():
    assert {layer(m) for m in MODULES} <= set(ALLOWED)


def test_imports_point_down_the_layers():
    assert wrong_way(graph()) == []


def test_the_module_graph_has_no_cycle():
    assert cycle(graph()) is None


def test_method_never_imports_the_engine_and_the_engine_imports_nothing_else():
    g = graph()
    assert not [(m, d) for m, d in _edges(g) if layer(m) == "method" and layer(d) == "engine"]
    assert not [(m, d) for m, d in _edges(g) if layer(m) == "engine" and layer(d) != "engine"]


def _edges(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    return [(m, d) for m, deps in g.items() for d in deps]


def test_the_checks_catch_a_new_cycle_and_a_wrong_way_import():
    g = {k: set(v) for k, v in graph().items()}
    g["gee_cscc.method.capacity"].add("gee_cscc.workflow.analyze")
    assert "gee_cscc.method.capacity -> gee_cscc.workflow.analyze" in wrong_way(g)
    g["gee_cscc.workflow.analyze"].add("gee_cscc.method.capacity")
    assert cycle(g) is not None
    g2 = {k: set(v) for k, v in graph().items()}
    g2["gee_cscc.engine"].add("gee_cscc.config")
    assert "gee_cscc.engine -> gee_cscc.config" in wrong_way(g2)


def test_no_private_name_is_imported_from_another_module():
    offences = []
    for name, path in MODULES.items():
        for module, imported in imports(name, path):
            if module == name:
                continue
            leaf = module.rpartition(".")[2]
            if leaf.startswith("_") and leaf != "__init__":
                offences.append(f"{name} imports the private module {module}")
            if imported is not None and imported.startswith("_") and imported != "__version__":
                offences.append(f"{name} imports {module}.{imported}")
    assert offences == []


def test_no_module_is_too_long():
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
