"""Bands of images in per-pixel operations: pairing, selecting, and per-pixel maps.

How Earth Engine pairs the bands of two images in a binary operator (:func:`match_bands`),
selects bands by name, pattern or index (:func:`select_names`), and the per-pixel operations
built on them (:func:`binary_image_op`, :func:`unary_image_op`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.arguments import as_image
from ..core.values import Band, Image, PixelData, is_uniform, pointwise, promote
from ..errors import EEError

__all__ = [
    "match_bands",
    "binary_image_op",
    "unary_image_op",
    "select_names",
    "both_valid",
    "operand",
]


def both_valid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a & b`` for two validity masks of one shape, without a new array when one is all True.

    A mask that is one True broadcast over the grid (a constant's) leaves the other as it
    is; the result is then that other mask itself (masks are never written in place).
    """
    if a.shape == b.shape:
        if is_uniform(a) and a.flat[0]:
            return b
        if is_uniform(b) and b.flat[0]:
            return a
    return a & b


def operand(values: np.ndarray, other: np.ndarray) -> np.ndarray | np.float64:
    """``values`` as a float64 scalar when it is one value broadcast and ``other`` is not.

    A ufunc of an array and a scalar gives the same numbers as of the array and the
    broadcast scalar, in a faster loop.
    """
    if is_uniform(values) and not is_uniform(other) and values.shape == other.shape:
        return np.float64(values.flat[0])
    return values


def match_bands(a: Image, b: Image, op: str) -> list[tuple[Band, Band, str]]:
    """Pair the bands of two images as Earth Engine's binary operators do.

    A one-band image is used against every band of the other; otherwise both must have the
    same number of bands and are paired in order. Output names come from the image with
    more bands (image1 when equal).
    """
    na, nb = len(a.bands), len(b.bands)
    if na == 0 or nb == 0:
        return []
    if na == nb:
        return [(x, y, x.name) for x, y in zip(a.bands, b.bands, strict=True)]
    if nb == 1:
        return [(x, b.bands[0], x.name) for x in a.bands]
    if na == 1:
        return [(a.bands[0], y, y.name) for y in b.bands]
    raise EEError(
        f"Image.{op}: Images must contain the same number of bands or only 1 band. "
        f"Got {na} and {nb}."
    )


def binary_image_op(
    image1: Any,
    image2: Any,
    op: str,
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    dtype: Callable[[str, str], str] | None = None,
    mask: Callable[[PixelData, PixelData, np.ndarray], np.ndarray] | None = None,
    scalars: bool = False,
) -> Image:
    """A per-pixel operation of two images; the output mask is the AND of the inputs'.

    ``scalars``: ``fn`` accepts a float64 scalar for either operand (a NumPy ufunc or a
    function of ufuncs), so an operand that is one value broadcast is passed as a scalar.
    """
    a = as_image(image1, f"Image.{op} image1")
    b = as_image(image2, f"Image.{op} image2")
    bands = []
    for x, y, name in match_bands(a, b, op):
        out_type = dtype(x.dtype, y.dtype) if dtype else promote(x.dtype, y.dtype)

        def compute(px: PixelData, py: PixelData, _mask=mask) -> PixelData:
            va, vb = px[0], py[0]
            if scalars:
                va, vb = operand(va, vb), operand(vb, va)
            with np.errstate(all="ignore"):
                values = fn(va, vb)
            if _mask is not None:
                return values, _mask(px, py, values)
            return values, both_valid(px[1], py[1])

        bands.append(pointwise([x, y], compute, name=name, dtype=out_type))
    return Image(bands, {})


def unary_image_op(
    value: Any,
    op: str,
    fn: Callable[[np.ndarray], np.ndarray],
    *,
    dtype: Callable[[str], str] | None = None,
    valid: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Image:
    """A per-pixel function of one image; ``valid`` can mask results (e.g. NaN of log)."""
    img = as_image(value, f"Image.{op}")
    bands = []
    for band in img.bands:

        def compute(p: PixelData) -> PixelData:
            with np.errstate(all="ignore"):
                values = fn(p[0])
            m = p[1]
            if valid is not None:
                m = m & valid(values)
            return values, m

        out_type = dtype(band.dtype) if dtype else band.dtype
        bands.append(pointwise([band], compute, name=band.name, dtype=out_type))
    return Image(bands, {})


def select_names(available: Sequence[str], selectors: Sequence[Any]) -> list[int]:
    """Indexes of bands matched by selectors (names, regular expressions or indexes)."""
    out: list[int] = []
    for sel in selectors:
        if isinstance(sel, bool):
            raise EEError(f"Invalid band selector: {sel!r}.")
        if isinstance(sel, (int, float)):
            i = int(sel)
            if not 0 <= i < len(available):
                raise EEError(f"Band index out of range: {i}. Image has {len(available)} bands.")
            out.append(i)
            continue
        if not isinstance(sel, str):
            raise EEError(f"Invalid band selector: {sel!r}.")
        hits = [i for i, n in enumerate(available) if n == sel]
        if not hits:
            try:
                pattern = re.compile(sel)
                hits = [i for i, n in enumerate(available) if pattern.fullmatch(n)]
            except re.error:
                hits = []
        if not hits:
            raise EEError(
                f"Image.select: Pattern '{sel}' did not match any bands. "
                f"Available bands: {list(available)}"
            )
        out.extend(hits)
    return out
