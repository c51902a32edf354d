"""Algorithms without a type of their own (``If``, ``ObjectType``, ``IsEqual``, ``ErrorMargin``),
``Projection.*``, and the argument checks the basic-type modules share.

The checks raise Earth Engine's messages: a missing (null) required argument gives
``"Number.add: Parameter 'left' is required."`` and a value of the wrong type gives
``"Number.add, argument 'left': Invalid type.\\nExpected type: Number.\\nActual type: String.
\\nActual value: abc"``.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.registry import algorithm
from ..core.values import (
    Date,
    DateRange,
    Feature,
    FeatureCollection,
    Geometry,
    Image,
    ImageCollection,
)
from ..errors import EEError
from ..raster.grid import METERS_PER_DEGREE, Projection

__all__ = [
    "ErrorMargin",
    "as_bool",
    "as_dict",
    "as_int",
    "as_list",
    "as_number",
    "as_str",
    "ee_equal",
    "invalid_type",
    "number_to_string",
    "required",
    "sort_key",
    "truthy",
    "type_name",
]


# --- type names and argument checks ---------------------------------------------------------


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
        return "List"
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
        (ErrorMargin, "ErrorMargin"),
    ):
        if isinstance(value, cls):
            return name
    from .reducer.reducers import Reducer

    if isinstance(value, Reducer):
        return "Reducer"
    ee_type = getattr(value, "ee_type", None)
    if ee_type:
        return ee_type
    if callable(value):
        return "Function"
    return type(value).__name__


def _short(value: Any) -> str:
    text = str(value) if not hasattr(value, "info") else type_name(value)
    return text if len(text) <= 200 else text[:197] + "..."


def required(algo: str, arg: str) -> EEError:
    """The error for a required argument that is missing or null."""
    return EEError(f"{algo}: Parameter '{arg}' is required.")


def invalid_type(algo: str, arg: str, expected: str, value: Any) -> EEError:
    """The error for an argument of the wrong type (Earth Engine's wording)."""
    if value is None:
        return required(algo, arg)
    return EEError(
        f"{algo}, argument '{arg}': Invalid type.\nExpected type: {expected}.\n"
        f"Actual type: {type_name(value)}.\nActual value: {_short(value)}"
    )


def as_number(value: Any, algo: str, arg: str) -> int | float:
    """A number argument as a Python ``int`` or ``float`` (booleans count as 0/1)."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    raise invalid_type(algo, arg, "Number", value)


def as_int(value: Any, algo: str, arg: str) -> int:
    """An integer argument; a float with an integral value is accepted."""
    v = as_number(value, algo, arg)
    if isinstance(v, float):
        if not v.is_integer():
            raise invalid_type(algo, arg, "Integer", value)
        return int(v)
    return v


def as_bool(value: Any, algo: str, arg: str) -> bool:
    if value is None:
        raise required(algo, arg)
    return truthy(value)


def as_str(value: Any, algo: str, arg: str) -> str:
    if isinstance(value, str):
        return value
    raise invalid_type(algo, arg, "String", value)


def as_list(value: Any, algo: str, arg: str) -> list:
    if isinstance(value, (list, tuple)):
        return list(value)
    raise invalid_type(algo, arg, "List", value)


def as_dict(value: Any, algo: str, arg: str) -> dict:
    if isinstance(value, Mapping):
        return dict(value)
    raise invalid_type(algo, arg, "Dictionary", value)


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


# --- If, ObjectType, IsEqual --------------------------------------------------------------


@algorithm("If")
def if_(condition: Any = None, trueCase: Any = None, falseCase: Any = None) -> Any:
    """``trueCase`` when the condition is true by Earth Engine's rules, else ``falseCase``.

    Both cases have already been evaluated (the local engine evaluates arguments eagerly).
    """
    return trueCase if truthy(condition) else falseCase


@algorithm("ObjectType")
def object_type(value: Any = None) -> str:
    return type_name(value)


@algorithm("IsEqual")
def is_equal(left: Any = None, right: Any = None) -> bool:
    return ee_equal(left, right)


# --- ErrorMargin ---------------------------------------------------------------------------


class ErrorMargin:
    """Earth Engine's error margin: a value in ``meters`` or ``projected`` units, or infinite."""

    ee_type = "ErrorMargin"

    def __init__(self, value: float | None, unit: str = "meters") -> None:
        self.value = value
        self.unit = unit

    def info(self) -> dict:
        out: dict[str, Any] = {"type": "ErrorMargin", "unit": self.unit}
        if self.unit != "infinite":
            out["value"] = self.value
        return out


@algorithm("ErrorMargin")
def error_margin(value: Any = None, unit: Any = "meters") -> ErrorMargin:
    unit = "meters" if unit is None else unit
    if unit not in ("meters", "projected", "infinite"):
        raise EEError(
            f"ErrorMargin: unit must be 'meters', 'projected' or 'infinite', got {unit!r}."
        )
    if unit != "infinite":
        if value is None:
            raise required("ErrorMargin", "value")
        value = float(as_number(value, "ErrorMargin", "value"))
    return ErrorMargin(value, unit)


# --- Projection ------------------------------------------------------------------------------

_WKT_ELT = re.compile(r'PARAMETER\s*\[\s*"elt_(\d)_(\d)"\s*,\s*([-+0-9.eE]+)\s*\]')


def _parse_transform_wkt(text: str) -> tuple[float, ...]:
    """The affine coefficients of a ``PARAM_MT["Affine", PARAMETER["elt_i_j", v] ...]``."""
    if "Affine" not in text:
        raise EEError(
            f"Projection: cannot parse transformWkt {text[:80]!r}; expected an Affine PARAM_MT."
        )
    m = {(0, 0): 1.0, (0, 1): 0.0, (0, 2): 0.0, (1, 0): 0.0, (1, 1): 1.0, (1, 2): 0.0}
    for i, j, v in _WKT_ELT.findall(text):
        if int(i) < 2:
            m[(int(i), int(j))] = float(v)
    return (m[(0, 0)], m[(0, 1)], m[(0, 2)], m[(1, 0)], m[(1, 1)], m[(1, 2)])


def _crs_from_wkt(text: str) -> str:
    import pyproj

    try:
        crs = pyproj.CRS.from_wkt(text)
    except pyproj.exceptions.CRSError as exc:
        raise EEError(f"Projection: invalid crs WKT: {exc}") from None
    auth = crs.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else crs.to_wkt()


def as_projection(value: Any, algo: str, arg: str) -> Projection:
    if isinstance(value, Projection):
        return value
    raise invalid_type(algo, arg, "Projection", value)


@algorithm("Projection")
def projection(crs: Any, transform: Any = None, transformWkt: Any = None) -> Projection:
    if transform is not None and transformWkt is not None:
        raise EEError("Projection: may not specify both 'transform' and 'transformWkt'.")
    if isinstance(crs, Projection):
        base = crs
        code = base.crs
    elif isinstance(crs, str):
        code = crs.strip()
        if code.upper().startswith(("PROJCS", "GEOGCS", "PROJCRS", "GEOGCRS", "COMPD")):
            code = _crs_from_wkt(code)
        base = None
    else:
        raise invalid_type("Projection", "crs", "String", crs)
    if transform is not None:
        t = as_list(transform, "Projection", "transform")
        if len(t) != 6:
            raise EEError(
                f"Projection: the transform must have 6 numbers "
                f"[xScale, xShearing, xTranslation, yShearing, yScale, yTranslation], got {len(t)}."
            )
        coeffs = tuple(float(as_number(v, "Projection", "transform")) for v in t)
    elif transformWkt is not None:
        coeffs = _parse_transform_wkt(as_str(transformWkt, "Projection", "transformWkt"))
    elif base is not None:
        coeffs = base.transform
    else:
        coeffs = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    try:
        import pyproj

        pyproj.CRS.from_user_input(code)
    except Exception:  # noqa: BLE001 (pyproj raises several types)
        raise EEError(f"Projection: Invalid CRS: '{code}'.") from None
    return Projection(code, coeffs)


@algorithm("Projection.crs")
def projection_crs(projection: Any) -> str:
    return as_projection(projection, "Projection.crs", "projection").crs


def _num_text(v: float) -> str:
    return repr(float(v))


@algorithm("Projection.transform")
def projection_transform(projection: Any) -> str:
    """The transform as an OGC ``PARAM_MT["Affine", ...]`` WKT (identity entries omitted)."""
    p = as_projection(projection, "Projection.transform", "projection")
    a, b, c, d, e, f = p.transform
    entries = [
        ("elt_0_0", a, 1.0),
        ("elt_0_1", b, 0.0),
        ("elt_0_2", c, 0.0),
        ("elt_1_0", d, 0.0),
        ("elt_1_1", e, 1.0),
        ("elt_1_2", f, 0.0),
    ]
    params = ['PARAMETER["num_row", 3]', 'PARAMETER["num_col", 3]']
    params += [f'PARAMETER["{n}", {_num_text(v)}]' for n, v, dflt in entries if v != dflt]
    return 'PARAM_MT["Affine", \n  ' + ", \n  ".join(params) + "]"


@algorithm("Projection.wkt")
def projection_wkt(projection: Any) -> str:
    import pyproj

    p = as_projection(projection, "Projection.wkt", "projection")
    return pyproj.CRS.from_user_input(p.crs).to_wkt("WKT1_GDAL")


@algorithm("Projection.nominalScale")
def projection_nominal_scale(proj: Any) -> float:
    return as_projection(proj, "Projection.nominalScale", "proj").nominal_scale


def _scaled(p: Projection, x: float, y: float) -> Projection:
    a, b, c, d, e, f = p.transform
    return Projection(p.crs, (a * x, b * y, c, d * x, e * y, f))


@algorithm("Projection.scale")
def projection_scale(projection: Any, x: Any, y: Any) -> Projection:
    p = as_projection(projection, "Projection.scale", "projection")
    return _scaled(
        p,
        float(as_number(x, "Projection.scale", "x")),
        float(as_number(y, "Projection.scale", "y")),
    )


@algorithm("Projection.translate")
def projection_translate(projection: Any, x: Any, y: Any) -> Projection:
    """The projection with its origin moved by ``(x, y)`` units of the base CRS."""
    p = as_projection(projection, "Projection.translate", "projection")
    a, b, c, d, e, f = p.transform
    dx = float(as_number(x, "Projection.translate", "x"))
    dy = float(as_number(y, "Projection.translate", "y"))
    return Projection(p.crs, (a, b, c + dx, d, e, f + dy))


@algorithm("Projection.atScale")
def projection_at_scale(projection: Any, meters: Any) -> Projection:
    """The projection scaled uniformly so that its nominal scale is ``meters``."""
    p = as_projection(projection, "Projection.atScale", "projection")
    m = float(as_number(meters, "Projection.atScale", "meters"))
    if m <= 0:
        raise EEError(f"Projection.atScale: the scale must be positive, got {m}.")
    current = p.nominal_scale
    if current == 0:
        raise EEError("Projection.atScale: the projection has a degenerate transform.")
    factor = m / current
    return _scaled(p, factor, factor)


#: Metres per degree used by ``nominalScale`` for geographic CRSs (re-exported for tests).
NOMINAL_METERS_PER_DEGREE = METERS_PER_DEGREE
