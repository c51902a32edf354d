"""``Image.*`` bit operators, ``normalizedDifference`` and ``metadata``.

Bit operators (``bitwiseAnd/Or/Xor/Not``, ``leftShift``, ``rightShift``, ``bitCount``) work
on the 64-bit two's complement form of each pixel, as ``algorithms.json`` describes them;
non-integer pixels are truncated toward zero first (a cast to long). Binary ones pair bands
as the arithmetic operators do (:func:`gee_cscc.engine.algorithms.bands.match_bands`) and
mask a pixel where either input is masked.

``normalizedDifference`` is ``(first − second) / (first + second)`` in a band named ``nd``;
as documented, the output is masked where either input is negative (and where the sum is
0, a 0/0); the input's properties are not kept. ``metadata`` is a constant double image of a
number property.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.arguments import as_image
from ...core.registry import algorithm
from ...core.values import Image, PixelData, constant_band, is_integer_dtype, pointwise, promote
from ...errors import EEError
from ..bands import binary_image_op, select_names, unary_image_op

__all__ = ["normalized_difference", "metadata"]


def _long(v: np.ndarray) -> np.ndarray:
    """Pixels as int64, truncated toward zero (non-finite values become 0)."""
    return np.trunc(np.where(np.isfinite(v), v, 0.0)).astype(np.int64)


def _int_union(a: str, b: str) -> str:
    """The union of two pixel types; a float input gives a long result."""
    if is_integer_dtype(a) and is_integer_dtype(b):
        return promote(a, b)
    return "int64"


_BINARY = {
    ("Image.bitwiseAnd", "Image.bitwise_and"): np.bitwise_and,
    ("Image.bitwiseOr", "Image.bitwise_or"): np.bitwise_or,
    ("Image.bitwiseXor", "Image.bitwise_xor"): np.bitwise_xor,
}


def _register_binary(names: tuple[str, ...], fn: Any) -> None:
    op = names[0].split(".", 1)[1]

    @algorithm(*names)
    def impl(image1: Any, image2: Any) -> Image:
        return binary_image_op(
            image1,
            image2,
            op,
            lambda a, b: fn(_long(a), _long(b)).astype(np.float64),
            dtype=_int_union,
        )


for _names, _fn in _BINARY.items():
    _register_binary(_names, _fn)


def _shift(a: np.ndarray, b: np.ndarray, left: bool) -> np.ndarray:
    x, n = _long(a), _long(b) & 63  # Java's long shift uses the low 6 bits of the count
    out = np.left_shift(x, n) if left else np.right_shift(x, n)
    return out.astype(np.float64)


@algorithm("Image.leftShift")
def left_shift(image1: Any, image2: Any) -> Image:
    return binary_image_op(
        image1, image2, "leftShift", lambda a, b: _shift(a, b, True), dtype=_int_union
    )


@algorithm("Image.rightShift")
def right_shift(image1: Any, image2: Any) -> Image:
    return binary_image_op(
        image1, image2, "rightShift", lambda a, b: _shift(a, b, False), dtype=_int_union
    )


def _not_type(d: str) -> str:
    """The smallest signed integer type that holds the input (the docs of bitwiseNot)."""
    return {"uint8": "int16", "int8": "int8", "uint16": "int32", "int16": "int16"}.get(
        d, "int32" if d == "int32" else "int64"
    )


@algorithm("Image.bitwiseNot", "Image.bitwise_not")
def bitwise_not(value: Any) -> Image:
    return unary_image_op(
        value, "bitwiseNot", lambda v: np.invert(_long(v)).astype(np.float64), dtype=_not_type
    )


def _popcount(v: np.ndarray) -> np.ndarray:
    u = _long(v).view(np.uint64)
    count = np.zeros(u.shape, dtype=np.uint64)
    for _ in range(64):
        count += u & np.uint64(1)
        u = u >> np.uint64(1)
    return count.astype(np.float64)


@algorithm("Image.bitCount")
def bit_count(value: Any) -> Image:
    return unary_image_op(value, "bitCount", _popcount, dtype=lambda d: "int32")


# --- normalizedDifference ---------------------------------------------------------------------


@algorithm("Image.normalizedDifference")
def normalized_difference(input: Any, bandNames: Any = None) -> Image:  # noqa: A002, N803
    algo = "Image.normalizedDifference"
    image = as_image(input, algo)
    if bandNames is None:
        if len(image.bands) < 2:
            raise EEError(f"{algo}: Input must have at least 2 bands; it has {len(image.bands)}.")
        first, second = image.bands[0], image.bands[1]
    else:
        if len(bandNames) != 2:
            raise EEError(f"{algo}: Need exactly 2 band names, got {len(bandNames)}.")
        idx = select_names(image.band_names, bandNames)
        first, second = image.bands[idx[0]], image.bands[idx[1]]

    def compute(pa: PixelData, pb: PixelData) -> PixelData:
        a, b = pa[0], pb[0]
        s = a + b
        with np.errstate(all="ignore"):
            nd = (a - b) / np.where(s == 0, 1.0, s)
        mask = pa[1] & pb[1] & (a >= 0) & (b >= 0) & (s != 0)
        return np.where(mask, nd, 0.0), mask

    return Image([pointwise([first, second], compute, name="nd", dtype="float32")], {})


# --- metadata ---------------------------------------------------------------------------------


@algorithm("Image.metadata")
def metadata(image: Any, property: str, name: str | None = None) -> Image:  # noqa: A002
    algo = "Image.metadata"
    if not isinstance(image, Image):
        raise EEError(f"{algo}: expected an Image.")
    if property not in image.properties:
        raise EEError(f"{algo}: Image does not have a property named '{property}'.")
    value = image.properties[property]
    if isinstance(value, bool):
        value = int(value)
    if hasattr(value, "millis"):
        value = value.millis
    if not isinstance(value, (int, float, np.integer, np.floating)):
        raise EEError(
            f"{algo}: Property '{property}' is not a number (it is {type(value).__name__})."
        )
    return Image([constant_band(float(value), name or property, dtype="float64")], {})
