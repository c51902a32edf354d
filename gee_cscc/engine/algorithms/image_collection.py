"""``ImageCollection.*`` algorithms: loading, building, compositing and reducing collections.

Composites (``reduce``, ``mosaic``, ``qualityMosaic`` and the ``reduce.*`` shortcuts such as
``ImageCollection.max()``) have no fixed projection, as in Earth Engine: their bands are
computed on whatever grid a request asks for, from the images' pixels on that grid, tile by
tile (:func:`gee_cscc.engine.raster.reduction.reduce_pixels`).

Output band names of ``ImageCollection.reduce`` follow ``algorithms.json``: a single-input
reducer runs on each band separately and its outputs are named ``<band>_<output>``
(``npp_mean``, ``npp_max``); a multi-input reducer takes the bands in order and its outputs
keep their names (``linearFit`` → ``scale``, ``offset``; ``max(2)`` → ``max``, ``max1``).
The ``reduce.*`` shortcuts keep the band names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.context import current
from ..core.registry import algorithm, call
from ..core.values import Band, Image, ImageCollection, PixelData, tile_cache
from ..errors import EEError
from ..raster import reduction
from ..raster.grid import Grid
from .reducer.tree import Reducer, as_reducer, for_each

# --- loading and building ----------------------------------------------------------------


@algorithm("ImageCollection.load")
def load(id: str, version: Any = None) -> ImageCollection:  # noqa: A002 (Earth Engine's name)
    ctx = current()
    ctx.store.check_access(id, ctx.user)  # first: a non-reader learns nothing of the asset
    collection = ctx.store.load_collection(id)
    return collection


@algorithm("ImageCollection.fromImages")
def from_images(images: list) -> ImageCollection:
    for i, im in enumerate(images):
        if not isinstance(im, Image):
            raise EEError(
                f"ImageCollection.fromImages: element {i} is a {type(im).__name__}, not an Image."
            )
    return ImageCollection(images, {})


def _collection(value: Any, what: str) -> ImageCollection:
    if not isinstance(value, ImageCollection):
        raise EEError(f"{what}: expected an ImageCollection, got {type(value).__name__}.")
    return value


def _index(image: Image, position: int) -> str:
    idx = image.properties.get("system:index")
    return str(position) if idx is None else str(idx)


@algorithm("ImageCollection.merge")
def merge(collection1: Any, collection2: Any) -> ImageCollection:
    """Images of both collections; ``system:index`` gets the prefixes ``1_`` and ``2_``."""
    out = []
    for prefix, col in (("1_", collection1), ("2_", collection2)):
        col = _collection(col, "ImageCollection.merge")
        for i, im in enumerate(col.images):
            out.append(im.with_properties({"system:index": prefix + _index(im, i)}))
    return ImageCollection(out, {})


@algorithm("ImageCollection.cast")
def cast(collection: Any, bandTypes: Any, bandOrder: Any) -> ImageCollection:  # noqa: N803
    col = _collection(collection, "ImageCollection.cast")
    images = [
        call("Image.cast", {"image": im, "bandTypes": bandTypes, "bandOrder": bandOrder})
        for im in col.images
    ]
    return col.with_elements(images)


@algorithm("ImageCollection.combine")
def combine(primary: Any, secondary: Any, overwrite: Any = False) -> ImageCollection:
    """Inner join on ``system:index``, adding the bands of the secondary images."""
    prim = _collection(primary, "ImageCollection.combine")
    sec = _collection(secondary, "ImageCollection.combine")
    by_id = {}
    for i, im in enumerate(sec.images):
        by_id.setdefault(_index(im, i), im)
    out = []
    for i, im in enumerate(prim.images):
        other = by_id.get(_index(im, i))
        if other is not None:
            out.append(
                call(
                    "Image.addBands",
                    {"dstImg": im, "srcImg": other, "overwrite": overwrite},
                )
            )
    return prim.with_elements(out)


@algorithm("ImageCollection.toBands")
def to_bands(collection: Any) -> Image:
    """One image with every band of every image, named ``<system:index>_<band>``."""
    col = _collection(collection, "ImageCollection.toBands")
    bands = []
    for i, im in enumerate(col.images):
        prefix = _index(im, i)
        bands.extend(b.replace(name=f"{prefix}_{b.name}") for b in im.bands)
    if len(bands) > 5000:
        raise EEError(f"ImageCollection.toBands: too many bands ({len(bands)} > 5000).")
    return Image(bands, {})


# --- composites ------------------------------------------------------------------------------


def band_union(col: ImageCollection) -> list[str]:
    """The band names of a collection in order of first appearance."""
    names: dict[str, None] = {}
    for im in col.images:
        for n in im.band_names:
            names.setdefault(n, None)
    return list(names)


def _band_or_none(image: Image, name: str) -> Band | None:
    return next((b for b in image.bands if b.name == name), None)


def _dtype_of(col: ImageCollection, name: str) -> str:
    for im in col.images:
        band = _band_or_none(im, name)
        if band is not None:
            return band.dtype
    return "float64"


def composite(
    reducer: Reducer, records: Sequence[Sequence[Band | None]], dtypes: Sequence[str]
) -> Image:
    """An image without a fixed projection whose bands are the reducer's per-pixel outputs."""
    if not all(reducer.scalar_outputs):  # array outputs (linearRegression): array bands
        from .image.array_math import array_composite

        return array_composite(reducer, records)
    records = [list(r) for r in records]
    output = reduction.shared_outputs(lambda grid: reduction.reduce_pixels(reducer, records, grid))
    types = reducer.output_dtypes(dtypes)
    bands = [
        Band(name, output(i), dtype=t)
        for i, (name, t) in enumerate(zip(reducer.outputs, types, strict=True))
    ]
    return Image(bands, {})


