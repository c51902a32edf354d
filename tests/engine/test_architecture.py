"""The engine's own structure rules, on top of the package-wide ones.

``tests/unit/test_layers.py`` checks, for every module of the package (the engine's
included), that the graph has no cycle, that no private name is imported across modules,
that modules stay small, and that the engine imports nothing from the rest of the package.
Here: the engine's rules that the rest of the package does not share. The import graph is
the same ``ast`` reading (:mod:`import_graph`).
"""

from __future__ import annotations

from import_graph import MODULES, imports

PACKAGE = "gee_cscc.engine"
ENGINE = {n: p for n, p in MODULES.items() if n == PACKAGE or n.startswith(PACKAGE + ".")}


def test_the_engine_is_found() -> None:
    assert f"{PACKAGE}.core.registry" in ENGINE
    assert all(not n.startswith(PACKAGE) or n in ENGINE for n in MODULES)


def test_no_private_module_names() -> None:
    private = [n for n in ENGINE if n.rpartition(".")[2].startswith("_")]
    assert not private


def test_no_unittest_in_production_code() -> None:
    users = [
        name
        for name, path in ENGINE.items()
        for module, _ in imports(name, path)
        if module.split(".")[0] == "unittest"
    ]
    assert not users


def test_no_leftover_module_names() -> None:
    leaves = {n.rpartition(".")[2] for n in ENGINE}
    assert not leaves & {"misc", "util", "utils", "helpers", "common"}
