"""Array images: ``Image.toArray``, ``ImageCollection.toArray``, ``arrayGet``, ``arraySlice``,
``arrayProject``, ``arrayLength`` and ``Image.constant`` of an ``ee.Array``
(``arrayFlatten``, ``arrayTranspose``, ``arraySort``: :mod:`.array_shape`; the matrix
algorithms and array reductions: :mod:`.array_math`).

An array band (:class:`ArrayBand`) computes ``(values, mask)`` with values of shape
``(h, w, *shape)``: every pixel holds an array of the same shape (the band's ``shape``), and
the mask is per pixel. Earth Engine also allows arrays whose length differs from pixel to
pixel (``ImageCollection.toArray`` where only some images are masked, ``arrayMask``); the
local engine raises an error naming the algorithm for those instead of answering wrongly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...core.registry import algorithm
from ...core.values import Band, Image, ImageCollection, PixelData, precision_info, promote
from ...errors import EEError
from ...raster.grid import DEFAULT_PROJECTION, Grid
from ..array import as_array

__all__ = [
    "ArrayBand",
    "array_bands",
    "constant_array_image",
    "is_ragged",
    "lengths_of",
    "like_band",
    "pairwise",
    "pixels",
    "refuse_ragged",
]


class ArrayBand(Band):
    """A band whose pixels are arrays of one ``shape``.

    ``lengths`` (optional, ``grid -> (h, w)`` ints) makes the arrays ragged along axis 0: a
    pixel's array has only its first ``lengths`` rows (``shape[0]`` is the longest); the
    values of the other rows are padding and never read.
    """

    __slots__ = ("shape", "lengths")

    def __init__(
        self,
        name: str,
        fn: Callable,
        *,
        shape: Sequence[int],
        lengths: Callable[[Grid], np.ndarray] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(name, fn, **kw)
        self.shape = tuple(int(s) for s in shape)
        self.lengths = lengths

    def compute(self, grid: Grid) -> PixelData:
        """Refused: a consumer of scalar pixels met an array band (see :func:`pixels`)."""
        raise EEError(
            f"Band '{self.name}' holds arrays: this use of array images is not implemented by "
            "the local engine (make scalar bands first with arrayFlatten, arrayGet or "
            "arrayProject)."
        )

    def compute_array(self, grid: Grid) -> PixelData:
        """The band's ``(values (h, w, *shape), mask (h, w))`` on ``grid`` (memoized)."""
        return Band.compute(self, grid)

    def _checked(self, grid: Grid) -> PixelData:
        values, mask = self.fn(grid)
        values = np.broadcast_to(np.asarray(values, dtype=np.float64), grid.shape + self.shape)
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), grid.shape)
        return values, mask

    KEYWORDS = (*Band.KEYWORDS, "shape", "lengths")

    def replace(self, **changes: Any) -> ArrayBand:
        return self.copy_as(ArrayBand, **changes)

    @staticmethod
    def pointwise(inputs: Sequence[Band], op: Callable, *, name: str, dtype: str) -> ArrayBand:
        """A pixel-wise operation on array bands (and scalar bands, whose value applies to
        every element): ``op`` runs on each element, as Earth Engine's array image math. The
        array inputs must have the same shape; an element is masked where its pixel is."""
        shapes = {b.shape for b in inputs if isinstance(b, ArrayBand)}
        if len(shapes) != 1:
            raise EEError(
                f"Array images of different shapes {sorted(shapes)} cannot be combined pixel "
                "by pixel."
            )
        shape = shapes.pop()
        size = int(np.prod(shape))
        ragged_inputs = [b for b in inputs if is_ragged(b)]

        def fn(grid: Grid) -> PixelData:
            h, w = grid.shape
            flat = []
            for b in inputs:
                v, m = pixels(b, grid)
                if isinstance(b, ArrayBand):
                    v = v.reshape(h, w * size)
                else:
                    v = np.repeat(np.broadcast_to(v, (h, w)), size, axis=1)
                flat.append((v, np.repeat(np.broadcast_to(m, (h, w)), size, axis=1)))
            values, mask = op(*flat)
            values = np.broadcast_to(values, (h, w * size)).reshape(h, w, *shape)
            mask = np.broadcast_to(mask, (h, w * size)).reshape(h, w, size).all(axis=-1)
            return values, mask

        def lengths(grid: Grid) -> np.ndarray:
            first, *rest = (lengths_of(b, grid) for b in ragged_inputs)
            if any(np.any(first != other) for other in rest):
                raise EEError("Arrays of different lengths cannot be combined pixel by pixel.")
            return first

        projection = next((b.projection for b in inputs if b.projection is not None), None)
        extent = next((b.extent for b in inputs if b.extent is not None), None)
        return ArrayBand(
            name,
            fn,
            shape=shape,
            dtype=dtype,
            projection=projection,
            extent=extent,
            lengths=lengths if ragged_inputs else None,
        )

    def info(self) -> dict:
        out = super().info()
        out["data_type"] = {**precision_info(self.dtype), "dimensions": len(self.shape)}
        return out


