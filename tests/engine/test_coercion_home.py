"""Argument coercion has one home: the registry, from the types in ``algorithms.json``.

The static part scans every algorithm module (no engine): an ``@algorithm`` function must not
coerce one of its own parameters by hand (``as_str(regex, …)``, ``bool(flag)``,
``int(count)``, or through a module helper that does so) when ``algorithms.json`` declares
that parameter with a type the registry already coerces. The client part checks that Earth
Engine's error texts still come out, through the unmodified ``ee`` client, for arguments of a
wrong type now that only the registry checks them.
"""

from __future__ import annotations

import ast
import pathlib

import ee
import pytest

import gee_cscc.engine.algorithms as algorithms_package
from gee_cscc.engine import EEError
from gee_cscc.engine.core.arguments import COERCIONS, coerce
from gee_cscc.engine.core.registry import algorithm_specs

ALGORITHMS_DIR = pathlib.Path(algorithms_package.__file__).parent

#: A hand coercion → the declared types (base names) whose registry coercion already implies it.
IMPLIED_BY = {
    "as_number": {"Number", "Float", "Integer", "Long"},
    "as_int": {"Integer", "Long"},
    "as_str": {"String"},
    "as_bool": {"Boolean"},
    "as_list": {"List"},
    "as_dict": {"Dictionary"},
    # Builtins that only repeat what the registry did (a float() of a Number stays allowed:
    # it is arithmetic, the registry gives ``int`` or ``float``).
    "int": {"Integer", "Long"},
    "bool": {"Boolean"},
    "str": {"String"},
    "list": {"List"},
    "dict": {"Dictionary"},
}


def _registered_names(fn: ast.FunctionDef) -> list[str]:
    names = []
    for dec in fn.decorator_list:
        if isinstance(dec, ast.Call) and getattr(dec.func, "id", None) == "algorithm":
            names += [a.value for a in dec.args if isinstance(a, ast.Constant)]
    return names


def _params(fn: ast.FunctionDef) -> list[str]:
    return [a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]


def _rebound(fn: ast.FunctionDef) -> set[str]:
    """Names the function assigns to (a rebound parameter no longer holds the argument)."""
    out = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
    return out


def _helper_coercions(tree: ast.Module) -> dict[str, dict[int, str]]:
    """Module functions (not algorithms) that hand-coerce a parameter: name → {position: how}.

    Only the ``as_*`` helpers count here: a helper's ``int(axis)`` may serve list elements
    too (``[_axis(a, x) for x in axes]``), which the registry does not coerce.
    """
    helpers: dict[str, dict[int, str]] = {}
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef) or _registered_names(fn):
            continue
        params, rebound = _params(fn), _rebound(fn)
        for node in ast.walk(fn):
            how = _coercion_of(node)
            if (
                how
                and how.startswith("as_")
                and node.args[0].id in params
                and node.args[0].id not in rebound
            ):
                helpers.setdefault(fn.name, {})[params.index(node.args[0].id)] = how
    return helpers


def _coercion_of(node: ast.AST) -> str | None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in IMPLIED_BY
        and node.args
        and isinstance(node.args[0], ast.Name)
    ):
        return node.func.id
    return None


def hand_coercions() -> list[str]:
    """Every place an algorithm coerces a parameter the registry has already coerced."""
    specs = algorithm_specs()
    found = []
    for path in sorted(ALGORITHMS_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        helpers = _helper_coercions(tree)
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef) or not (names := _registered_names(fn)):
                continue
            declared: dict[str, set[str]] = {}
            for name in names:
                for arg in specs.get(name, {}).get("arguments", []):
                    base = arg.get("type", "").partition("<")[0]
                    declared.setdefault(arg["argumentName"], set()).add(base)
            params, rebound = set(_params(fn)), _rebound(fn)
            for node in ast.walk(fn):
                uses = []
                if how := _coercion_of(node):
                    uses.append((how, node.args[0]))
                elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in helpers:
                    for pos, how in helpers[node.func.id].items():
                        if pos < len(node.args):
                            uses.append((how, node.args[pos]))
                for how, arg in uses:
                    if not isinstance(arg, ast.Name) or arg.id not in params or arg.id in rebound:
                        continue
                    types = declared.get(arg.id, set())
                    if types and types <= IMPLIED_BY[how] and types <= set(COERCIONS):
                        where = f"{path.relative_to(ALGORITHMS_DIR)}:{node.lineno}"
                        found.append(f"{where} {names[0]}: {how}({arg.id}) of a {sorted(types)}")
    return found


def test_no_algorithm_hand_coerces_an_argument_the_registry_types():
    assert hand_coercions() == []


