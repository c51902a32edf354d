"""More array-image algorithms: ``Image.arrayReshape``, ``arrayCat``, ``arrayDotProduct``,
``arrayLengths``, ``arrayDimensions``, ``arrayPad`` and ``arrayArgmax`` (descriptions of
earthengine-api's ``algorithms.json``; array bands: :mod:`.arrays`).

``arrayReshape`` takes its new shape from a constant 1-D array image (``ee.Image([2, 3])
.toArray()``); elements keep their row-major order. Arrays whose length differs between
pixels (``ImageCollection.toArray`` with masked images) are taken by ``arrayLengths``,
``arrayPad`` and ``arrayArgmax``; the others refuse them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.registry import algorithm
from ...core.values import Band, Image, PixelData, promote
from ...errors import EEError
from ...raster.grid import DEFAULT_PROJECTION, Grid
from .arrays import (
    ArrayBand,
    array_bands,
    is_ragged,
    lengths_of,
    like_band,
    pairwise,
    pixels,
    refuse_ragged,
)

__all__: list[str] = []


def _image(value: Any, what: str) -> Image:
    if not isinstance(value, Image):
        raise EEError(f"{what}: expected an Image, got {type(value).__name__}.")
    return value


def _padding(b: ArrayBand, grid: Grid) -> np.ndarray:
    """Boolean ``(h, w, *shape)``: the elements beyond each pixel's length (ragged arrays)."""
    pad = np.arange(b.shape[0]) >= lengths_of(b, grid)[..., None]
    return np.broadcast_to(pad.reshape(pad.shape + (1,) * (len(b.shape) - 1)), grid.shape + b.shape)


@algorithm("Image.arrayReshape")
def array_reshape(image: Any, lengths: Any, dimensions: int) -> Image:
    """The arrays with the shape held by the constant 1-D array image ``lengths``."""
    what = "Image.arrayReshape"
    probe = Grid(DEFAULT_PROJECTION, (1, 1))
    lb = _image(lengths, what).bands[0]
    if not isinstance(lb, ArrayBand) or lb.projection is not None:
        raise EEError(
            f"{what}: 'lengths' that is not a constant array image is not implemented by the "
            "local engine."
        )
    values, mask = pixels(lb, probe)
    shape = tuple(int(v) for v in np.asarray(values).reshape(-1))
    if len(shape) != dimensions:
        raise EEError(f"{what}: 'lengths' has {len(shape)} values for {dimensions} dimensions.")
    out = []
    for b in array_bands(image, what):
        refuse_ragged(b, what)
        if int(np.prod(shape)) != int(np.prod(b.shape)):
            raise EEError(
                f"{what}: cannot reshape arrays of shape {list(b.shape)} to {list(shape)}."
            )

        def fn(grid: Grid, _b=b) -> PixelData:
            v, m = pixels(_b, grid)
            return v.reshape(grid.shape + shape), m

        out.append(like_band(b, b.name, fn, shape, b.dtype))
    return _image(image, what).with_bands(out)


def _pairs(image1: Any, image2: Any, what: str) -> list[tuple[ArrayBand, ArrayBand]]:
    left, right = array_bands(image1, what), array_bands(image2, what)
    if len(right) == 1:
        right = right * len(left)
    if len(left) == 1:
        left = left * len(right)
    if len(left) != len(right):
        raise EEError(f"{what}: Images must have the same number of bands, or one band.")
    for b in left + right:
        refuse_ragged(b, what)
    return list(zip(left, right, strict=True))


@algorithm("Image.arrayCat")
def array_cat(image1: Any, image2: Any, axis: int) -> Image:
    """Each band's arrays joined along ``axis`` with those of the other image's band."""
    what = "Image.arrayCat"
    out = []
    for a, b in _pairs(image1, image2, what):
        if len(a.shape) != len(b.shape) or not 0 <= axis < len(a.shape):
            raise EEError(f"{what}: Axis {axis} is not an axis of both arrays.")
        if a.shape[:axis] + a.shape[axis + 1 :] != b.shape[:axis] + b.shape[axis + 1 :]:
            raise EEError(f"{what}: Array shapes {list(a.shape)} and {list(b.shape)} differ.")
        shape = list(a.shape)
        shape[axis] += b.shape[axis]

        fn = pairwise(a, b, lambda va, vb: np.concatenate([va, vb], axis=2 + axis))
        out.append(like_band(a, a.name, fn, shape, promote(a.dtype, b.dtype)))
    return _image(image1, what).with_bands(out)


