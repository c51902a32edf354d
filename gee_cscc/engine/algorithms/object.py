"""Algorithms on any object, without a type prefix: ``If``, ``ObjectType``, ``IsEqual``."""

from __future__ import annotations

from typing import Any

from ..core.objects import ee_equal, truthy, type_name
from ..core.registry import algorithm


@algorithm("If")
def if_(condition: Any = None, trueCase: Any = None, falseCase: Any = None) -> Any:
    """``trueCase`` when the condition is true by Earth Engine's rules, else ``falseCase``.

    Both cases have already been evaluated (the local engine evaluates arguments eagerly).
    """
    return trueCase if truthy(condition) else falseCase


@algorithm("ObjectType")
def object_type(value: Any = None) -> str:
    """Earth Engine's name of the value's type."""
    return type_name(value)


@algorithm("IsEqual")
def is_equal(left: Any = None, right: Any = None) -> bool:
    """Deep equality as Earth Engine compares values."""
    return ee_equal(left, right)
