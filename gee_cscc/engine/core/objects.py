"""What Earth Engine does with any value: its type name, truth, equality, order and text.

These are the rules of Earth Engine's ``Object``: ``ObjectType`` names, ``If``'s truth value,
``IsEqual``'s deep equality, the order ``sort`` uses for mixed values, and how numbers are
written as strings (Java's ``String.valueOf``).
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..raster.grid import Projection
from .values import (
    Date,
    DateRange,
    Feature,
    FeatureCollection,
    Geometry,
    Image,
    ImageCollection,
)

__all__ = ["ee_equal", "number_to_string", "sort_key", "truthy", "type_name"]


def type_name(value: Any) -> str:
    """Earth Engine's name for the type of a value (what ``ObjectType`` returns)."""
    if value is None:
        return "Object"
    if isinstance(value, (bool, np.bool_)):
        return "Boolean"
    if isinstance(value, (int, np.integer)):
        return "Integer"
    if isinstance(value, (float, np.floating)):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, (list, tuple)):
        return getattr(value, "ee_type", "List")  # an ee.Array is a list subclass: "Array"
    if isinstance(value, Mapping):
        return "Dictionary"
    for cls, name in (
        (Image, "Image"),
        (ImageCollection, "ImageCollection"),
        (Feature, "Feature"),
        (FeatureCollection, "FeatureCollection"),
        (Geometry, "Geometry"),
        (Date, "Date"),
        (DateRange, "DateRange"),
        (Projection, "Projection"),
    ):
        if isinstance(value, cls):
            return name
    ee_type = getattr(value, "ee_type", None)
    if ee_type:
        return ee_type
    if callable(value):
        return "Function"
    return type(value).__name__


def truthy(value: Any) -> bool:
    """Earth Engine's truth value: 0, NaN, null, empty strings/lists/dicts are false."""
    if value is None:
        return False
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, (str, list, tuple, Mapping)):
        return len(value) > 0
    return True


def _plain(value: Any) -> Any:
    """A comparable form of a value: dates as millis, objects as their ``info()``."""
    if isinstance(value, Date):
        return ("Date", value.millis)
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    info = getattr(value, "info", None)
    if callable(info):
        return ("object", repr(_plain(info())))
    return value


def ee_equal(a: Any, b: Any) -> bool:
    """Deep equality as Earth Engine compares values (1 equals 1.0; lists element-wise)."""
    return _plain(a) == _plain(b)


_TYPE_ORDER = {"null": 0, "number": 1, "string": 2, "list": 3, "other": 4}


def sort_key(value: Any) -> tuple:
    """A total order for sorting mixed values: nulls, numbers, strings, lists, others."""
    if value is None:
        return (_TYPE_ORDER["null"], 0)
    if isinstance(value, Date):
        return (_TYPE_ORDER["number"], value.millis)
    if isinstance(value, (bool, int, float, np.integer, np.floating, np.bool_)):
        v = float(value)
        return (_TYPE_ORDER["number"], math.inf if math.isnan(v) else v)
    if isinstance(value, str):
        return (_TYPE_ORDER["string"], value)
    if isinstance(value, (list, tuple)):
        return (_TYPE_ORDER["list"], tuple(sort_key(v) for v in value))
    return (_TYPE_ORDER["other"], repr(_plain(value)))


def number_to_string(value: Any) -> str:
    """A number as Java's ``String.valueOf`` writes it (``3``, ``2.5``, ``1.0E10``)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0.0" if math.copysign(1.0, v) < 0 else "0.0"
    if 1e-3 <= abs(v) < 1e7:
        text = repr(v)
        return text if "." in text else text + ".0"
    sign, digits, exponent = decimal.Decimal(repr(v)).as_tuple()
    text = "".join(str(d) for d in digits).rstrip("0") or "0"
    power = len(digits) - 1 + int(exponent)
    mantissa = text[0] + "." + (text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{power}"
