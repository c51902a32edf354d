"""The registry applies Earth Engine's argument rules before an implementation runs:
unknown and missing arguments, and coercion from each argument's declared type."""

from __future__ import annotations

import pytest

from gee_cscc.engine import EEError
from gee_cscc.engine.core import registry
from gee_cscc.engine.core.arguments import coerce


@pytest.mark.parametrize(
    ("value", "ee_type", "expected"),
    [
        (2.0, "Integer", 2),
        (True, "Number", 1),
        (2.5, "Float", 2.5),
        (("a", "b"), "List<String>", ["a", "b"]),
        (0, "Boolean", False),
        ({"k": 1}, "Dictionary<Object>", {"k": 1}),
        ("text", "Object", "text"),
    ],
)
def test_coerce_by_declared_type(value, ee_type, expected):
    out = coerce(value, ee_type, "Test.algo", "arg")
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        (
            "Number.add",
            {"left": "abc", "right": 1},
            "Number.add, argument 'left': Invalid type.\nExpected type: Number.\n"
            "Actual type: String.\nActual value: abc",
        ),
        (
            "List.repeat",
            {"value": "a", "count": 2.5},
            "List.repeat, argument 'count': Invalid type.\nExpected type: Integer.\n"
            "Actual type: Float.\nActual value: 2.5",
        ),
        ("Number.add", {"left": 1}, "Number.add: Parameter 'right' is required."),
        ("Number.add", {"left": 1, "right": 2, "x": 3}, "Unrecognized argument type for 'x'"),
    ],
)
def test_call_rejects_bad_arguments_with_earth_engines_message(name, args, message):
    with pytest.raises(EEError) as err:
        registry.call(name, args)
    assert message in str(err.value)


def test_call_passes_coerced_arguments():
    assert registry.call("List.repeat", {"value": "a", "count": 2.0}) == ["a", "a"]