def reduce_by_band(col: ImageCollection, reducer: Reducer, *, prefix: bool, what: str) -> Image:
    """A single-input reducer applied to each band name of the collection."""
    if reducer.n_inputs != 1:
        raise EEError(f"{what}: the reducer must have a single input.")
    names = band_union(col)
    bound = for_each(reducer, names, always_prefix=prefix, name=reducer.name)
    records = [[_band_or_none(im, n) for n in names] for im in col.images]
    return composite(bound, records, [_dtype_of(col, n) for n in names])


@algorithm("ImageCollection.reduce")
def reduce(collection: Any, reducer: Any, parallelScale: Any = 1.0) -> Image:  # noqa: N803
    """Reduce a collection per pixel (``parallelScale`` only tunes memory on Earth Engine)."""
    what = "ImageCollection.reduce"
    col = _collection(collection, what)
    r = as_reducer(reducer, what)
    if r.n_inputs == 1:
        return reduce_by_band(col, r, prefix=True, what=what)
    records = []
    for i, im in enumerate(col.images):
        if len(im.bands) != r.n_inputs:
            raise EEError(
                f"{what}: {r.name} needs {r.n_inputs} inputs, but image {_index(im, i)} has "
                f"{len(im.bands)} bands {im.band_names}."
            )
        records.append(list(im.bands))
    dtypes = [b.dtype for b in col.images[0].bands] if col.images else ["float64"] * r.n_inputs
    return composite(r, records, dtypes)


def _register_shortcut(name: str, reducer_name: str) -> None:
    @algorithm(name)
    def impl(collection: Any) -> Image:
        col = _collection(collection, name)
        return reduce_by_band(col, call(reducer_name, {}), prefix=False, what=name)


for _short, _reducer in (
    ("reduce.min", "Reducer.min"),
    ("reduce.max", "Reducer.max"),
    ("reduce.count", "Reducer.count"),
    ("reduce.sum", "Reducer.sum"),
    ("reduce.product", "Reducer.product"),
    ("reduce.mean", "Reducer.mean"),
    ("reduce.and", "Reducer.allNonZero"),
    ("reduce.or", "Reducer.anyNonZero"),
    ("reduce.median", "Reducer.median"),
    ("reduce.mode", "Reducer.mode"),
):
    _register_shortcut(_short, _reducer)


@algorithm("ImageCollection.mosaic")
def mosaic(collection: Any) -> Image:
    """Later images on top of earlier ones, by mask (the last valid pixel wins)."""
    col = _collection(collection, "ImageCollection.mosaic")
    last = call("Reducer.lastNonNull", {})
    return reduce_by_band(col, last, prefix=False, what="ImageCollection.mosaic")


@algorithm("ImageCollection.qualityMosaic")
def quality_mosaic(collection: Any, qualityBand: Any) -> Image:  # noqa: N803
    """Per pixel, all bands of the image with the highest valid quality (earliest on ties)."""
    what = "ImageCollection.qualityMosaic"
    col = _collection(collection, what)
    names = band_union(col)
    if qualityBand not in names:
        raise EEError(
            f"{what}: Pattern '{qualityBand}' did not match any bands. Available bands: {names}"
        )
    quality = [_band_or_none(im, qualityBand) for im in col.images]
    records = [[_band_or_none(im, n) for n in names] for im in col.images]

    def compute(grid: Grid) -> list[PixelData]:
        out = [(np.zeros(grid.shape), np.zeros(grid.shape, dtype=bool)) for _ in names]
        for r0, c0, tile in grid.tiles(*reduction.tile_shape()):
            h, w = tile.shape
            with tile_cache(tile, grid):
                q = np.full((len(records), h, w), -np.inf)
                qok = np.zeros((len(records), h, w), dtype=bool)
                for t, band in enumerate(quality):
                    if band is not None:
                        v, m = band.compute(tile)
                        qok[t] = m & ~np.isnan(v)
                        q[t] = np.where(qok[t], v, -np.inf)
                top = q.max(axis=0)
                pick = np.argmax(qok & (q == top[None]), axis=0)
                has = qok.any(axis=0)
                for j in range(len(names)):
                    vals = np.zeros((h, w))
                    mask = np.zeros((h, w), dtype=bool)
                    for t, record in enumerate(records):
                        sel = has & (pick == t)
                        if record[j] is None or not sel.any():
                            continue
                        v, m = record[j].compute(tile)
                        vals[sel] = v[sel]
                        mask[sel] = m[sel]
                    out[j][0][r0 : r0 + h, c0 : c0 + w] = vals
                    out[j][1][r0 : r0 + h, c0 : c0 + w] = mask
        return out

    output = reduction.shared_outputs(compute)
    bands = [Band(n, output(i), dtype=_dtype_of(col, n)) for i, n in enumerate(names)]
    return Image(bands, {})
