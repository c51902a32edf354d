"""Array images, reshaped and reordered: ``Image.arrayFlatten``, ``arrayTranspose``
(``matrixTranspose``) and ``arraySort``. Array bands: :mod:`.arrays`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.registry import algorithm
from ...core.values import Image, PixelData
from ...errors import EEError
from ...raster.grid import Grid
from .arrays import array_bands, is_ragged, lengths_of, like_band, pixels, refuse_ragged

__all__: list[str] = []


def _image(value: Any, what: str) -> Image:
    if not isinstance(value, Image):
        raise EEError(f"{what}: expected an Image, got {type(value).__name__}.")
    return value


def _axis(b: Any, axis: Any, what: str) -> int:
    ax = int(axis)
    if not -len(b.shape) <= ax < len(b.shape):
        raise EEError(f"{what}: Axis {ax} out of bounds for {len(b.shape)}-D arrays.")
    return ax % len(b.shape)


@algorithm("Image.arrayFlatten")
def array_flatten(image: Any, coordinateLabels: list, separator: str = "_") -> Image:  # noqa: N803
    """One scalar band per array element, named by joining the labels of its coordinates."""
    what = "Image.arrayFlatten"
    bands = array_bands(image, what)
    if len(bands) != 1:
        raise EEError(f"{what}: The image must have exactly one band, got {len(bands)}.")
    b = bands[0]
    labels = [list(map(str, axis_labels)) for axis_labels in coordinateLabels]
    if len(labels) != len(b.shape):
        raise EEError(
            f"{what}: Expected {len(b.shape)} label lists (one per axis), got {len(labels)}."
        )
    for ax, (names, n) in enumerate(zip(labels, b.shape, strict=True)):
        if len(names) != n:
            raise EEError(f"{what}: Axis {ax} has length {n}, but {len(names)} labels were given.")
    out = []
    for index in np.ndindex(*b.shape):
        name = separator.join(labels[ax][i] for ax, i in enumerate(index))

        def fn(grid: Grid, _index=index) -> PixelData:
            values, mask = pixels(b, grid)
            if is_ragged(b) and np.any(mask & (lengths_of(b, grid) != b.shape[0])):
                raise EEError(
                    f"{what}: Axis 0 has {len(labels[0])} labels, but some pixels' arrays "
                    "are shorter."
                )
            return values[(slice(None), slice(None), *_index)], mask

        out.append(like_band(b, name, fn, (), b.dtype))
    return _image(image, what).with_bands(out)


@algorithm("Image.arrayTranspose", "Image.matrixTranspose")
def array_transpose(input: Any, axis1: Any = 0, axis2: Any = 1) -> Image:  # noqa: A002
    """The arrays with two axes swapped."""
    what = "Image.arrayTranspose"
    out = []
    for b in array_bands(input, what):
        a1, a2 = _axis(b, axis1, what), _axis(b, axis2, what)
        if 0 in (a1, a2) and a1 != a2:
            refuse_ragged(b, what, " (transposing their axis 0)")
        shape = list(b.shape)
        shape[a1], shape[a2] = shape[a2], shape[a1]

        def fn(grid: Grid, _b=b, _a1=a1, _a2=a2) -> PixelData:
            values, mask = pixels(_b, grid)
            return np.swapaxes(values, 2 + _a1, 2 + _a2), mask

        out.append(like_band(b, b.name, fn, shape, b.dtype, lengths=b.lengths))
    return _image(input, what).with_bands(out)


@algorithm("Image.arraySort")
def array_sort(image: Any, keys: Any = None) -> Image:
    """Each band's arrays sorted (ascending, stable) along one axis: by their own values
    (1-D arrays), or by ``keys``, whose one axis longer than 1 is the axis sorted."""
    what = "Image.arraySort"
    bands = array_bands(image, what)
    key_bands = None if keys is None else array_bands(keys, what)
    out = []
    for i, b in enumerate(bands):
        kb = None if key_bands is None else key_bands[i if len(key_bands) > 1 else 0]
        kshape = b.shape if kb is None else kb.shape
        if kb is None and len(b.shape) != 1:
            raise EEError(f"{what}: Arrays with more than one dimension need sort keys.")
        if len(kshape) != len(b.shape):
            raise EEError(f"{what}: The keys must have as many dimensions as the arrays.")
        long_axes = [ax for ax, n in enumerate(kshape) if n > 1]
        if len(long_axes) > 1:
            raise EEError(f"{what}: The keys can only have multiple elements along one axis.")
        ax = long_axes[0] if long_axes else 0
        if kshape[ax] != b.shape[ax]:
            raise EEError(
                f"{what}: The keys have length {kshape[ax]} along axis {ax}, the arrays "
                f"{b.shape[ax]}."
            )

        def fn(grid: Grid, _b=b, _kb=kb, _ax=ax) -> PixelData:
            values, mask = pixels(_b, grid)
            if _kb is None:
                kv, km = values, mask
            else:
                kv, km = pixels(_kb, grid)
            if is_ragged(_b) and _ax == 0:  # padding rows sort last
                pad = np.arange(kv.shape[2]) >= lengths_of(_b, grid)[..., None]
                kv = np.where(pad.reshape(pad.shape + (1,) * (kv.ndim - 3)), np.inf, kv)
            order = np.argsort(kv, axis=2 + _ax, kind="stable")
            order = np.broadcast_to(order, values.shape)
            return np.take_along_axis(values, order, axis=2 + _ax), mask & km

        out.append(like_band(b, b.name, fn, b.shape, b.dtype, lengths=b.lengths))
    return _image(image, what).with_bands(out)
