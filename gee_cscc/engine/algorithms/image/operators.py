"""``Image.*`` per-pixel operators: arithmetic, comparisons, logic, math functions and casts.

Semantics follow the descriptions in earthengine-api's ``algorithms.json``: binary operators
pair bands (a one-band image is used against every band of the other) and mask the output
where either input is masked; comparisons and logic give 0/1; ``divide`` gives 0 for a
division by 0; integer ÷ integer stays integer (truncated toward zero).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.arguments import as_image
from ...core.registry import algorithm
from ...core.values import (
    INT_RANGES,
    Image,
    PixelData,
    is_integer_dtype,
    pointwise,
    promote,
)
from ..bands import binary_image_op, match_bands, unary_image_op
from ..number import CAST_METHODS
from .construct import select

# --- arithmetic ----------------------------------------------------------------------------

_ARITH = {
    "Image.add": np.add,
    "Image.subtract": np.subtract,
    "Image.multiply": np.multiply,
    "Image.max": np.maximum,
    "Image.min": np.minimum,
    "Image.atan2": np.arctan2,
    "Image.hypot": np.hypot,
}


def _register_arith(name: str, fn: Any) -> None:
    op = name.split(".", 1)[1]

    @algorithm(name)
    def impl(image1: Any, image2: Any) -> Image:
        return binary_image_op(image1, image2, op, fn, scalars=True)


for _name, _fn in _ARITH.items():
    _register_arith(_name, _fn)


def _int_result(a: str, b: str) -> bool:
    return is_integer_dtype(a) and is_integer_dtype(b)


@algorithm("Image.divide")
def divide(image1: Any, image2: Any) -> Image:
    def types(a: str, b: str) -> str:
        return promote(a, b)

    a_img, b_img = as_image(image1), as_image(image2)
    out = []
    for x, y, name in match_bands(a_img, b_img, "divide"):
        integer = _int_result(x.dtype, y.dtype)

        def compute(px: PixelData, py: PixelData, _int=integer) -> PixelData:
            with np.errstate(all="ignore"):
                q = np.where(py[0] == 0, 0.0, px[0] / np.where(py[0] == 0, 1.0, py[0]))
            if _int:
                q = np.trunc(q)
            return q, px[1] & py[1]

        out.append(pointwise([x, y], compute, name=name, dtype=types(x.dtype, y.dtype)))
    return Image(out, {})


@algorithm("Image.mod")
def mod(image1: Any, image2: Any) -> Image:
    return binary_image_op(
        image1,
        image2,
        "mod",
        lambda a, b: np.where(b == 0, 0.0, np.fmod(a, np.where(b == 0, 1.0, b))),
    )


@algorithm("Image.pow")
def power(image1: Any, image2: Any) -> Image:
    return binary_image_op(
        image1,
        image2,
        "pow",
        np.power,
        dtype=lambda a, b: "float64",
        mask=lambda px, py, v: px[1] & py[1] & np.isfinite(v),
    )


def _bool_type(a: str, b: str = "") -> str:
    return "uint8"


_COMPARE = {
    "Image.lt": np.less,
    "Image.lte": np.less_equal,
    "Image.gt": np.greater,
    "Image.gte": np.greater_equal,
    "Image.eq": np.equal,
    "Image.neq": np.not_equal,
    "Image.and": lambda a, b: (a != 0) & (b != 0),
    "Image.or": lambda a, b: (a != 0) | (b != 0),
}


def _register_compare(name: str, fn: Any) -> None:
    op = name.split(".", 1)[1]

    @algorithm(name)
    def impl(image1: Any, image2: Any) -> Image:
        return binary_image_op(
            image1, image2, op, lambda a, b: fn(a, b).astype(float), dtype=_bool_type, scalars=True
        )


for _name, _fn in _COMPARE.items():
    _register_compare(_name, _fn)


@algorithm("Image.not")
def logical_not(value: Any) -> Image:
    return unary_image_op(value, "not", lambda v: (v == 0).astype(float), dtype=lambda d: "uint8")


def _float_type(d: str) -> str:
    return "float32" if d == "float32" else "float64"


_UNARY = {
    "Image.log": (np.log, True),
    "Image.log10": (np.log10, True),
    "Image.exp": (np.exp, True),
    "Image.sqrt": (np.sqrt, True),
    "Image.sin": (np.sin, True),
    "Image.cos": (np.cos, True),
    "Image.tan": (np.tan, True),
    "Image.asin": (np.arcsin, True),
    "Image.acos": (np.arccos, True),
    "Image.atan": (np.arctan, True),
    "Image.sinh": (np.sinh, True),
    "Image.cosh": (np.cosh, True),
    "Image.tanh": (np.tanh, True),
    "Image.cbrt": (np.cbrt, True),
    "Image.abs": (np.abs, False),
    "Image.floor": (np.floor, False),
    "Image.ceil": (np.ceil, False),
    "Image.round": (lambda v: np.floor(v + 0.5), False),
    "Image.signum": (np.sign, False),
}


def _register_unary(name: str, fn: Any, floating: bool) -> None:
    op = name.split(".", 1)[1]

    @algorithm(name)
    def impl(value: Any) -> Image:
        return unary_image_op(
            value,
            op,
            fn,
            dtype=_float_type if floating else None,
            valid=(lambda v: np.isfinite(v)) if floating else None,
        )


for _name, (_fn, _floating) in _UNARY.items():
    _register_unary(_name, _fn, _floating)


@algorithm("Image.clamp")
def clamp(input: Image, low: float, high: float) -> Image:  # noqa: A002
    return unary_image_op(input, "clamp", lambda v: np.clip(v, low, high))


@algorithm("Image.unitScale")
def unit_scale(input: Image, low: float, high: float) -> Image:  # noqa: A002
    span = high - low
    return unary_image_op(
        input,
        "unitScale",
        lambda v: (v - low) / span if span else np.zeros_like(v),
        dtype=_float_type,
    )


# --- casts ---------------------------------------------------------------------------------


def cast_values(values: np.ndarray, dtype: str) -> np.ndarray:
    """Values converted as a cast to ``dtype`` converts them (truncation, saturation)."""
    if is_integer_dtype(dtype):
        lo, hi = INT_RANGES[dtype]
        whole = np.trunc(values)  # a new array: clipped in place
        return np.clip(whole, lo, hi, out=whole)
    if dtype == "float32":
        return values.astype(np.float32).astype(np.float64)
    return values


def cast_image(value: Any, dtype: str) -> Image:
    return unary_image_op(
        value, f"cast to {dtype}", lambda v: cast_values(v, dtype), dtype=lambda d: dtype
    )


def _register_cast(dtype: str, names: tuple[str, ...]) -> None:
    @algorithm(*names)
    def impl(value: Any) -> Image:
        return cast_image(value, dtype)


for _dtype, _methods in CAST_METHODS.items():
    _register_cast(_dtype, tuple(f"Image.{m}" for m in _methods))

_PRECISIONS = {
    "int": "int32",
    "float": "float32",
    "double": "float64",
    "byte": "uint8",
    "short": "int16",
    "long": "int64",
}


@algorithm("Image.cast")
def cast(image: Image, bandTypes: dict, bandOrder: list | None = None) -> Image:  # noqa: N803
    bands = []
    for band in image.bands:
        spec = bandTypes.get(band.name)
        if spec is None:
            bands.append(band)
            continue
        if isinstance(spec, dict):
            prec = spec.get("precision", "double")
            dtype = _PRECISIONS.get(prec, prec)
            if prec == "int" and "min" in spec and "max" in spec:
                for cand in ("uint8", "int8", "uint16", "int16", "uint32", "int32"):
                    info = np.iinfo(np.dtype(cand))
                    if info.min <= spec["min"] and spec["max"] <= info.max:
                        dtype = cand
                        break
        else:
            dtype = _PRECISIONS.get(str(spec), str(spec))
        bands.extend(cast_image(Image([band]), dtype).bands)
    out = image.with_bands(bands)
    if bandOrder:
        out = select(out, bandOrder)
    return out