@algorithm("Image.arrayDotProduct")
def array_dot_product(image1: Any, image2: Any) -> Image:
    """The dot product of each pair of 1-D arrays (a scalar band)."""
    what = "Image.arrayDotProduct"
    out = []
    for a, b in _pairs(image1, image2, what):
        if len(a.shape) != 1 or a.shape != b.shape:
            raise EEError(f"{what}: Arguments must be 1-D arrays of the same length.")

        fn = pairwise(a, b, lambda va, vb: np.einsum("hwi,hwi->hw", va, vb))
        out.append(like_band(a, a.name, fn, (), promote(a.dtype, b.dtype)))
    return _image(image1, what).with_bands(out)


@algorithm("Image.arrayLengths")
def array_lengths(input: Any) -> Image:  # noqa: A002 (Earth Engine's name)
    """The length of each axis, as a 1-D array per pixel."""
    what = "Image.arrayLengths"
    out = []
    for b in array_bands(input, what):

        def fn(grid: Grid, _b=b) -> PixelData:
            mask = pixels(_b, grid)[1]
            n = np.broadcast_to(np.array(_b.shape, dtype=float), grid.shape + (len(_b.shape),))
            n = n.copy()
            n[..., 0] = lengths_of(_b, grid)
            return n, mask

        out.append(like_band(b, b.name, fn, (len(b.shape),), "int32"))
    return _image(input, what).with_bands(out)


@algorithm("Image.arrayDimensions")
def array_dimensions(input: Any) -> Image:  # noqa: A002 (Earth Engine's name)
    """The number of array dimensions of each band (0 for a scalar band)."""
    out = []
    for b in _image(input, "Image.arrayDimensions").bands:
        dims = len(b.shape) if isinstance(b, ArrayBand) else 0

        def fn(grid: Grid, _b=b, _d=dims) -> PixelData:
            return np.full(grid.shape, float(_d)), pixels(_b, grid)[1]

        out.append(Band(b.name, fn, dtype="int32", projection=b.projection, extent=b.extent))
    return _image(input, "").with_bands(out)


@algorithm("Image.arrayPad")
def array_pad(image: Any, lengths: list, pad: Any = 0) -> Image:
    """The arrays extended with ``pad`` to at least ``lengths`` along each axis."""
    what = "Image.arrayPad"
    out = []
    for b in array_bands(image, what):
        if len(lengths) != len(b.shape):
            raise EEError(f"{what}: Expected {len(b.shape)} lengths, got {len(lengths)}.")
        shape = tuple(max(int(n), s) for n, s in zip(lengths, b.shape, strict=True))
        target0 = int(lengths[0])

        def fn(grid: Grid, _b=b, _shape=shape) -> PixelData:
            v, m = pixels(_b, grid)
            widths = [(0, 0), (0, 0)] + [(0, n - s) for n, s in zip(_shape, _b.shape, strict=True)]
            out_v = np.pad(v, widths, constant_values=pad)
            if is_ragged(_b):  # fill each pixel's rows from its length on
                rows = np.arange(_shape[0]) >= lengths_of(_b, grid)[..., None]
                rows = rows.reshape(rows.shape + (1,) * (len(_shape) - 1))
                out_v = np.where(rows, pad, out_v)
            return out_v, m

        lengths_fn = None
        if is_ragged(b) and target0 < b.shape[0]:

            def lengths_fn(grid: Grid, _b=b, _t=target0) -> np.ndarray:
                return np.maximum(lengths_of(_b, grid), _t)

        band = like_band(
            b,
            b.name,
            fn,
            shape,
            promote(b.dtype, "float64" if isinstance(pad, float) else b.dtype),
            lengths=lengths_fn,
        )
        out.append(band)
    return _image(image, what).with_bands(out)