def test_the_scan_finds_a_hand_coercion(tmp_path, monkeypatch):
    """The scan itself: a module that repeats the registry's coercion is reported."""
    module = tmp_path / "fake.py"
    module.write_text(
        "from ..core.registry import algorithm\n"
        "def _text(value, algo):\n"
        "    return as_str(value, algo, 'x')\n"
        "@algorithm('String.length')\n"
        "def length(string):\n"
        "    return len(_text(string, 'String.length'))\n"
        "@algorithm('List.repeat')\n"
        "def repeat(value, count):\n"
        "    return [value] * int(count)\n"
        "@algorithm('Number.add')\n"
        "def add(left, right):\n"
        "    return float(left) + right\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "ALGORITHMS_DIR", tmp_path)
    found = hand_coercions()
    assert [f.split(" ", 1)[1] for f in found] == [
        "String.length: as_str(string) of a ['String']",
        "List.repeat: int(count) of a ['Integer']",
    ]


# --- Earth Engine's error texts, through the ee client ---------------------------------------


def _invalid(algo: str, arg: str, expected: str, actual: str, value: str) -> str:
    return (
        f"{algo}, argument '{arg}': Invalid type.\nExpected type: {expected}.\n"
        f"Actual type: {actual}.\nActual value: {value}"
    )


def _apply(name: str, args: dict) -> ee.ComputedObject:
    """The algorithm applied to the arguments as given (no client-side promotion)."""
    return ee.ComputedObject(ee.ApiFunction.lookup(name), args)


@pytest.mark.usefixtures("engine")
@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        (
            "String.length",
            {"string": 5},
            _invalid("String.length", "string", "String", "Integer", "5"),
        ),
        (
            "String.slice",
            {"string": "abc", "start": 1.5},
            _invalid("String.slice", "start", "Integer", "Float", "1.5"),
        ),
        (
            "List.slice",
            {"list": [1, 2, 3], "start": "a"},
            _invalid("List.slice", "start", "Integer", "String", "a"),
        ),
        (
            "Number.clamp",
            {"number": 5, "min": "lo", "max": 9},
            _invalid("Number.clamp", "min", "Float", "String", "lo"),
        ),
        (
            "Dictionary.get",
            {"dictionary": {"a": 1}, "key": 7},
            _invalid("Dictionary.get", "key", "String", "Integer", "7"),
        ),
        (
            "Date.fromYMD",
            {"year": 2020, "month": "May", "day": 1},
            _invalid("Date.fromYMD", "month", "Integer", "String", "May"),
        ),
        (
            "Collection.limit",
            {"collection": "fc", "limit": "ten"},
            _invalid("Collection.limit", "limit", "Integer", "String", "ten"),
        ),
        (
            "Filter.calendarRange",
            {"start": "x"},
            _invalid("Filter.calendarRange", "start", "Integer", "String", "x"),
        ),
        ("String.cat", {"string1": "a"}, "String.cat: Parameter 'string2' is required."),
    ],
)
def test_wrong_argument_types_give_earth_engines_error(name, args, message):
    if args.get("collection") == "fc":
        args = {**args, "collection": ee.FeatureCollection([])}
    with pytest.raises(ee.EEException) as err:
        _apply(name, args).getInfo()
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("value", "ee_type", "expected", "actual"),
    [
        ("x", "List<String>", "List<String>", "String"),
        ([1], "Dictionary<Object>", "Dictionary<Object>", "List"),
        ("1", "Long", "Long", "String"),
        (1.5, "Long", "Long", "Float"),
        (None, "Float", None, None),
    ],
)
def test_a_wrong_type_names_the_declared_type(value, ee_type, expected, actual):
    with pytest.raises(EEError) as err:
        coerce(value, ee_type, "Test.algo", "arg")
    if expected is None:  # null is a missing argument
        assert str(err.value) == "Test.algo: Parameter 'arg' is required."
    else:
        assert f"Expected type: {expected}.\nActual type: {actual}." in str(err.value)


@pytest.mark.usefixtures("engine")
def test_listed_defaults_arrive_coerced():
    """algorithms.json lists an Integer's default as 0.0 or 1.0: the implementations get ints
    (a float would fail as a slice index)."""
    assert ee.Array([1, 2, 3]).slice().getInfo() == [1, 2, 3]  # axis 0, start 0, step 1
    fc = ee.FeatureCollection([ee.Feature(None, {"v": v}) for v in (5, 6, 7)])
    assert [f["properties"]["v"] for f in fc.toList(2).getInfo()] == [5, 6]  # offset 0
    assert ee.Number.parse("0017").getInfo() == 17  # radix 10


@pytest.mark.usefixtures("engine")
@pytest.mark.parametrize(
    ("expr", "message"),
    [
        # Elements of a list and values read from a container are the module's to check,
        # with the same helpers and wording.
        (
            lambda: ee.List(["a"]).getArray(0),
            _invalid("List.getArray", "element", "Array", "String", "a"),
        ),
        (
            lambda: ee.Dictionary({"k": True}).getArray("k"),
            _invalid("Dictionary.getArray", "value", "Array", "Boolean", "true"),
        ),
        (
            lambda: ee.List([1]).getGeometry(0),
            _invalid("List.getGeometry", "element", "Geometry", "Integer", "1"),
        ),
        (
            lambda: ee.Feature(None, {"a": 1}).toDictionary([7]),
            _invalid("Element.toDictionary", "properties", "String", "Integer", "7"),
        ),
        (
            lambda: ee.Reducer.percentile(["x"]),
            _invalid("Reducer.percentile", "percentiles", "Number", "String", "x"),
        ),
    ],
)
def test_elements_and_read_values_keep_earth_engines_error(expr, message):
    with pytest.raises(ee.EEException) as err:
        expr().getInfo()
    assert message in str(err.value)
