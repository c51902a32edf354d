"""Array images: ``Image.toArray``, ``ImageCollection.toArray``, ``arrayGet``, ``arraySlice``,
``arrayFlatten``, ``arrayProject``, ``arrayReduce``, ``arrayLength``, ``arrayTranspose``,
``matrixTranspose`` and ``Image.constant`` of an ``ee.Array`` (the matrix algorithms and
array reductions are in :mod:`.array_math`).

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

__all__ = ["ArrayBand", "array_bands", "constant_array_image", "like_band", "pixels"]


class ArrayBand(Band):
    """A band whose pixels are arrays of one fixed ``shape``."""

    __slots__ = ("shape",)

    def __init__(self, name: str, fn: Callable, *, shape: Sequence[int], **kw: Any) -> None:
        super().__init__(name, fn, **kw)
        self.shape = tuple(int(s) for s in shape)

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

    def replace(self, **changes: Any) -> ArrayBand:
        fields = {
            "name": self.name,
            "fn": self.fn,
            "dtype": self.dtype,
            "projection": self.projection,
            "extent": self.extent,
            "shape": self.shape,
        }
        fields.update(changes)
        return ArrayBand(fields.pop("name"), fields.pop("fn"), **fields)

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

        projection = next((b.projection for b in inputs if b.projection is not None), None)
        extent = next((b.extent for b in inputs if b.extent is not None), None)
        return ArrayBand(name, fn, shape=shape, dtype=dtype, projection=projection, extent=extent)

    def info(self) -> dict:
        out = super().info()
        out["data_type"] = {**precision_info(self.dtype), "dimensions": len(self.shape)}
        return out


def pixels(band: Band, grid: Grid) -> PixelData:
    """A band's pixels on ``grid``: ``(h, w, *shape)`` values for an array band."""
    return band.compute_array(grid) if isinstance(band, ArrayBand) else band.compute(grid)


def like_band(band: Band, name: str, fn: Callable, shape: Sequence[int], dtype: str) -> Band:
    """A band with ``band``'s projection: an array band, or a scalar band for ``shape == ()``."""
    kw = {"dtype": dtype, "projection": band.projection, "extent": band.extent}
    if len(shape) == 0:
        return Band(name, fn, **kw)
    return ArrayBand(name, fn, shape=shape, **kw)


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

    Earth Engine leaves out, per pixel, the images masked in any band, so arrays may differ
    in length from pixel to pixel; the local engine masks pixels where every image is masked
    and raises an error where only some are.
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

    def fn(grid: Grid) -> PixelData:
        values = np.zeros((*grid.shape, len(images), k))
        valid = np.zeros((*grid.shape, len(images)), dtype=bool)
        for t, im in enumerate(images):
            data = [pixels(b, grid) for b in im.bands]
            valid[..., t] = np.logical_and.reduce([m for _, m in data])
            for j, (v, _) in enumerate(data):
                values[..., t, j] = v
        count = valid.sum(axis=-1)
        if np.any((count > 0) & (count < len(images))):
            raise EEError(
                f"{what}: pixels where only some images are masked give arrays of different "
                "lengths, which is not implemented by the local engine (mask or unmask the "
                "images consistently first)."
            )
        return values, count == len(images)

    dtype = promote(*(b.dtype for im in images for b in im.bands))
    first = images[0].bands[0]
    return Image([ArrayBand("array", fn, shape=(len(images), k), dtype=dtype,
                            projection=first.projection, extent=first.extent)])  # fmt: skip


# --- reading arrays ------------------------------------------------------------------------------


@algorithm("Image.arrayLength")
def array_length(input: Any, axis: int) -> Image:  # noqa: A002 (Earth Engine's name)
    """The length of each band's arrays along ``axis`` (an int32 band)."""
    out = []
    for b in array_bands(input, "Image.arrayLength"):
        ax = _axis(b, axis, "Image.arrayLength")
        n = b.shape[ax]

        def fn(grid: Grid, _b=b, _n=n) -> PixelData:
            return np.full(grid.shape, float(_n)), pixels(_b, grid)[1]

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
            for n, p in zip(_b.shape, pos, strict=True):
                v, m = pixels(p, grid)
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
        length = len(range(*sl.indices(b.shape[ax])))
        shape = (*b.shape[:ax], length, *b.shape[ax + 1 :])

        def fn(grid: Grid, _b=b, _ax=ax, _sl=sl) -> PixelData:
            values, mask = pixels(_b, grid)
            index = [slice(None)] * (2 + len(_b.shape))
            index[2 + _ax] = _sl
            return values[tuple(index)], mask

        out.append(like_band(b, b.name, fn, shape, b.dtype))
    return _image(input, what).with_bands(out)


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

        def fn(grid: Grid, _b=b, _order=order, _shape=shape) -> PixelData:
            values, mask = pixels(_b, grid)
            return np.transpose(values, _order).reshape(grid.shape + _shape), mask

        out.append(like_band(b, b.name, fn, shape, b.dtype))
    return _image(input, what).with_bands(out)


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
        shape = list(b.shape)
        shape[a1], shape[a2] = shape[a2], shape[a1]

        def fn(grid: Grid, _b=b, _a1=a1, _a2=a2) -> PixelData:
            values, mask = pixels(_b, grid)
            return np.swapaxes(values, 2 + _a1, 2 + _a2), mask

        out.append(like_band(b, b.name, fn, shape, b.dtype))
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
            order = np.argsort(kv, axis=2 + _ax, kind="stable")
            order = np.broadcast_to(order, values.shape)
            return np.take_along_axis(values, order, axis=2 + _ax), mask & km

        out.append(like_band(b, b.name, fn, b.shape, b.dtype))
    return _image(image, what).with_bands(out)
