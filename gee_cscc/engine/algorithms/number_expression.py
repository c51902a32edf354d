"""``Number.expression``: the expression language of ``Image.expression`` on numbers.

The same parser as :mod:`gee_cscc.engine.algorithms.image.expression` (no ``eval``); each
operator is the ``Number`` algorithm of the same meaning (``+`` is ``Number.add``, ``/``
``Number.divide`` …), ``^`` is a logical exclusive or, ``c ? a : b`` takes ``a`` when ``c``
is non-zero, and the math functions are the ``Number`` ones (``sign`` is ``signum``).
Variables are the numbers of ``vars``; there are no bands, so ``b()``, ``x.name`` and
``x[i]`` are errors.
"""

from __future__ import annotations

from typing import Any

from ..core import registry
from ..core.arguments import as_number
from ..core.registry import algorithm
from ..errors import EEError
from .image.expression import ExpressionParser

__all__ = ["number_expression"]

_ALGO = "Number.expression"
_OPS = {
    "+": "add",
    "-": "subtract",
    "*": "multiply",
    "/": "divide",
    "%": "mod",
    "**": "pow",
    "<": "lt",
    "<=": "lte",
    ">": "gt",
    ">=": "gte",
    "==": "eq",
    "!=": "neq",
    "&&": "and",
    "||": "or",
}
_JS_NAMES = {"sign": "signum"}


def _num(value: Any) -> int | float:
    if isinstance(value, str):
        raise EEError(f"{_ALGO}: a string ('{value}') is not a number.")
    return as_number(value, _ALGO, "vars")


class _NumberParser(ExpressionParser):
    def finish(self, value: Any, name: str | None) -> Any:
        return _num(value)

    def conditional(self, cond: Any, yes: Any, no: Any) -> Any:
        return yes if _num(cond) != 0 else no

    def apply(self, op: str, left: Any, right: Any) -> Any:
        a, b = _num(left), _num(right)
        if op == "^":
            return int((a != 0) != (b != 0))
        return registry.call(f"Number.{_OPS[op]}", {"left": a, "right": b})

    def negate(self, v: Any) -> Any:
        return registry.call("Number.multiply", {"left": _num(v), "right": -1})

    def logical_not(self, v: Any) -> Any:
        return registry.call("Number.not", {"input": _num(v)})

    def select(self, value: Any, selectors: list[Any]) -> Any:
        raise EEError(f"{_ALGO}: numbers have no bands to select.")

    def function(self, name: str, args: list[Any]) -> Any:
        nums = [_num(a) for a in args]
        algo = f"Number.{_JS_NAMES.get(name, name)}"
        if len(nums) == 1:
            return registry.call(algo, {"input": nums[0]})
        return registry.call(algo, {"left": nums[0], "right": nums[1]})


@algorithm("Number.expression")
def number_expression(expression: str, vars: Any = None) -> int | float:  # noqa: A002
    values = dict(vars or {})
    return _NumberParser(expression, values, "", False).statement()