def pixels(band: Band, grid: Grid) -> PixelData:
    """A band's pixels on ``grid``: ``(h, w, *shape)`` values for an array band."""
    return band.compute_array(grid) if isinstance(band, ArrayBand) else band.compute(grid)


def is_ragged(band: Band) -> bool:
    """Whether an array band's arrays differ in length (along axis 0) between pixels."""
    return isinstance(band, ArrayBand) and band.lengths is not None


def lengths_of(band: ArrayBand, grid: Grid) -> np.ndarray:
    """The per-pixel length of an array band's axis 0 on ``grid``."""
    if band.lengths is None:
        return np.full(grid.shape, band.shape[0], dtype=np.int64)
    return np.asarray(band.lengths(grid), dtype=np.int64)


def refuse_ragged(band: Band, what: str, detail: str = "") -> None:
    """Raise for an operation that does not take arrays of different lengths."""
    if is_ragged(band):
        raise EEError(
            f"{what}: arrays whose length differs from pixel to pixel{detail} are not "
            "implemented by the local engine."
        )


def like_band(
    band: Band,
    name: str,
    fn: Callable,
    shape: Sequence[int],
    dtype: str,
    lengths: Callable[[Grid], np.ndarray] | None = None,
) -> Band:
    """A band with ``band``'s projection: an array band, or a scalar band for ``shape == ()``."""
    kw = {"dtype": dtype, "projection": band.projection, "extent": band.extent}
    if len(shape) == 0:
        return Band(name, fn, **kw)
    return ArrayBand(name, fn, shape=shape, lengths=lengths, **kw)