@algorithm("Image.arrayArgmax")
def array_argmax(image: Any) -> Image:
    """The position (one index per axis) of the first maximum of each array."""
    what = "Image.arrayArgmax"
    out = []
    for b in array_bands(image, what):

        def fn(grid: Grid, _b=b) -> PixelData:
            v, m = pixels(_b, grid)
            if is_ragged(_b):
                v = np.where(_padding(_b, grid), -np.inf, v)
                m = m & (lengths_of(_b, grid) > 0)
            flat = v.reshape(*grid.shape, -1)
            idx = np.unravel_index(np.argmax(flat, axis=-1), _b.shape)
            return np.stack(idx, axis=-1).astype(float), m

        out.append(like_band(b, b.name, fn, (len(b.shape),), "int32"))
    return _image(image, what).with_bands(out)


@algorithm("Image.arrayRepeat")
def array_repeat(input: Any, axis: int, copies: Any) -> Image:  # noqa: A002
    """``copies`` (a constant image) copies of each array concatenated along ``axis``."""
    what = "Image.arrayRepeat"
    probe = Grid(DEFAULT_PROJECTION, (1, 1))
    cb = _image(copies, what).bands[0] if isinstance(copies, Image) else None
    if cb is None or cb.projection is not None or isinstance(cb, ArrayBand):
        raise EEError(
            f"{what}: 'copies' that is not a constant is not implemented by the local engine."
        )
    n = int(np.asarray(pixels(cb, probe)[0]).reshape(-1)[0])
    if n < 0:
        raise EEError(f"{what}: copies must not be negative, got {n}.")
    out = []
    for b in array_bands(input, what):
        refuse_ragged(b, what)
        if not 0 <= axis < len(b.shape):
            raise EEError(f"{what}: Axis {axis} out of bounds for {len(b.shape)}-D arrays.")
        shape = list(b.shape)
        shape[axis] *= n

        def fn(grid: Grid, _b=b) -> PixelData:
            v, m = pixels(_b, grid)
            return np.concatenate([v] * n, axis=2 + axis) if n else v[..., :0], m

        out.append(like_band(b, b.name, fn, shape, b.dtype))
    return _image(input, what).with_bands(out)


@algorithm("Image.arrayMask")
def array_mask(input: Any, mask: Any) -> Image:  # noqa: A002 (Earth Engine's name)
    """Each 1-D or 2-D array keeps the positions along axis 0 where the mask array is
    non-zero (the result's length differs between pixels)."""
    what = "Image.arrayMask"
    bands = array_bands(input, what)
    masks = array_bands(mask, what)
    if len(masks) not in (1, len(bands)):
        raise EEError(f"{what}: The mask must have one band or as many bands as the input.")
    out = []
    for i, b in enumerate(bands):
        mb = masks[i if len(masks) > 1 else 0]
        refuse_ragged(b, what)
        refuse_ragged(mb, what)
        if len(mb.shape) != len(b.shape) or mb.shape[0] != b.shape[0]:
            raise EEError(
                f"{what}: The mask's arrays {list(mb.shape)} do not match {list(b.shape)}."
            )
        if any(n != 1 for n in mb.shape[1:]):
            raise EEError(
                f"{what}: a mask along an axis other than 0 is not implemented by the local engine."
            )

        def compute(grid: Grid, _b=b, _mb=mb) -> list:
            v, m = pixels(_b, grid)
            mv, mm = pixels(_mb, grid)
            keep = mv.reshape(*grid.shape, -1) != 0
            order = np.argsort(~keep, axis=-1, kind="stable")  # kept positions first
            index = order.reshape(order.shape + (1,) * (len(_b.shape) - 1))
            values = np.take_along_axis(v, np.broadcast_to(index, v.shape), axis=2)
            return [(values, m & mm), keep.sum(axis=-1)]

        from ...raster.reduction import shared_outputs

        output = shared_outputs(compute)
        out.append(
            ArrayBand(
                b.name,
                output(0),
                shape=b.shape,
                dtype=b.dtype,
                projection=b.projection,
                extent=b.extent,
                lengths=output(1),
            )
        )
    return _image(input, what).with_bands(out)