def pairwise(a: Band, b: Band, op: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable:
    """The pixel function ``op(values of a, values of b)``, masked where either is masked."""

    def fn(grid: Grid) -> PixelData:
        va, ma = pixels(a, grid)
        vb, mb = pixels(b, grid)
        return op(va, vb), ma & mb

    return fn


def _image(value: Any, what: str) -> Image:
    if not isinstance(value, Image):
        raise EEError(f"{what}: expected an Image, got {type(value).__name__}.")
    return value


def array_bands(img: Image, what: str) -> list[ArrayBand]:
    """The bands of an array image (every band must hold arrays)."""
    bands = _image(img, what).bands
    for b in bands:
        if not isinstance(b, ArrayBand):
            raise EEError(f"{what}: Band '{b.name}' is not an array band; use toArray() first.")
    return bands  # type: ignore[return-value]


def _dims(b: Band) -> tuple[int, ...]:
    return b.shape if isinstance(b, ArrayBand) else ()


def _int_out(dtype: str) -> str:
    return dtype if dtype in ("float32", "float64") else "int32"


# --- making array images ----------------------------------------------------------------------


def constant_array_image(value: Any) -> Image:
    """``Image.constant`` of an ``ee.Array``: one band named ``constant`` holding the array."""
    a = as_array(value, "Image.constant", "value").astype(float)
    dtype = "float64" if not np.all(a == np.round(a)) else "int32"

    def fn(grid: Grid) -> PixelData:
        return np.broadcast_to(a, grid.shape + a.shape), np.broadcast_to(True, grid.shape)

    return Image([ArrayBand("constant", fn, shape=a.shape, dtype=dtype)])


@algorithm("Image.toArray")
def to_array(image: Any, axis: Any = 0) -> Image:
    """The bands concatenated along ``axis`` into one band ``array`` (masked where any band
    is)."""
    what = "Image.toArray"
    img = _image(image, what)
    if not img.bands:
        raise EEError(f"{what}: The image has no bands.")
    ax = axis
    dims = {_dims(b) for b in img.bands}
    if len({len(d) for d in dims}) != 1:
        raise EEError(f"{what}: All bands must have the same number of array dimensions.")
    ndim = len(next(iter(dims)))
    if not 0 <= ax <= ndim:
        raise EEError(f"{what}: Axis {ax} must be between 0 and {ndim}.")
    bands = list(img.bands)
    for b in bands:
        refuse_ragged(b, what)
    if ax == ndim:
        if len(dims) != 1:
            raise EEError(f"{what}: All bands must have the same array shape to stack them.")
        shape = (*next(iter(dims)), len(bands))
    else:
        rest = {d[:ax] + d[ax + 1 :] for d in dims}
        if len(rest) != 1:
            raise EEError(f"{what}: Array shapes {sorted(dims)} do not match off axis {ax}.")
        d0 = next(iter(rest))
        shape = (*d0[:ax], sum(_dims(b)[ax] for b in bands), *d0[ax:])

    def fn(grid: Grid) -> PixelData:
        data = [pixels(b, grid) for b in bands]
        mask = np.logical_and.reduce([m for _, m in data])
        if ax == ndim:
            values = np.stack([v for v, _ in data], axis=-1)
        else:
            values = np.concatenate([v for v, _ in data], axis=2 + ax)
        return values, mask

    dtype = promote(*(b.dtype for b in bands))
    return Image([like_band(bands[0], "array", fn, shape, dtype).replace(extent=bands[0].extent)])


@algorithm("ImageCollection.toArray")
def collection_to_array(collection: Any) -> Image:
    """A 2-D array per pixel: images along axis 0, bands along axis 1 (band ``array``).

    As Earth Engine does, each pixel's array holds only the images unmasked in every band
    there, in collection order, so arrays differ in length between pixels; a pixel where
    every image is masked is masked.
    """
    what = "ImageCollection.toArray"
    if not isinstance(collection, ImageCollection):
        raise EEError(f"{what}: expected an ImageCollection.")
    images = collection.images
    if not images:
        raise EEError(f"{what}: The collection is empty.")
    n_bands = {len(im.bands) for im in images}
    if len(n_bands) != 1:
        raise EEError(f"{what}: All images must have the same number of bands.")
    for im in images:
        for b in im.bands:
            if isinstance(b, ArrayBand):
                raise EEError(f"{what}: Band '{b.name}' already holds arrays.")
    k = n_bands.pop()

    def compute(grid: Grid) -> list:
        values = np.zeros((*grid.shape, len(images), k))
        valid = np.zeros((*grid.shape, len(images)), dtype=bool)
        for t, im in enumerate(images):
            data = [pixels(b, grid) for b in im.bands]
            valid[..., t] = np.logical_and.reduce([m for _, m in data])
            for j, (v, _) in enumerate(data):
                values[..., t, j] = v
        # the valid images first, in collection order
        order = np.argsort(~valid, axis=-1, kind="stable")
        values = np.take_along_axis(values, order[..., None], axis=2)
        count = valid.sum(axis=-1)
        return [(values, count > 0), count]

    from ...raster.reduction import shared_outputs

    output = shared_outputs(compute)
    dtype = promote(*(b.dtype for im in images for b in im.bands))
    first = images[0].bands[0]
    band = ArrayBand(
        "array",
        output(0),
        shape=(len(images), k),
        dtype=dtype,
        projection=first.projection,
        extent=first.extent,
        lengths=output(1),
    )
    return Image([band])


# --- reading arrays ------------------------------------------------------------------------------


@algorithm("Image.arrayLength")
def array_length(input: Any, axis: int) -> Image:  # noqa: A002 (Earth Engine's name)
    """The length of each band's arrays along ``axis`` (an int32 band)."""
    out = []
    for b in array_bands(input, "Image.arrayLength"):
        ax = _axis(b, axis, "Image.arrayLength")
        n = b.shape[ax]

        def fn(grid: Grid, _b=b, _n=n, _ax=ax) -> PixelData:
            mask = pixels(_b, grid)[1]
            if _ax == 0 and is_ragged(_b):
                return lengths_of(_b, grid).astype(float), mask
            return np.full(grid.shape, float(_n)), mask

        out.append(like_band(b, b.name, fn, (), "int32"))
    return _image(input, "").with_bands(out)


def _axis(b: ArrayBand, axis: Any, what: str) -> int:
    ax = int(axis)
    if not -len(b.shape) <= ax < len(b.shape):
        raise EEError(f"{what}: Axis {ax} out of bounds for {len(b.shape)}-D arrays.")
    return ax % len(b.shape)


@algorithm("Image.arrayGet")
def array_get(image: Any, position: Any) -> Image:
    """The element at ``position`` (one band per axis, per pixel) of each band; masked where
    the position is outside the array."""
    what = "Image.arrayGet"
    bands = array_bands(image, what)
    pos = _image(position, what).bands
    out = []
    for b in bands:
        if len(pos) != len(b.shape):
            raise EEError(
                f"{what}: Position has {len(pos)} bands, but band '{b.name}' has "
                f"{len(b.shape)}-D arrays."
            )

        def fn(grid: Grid, _b=b) -> PixelData:
            values, mask = pixels(_b, grid)
            idx, ok = [], mask.copy()
            for a, (n, p) in enumerate(zip(_b.shape, pos, strict=True)):
                v, m = pixels(p, grid)
                if a == 0 and is_ragged(_b):
                    n = lengths_of(_b, grid)
                i = np.trunc(v).astype(np.int64)
                i = np.where(i < 0, i + n, i)
                ok &= m & (i >= 0) & (i < n)
                idx.append(np.where(ok, i, 0))
            rows, cols = np.indices(grid.shape)
            got = values[(rows, cols, *idx)]
            return np.where(ok, got, 0.0), ok

        out.append(like_band(b, b.name, fn, (), b.dtype))
    return _image(image, what).with_bands(out)


def _constant_int(img: Any, what: str, arg: str) -> int | None:
    """The value of a constant image argument (None: not given); per-pixel values are not
    implemented by the local engine."""
    if img is None:
        return None
    probe = Grid(DEFAULT_PROJECTION, (1, 1))
    band = _image(img, what).bands[0]
    values, mask = pixels(band, probe)
    if band.projection is not None or not bool(np.asarray(mask).reshape(-1)[0]):
        raise EEError(
            f"{what}: a '{arg}' image that is not a constant is not implemented by the local "
            "engine."
        )
    return int(np.trunc(np.asarray(values).reshape(-1)[0]))


@algorithm("Image.arraySlice")
def array_slice(
    input: Any,  # noqa: A002 (Earth Engine's name)
    axis: Any = 0,
    start: Any = None,
    end: Any = None,
    step: Any = 1,
) -> Image:
    """Elements ``start`` (inclusive, default 0) to ``end`` (exclusive, default the length)
    by ``step`` along ``axis``; negative positions count from the end."""
    what = "Image.arraySlice"
    st = step
    if st <= 0:
        raise EEError(f"{what}: step must be positive, got {st}.")
    s0, e0 = _constant_int(start, what, "start"), _constant_int(end, what, "end")
    out = []
    for b in array_bands(input, what):
        ax = _axis(b, axis, what)
        sl = slice(0 if s0 is None else s0, e0, st)
        if ax == 0 and is_ragged(b):
            out.append(_ragged_slice(b, sl))
            continue
        length = len(range(*sl.indices(b.shape[ax])))
        shape = (*b.shape[:ax], length, *b.shape[ax + 1 :])

        def fn(grid: Grid, _b=b, _ax=ax, _sl=sl) -> PixelData:
            values, mask = pixels(_b, grid)
            index = [slice(None)] * (2 + len(_b.shape))
            index[2 + _ax] = _sl
            return values[tuple(index)], mask

        out.append(like_band(b, b.name, fn, shape, b.dtype, lengths=b.lengths))
    return _image(input, what).with_bands(out)


def _ragged_slice(b: ArrayBand, sl: slice) -> Band:
    """``arraySlice`` along the ragged axis 0: positions resolved against each pixel's length."""

    def bounds(n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        start = np.asarray(sl.start)
        stop = n if sl.stop is None else np.asarray(sl.stop)
        start = np.where(start < 0, np.maximum(start + n, 0), np.minimum(start, n))
        stop = np.where(stop < 0, np.maximum(stop + n, 0), np.minimum(stop, n))
        count = np.maximum(0, -(-(stop - start) // sl.step))
        return start, stop, count

    longest = int(max(bounds(np.asarray(n))[2] for n in range(b.shape[0] + 1)))
    shape = (longest, *b.shape[1:])

    def fn(grid: Grid) -> PixelData:
        values, mask = pixels(b, grid)
        start, _, count = bounds(lengths_of(b, grid))
        rows = start[..., None] + sl.step * np.arange(longest)
        rows = np.clip(np.where(np.arange(longest) < count[..., None], rows, 0), 0, b.shape[0] - 1)
        index = rows.reshape(*grid.shape, longest, *([1] * (len(b.shape) - 1)))
        return np.take_along_axis(values, index, axis=2), mask

    def lengths(grid: Grid) -> np.ndarray:
        return bounds(lengths_of(b, grid))[2]

    return like_band(b, b.name, fn, shape, b.dtype, lengths=lengths)


@algorithm("Image.arrayProject")
def array_project(input: Any, axes: list) -> Image:  # noqa: A002 (Earth Engine's name)
    """The arrays with every axis not in ``axes`` (each of length 1) dropped."""
    what = "Image.arrayProject"
    out = []
    for b in array_bands(input, what):
        keep = [_axis(b, a, what) for a in axes]
        drop = [i for i in range(len(b.shape)) if i not in keep]
        if any(b.shape[i] != 1 for i in drop):
            raise EEError(
                f"{what}: Projected-away dimensions must have length 1; band '{b.name}' has "
                f"arrays of shape {list(b.shape)}."
            )
        shape = tuple(b.shape[i] for i in keep)
        order = [0, 1, *(2 + i for i in keep), *(2 + i for i in drop)]
        ragged = is_ragged(b)
        if ragged and 0 in keep and keep[0] != 0:
            refuse_ragged(b, what, " (moving their axis 0)")

        def fn(grid: Grid, _b=b, _order=order, _shape=shape, _drop0=0 in drop) -> PixelData:
            values, mask = pixels(_b, grid)
            if is_ragged(_b) and _drop0:  # an axis 0 of length 0 or 1: 0 is an empty array
                mask = mask & (lengths_of(_b, grid) == 1)
            return np.transpose(values, _order).reshape(grid.shape + _shape), mask

        lengths = b.lengths if ragged and 0 in keep else None
        out.append(like_band(b, b.name, fn, shape, b.dtype, lengths=lengths))
    return _image(input, what).with_bands(out)
