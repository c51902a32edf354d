"""Between rasters and vectors: ``Image.reduceToVectors`` and ``Collection.reduceToImage``
(``FeatureCollection.reduceToImage``).

``reduceToVectors`` (the Earth Engine API reference): the first band holds integer labels;
adjacent pixels with the same label form a segment (``eightConnected``, the default, also
joins pixels that touch at a corner). Masked pixels of the first band and pixels whose
centre lies outside ``geometry`` (default: the first band's footprint) belong to no segment.
The grid is ``crs``/``crsTransform``/``scale`` as in ``reduceRegion``. Each segment gives one
feature with its label in ``labelProperty`` (default ``label``; none when null) and the
reducer's outputs over the segment's pixels: its inputs are the bands after the first (a
single-input reducer is repeated for each band); the default ``Reducer.countEvery()`` gives
``count``, the number of pixels. Geometry: ``polygon`` (the outline of the segment's pixels),
``bb`` (the rectangle bounding them) or ``centroid`` (the mean of their centres), in the
grid's CRS. Features are ordered by label, then by their first pixel (row by row).

``reduceToImage``: an image without a fixed projection whose pixels hold the reducer's
outputs over the ``properties`` of the features that intersect the pixel (a polygon takes
the pixels whose centre it holds, a point the pixel it falls in, a line every pixel it
touches); masked where no feature does. A feature whose property is null does not count.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely.geometry
from scipy import ndimage

from ...core import registry
from ...core.records import Batch
from ...core.registry import algorithm
from ...core.values import (
    Band,
    Feature,
    FeatureCollection,
    Geometry,
    Image,
    ImageCollection,
    PixelData,
)
from ...errors import EEError
from ...raster import reduction
from ...raster.grid import Grid, normalize_crs
from ...raster.rasterize import centre_mask
from ..reducer.tree import as_reducer, for_each
from .reduce import max_pixels_limit
from .sampling import region_pixels
from .spatial import as_geometry

__all__: list[str] = []

_GEOMETRY_TYPES = ("polygon", "bb", "centroid")


def _image(value: Any, what: str) -> Image:
    if not isinstance(value, Image):
        raise EEError(f"{what}: expected an Image, got {type(value).__name__}.")
    return value


def _bound_reducer(img: Image, reducer: Any, what: str) -> tuple[Any, list[int]]:
    """The reducer bound to the bands after the first, and the band indexes it reads."""
    rest = img.bands[1:]
    if reducer is None:
        return registry.call("Reducer.countEvery", {}), [0]
    r = as_reducer(reducer, what)
    if r.n_inputs == len(rest):
        return r, list(range(1, len(img.bands)))
    if r.n_inputs == 1 and rest:
        if len(rest) == 1:
            return r, [1]
        return for_each(r, [b.name for b in rest], name=r.name), list(range(1, len(img.bands)))
    raise EEError(
        f"{what}: Need {r.n_inputs + 1} bands for {r.name}, but the image has "
        f"{len(img.bands)} bands {img.band_names}."
    )


def _outline(grid: Grid, seg: np.ndarray) -> Any:
    """The union of the pixels of a boolean ``(h, w)`` segment as a shape in the grid's CRS."""
    import rasterio.features
    from affine import Affine

    a, b, c, d, e, f = grid.transform
    shapes = [
        shapely.geometry.shape(geom)
        for geom, value in rasterio.features.shapes(
            seg.astype(np.uint8), mask=seg, connectivity=8, transform=Affine(a, b, c, d, e, f)
        )
        if value == 1
    ]
    from shapely.ops import unary_union

    return unary_union(shapes)


def _feature_geometry(grid: Grid, seg: np.ndarray, kind: str) -> Geometry:
    rows, cols = np.nonzero(seg)
    a, b, c, d, e, f = grid.transform
    crs = normalize_crs(grid.crs)
    if kind == "centroid":
        x = c + a * (cols + 0.5) + b * (rows + 0.5)
        y = f + d * (cols + 0.5) + e * (rows + 0.5)
        return Geometry(shapely.geometry.Point(float(x.mean()), float(y.mean())), crs)
    if kind == "bb":
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        xs = [c + a * cc + b * rr for rr in (r0, r1) for cc in (c0, c1)]
        ys = [f + d * cc + e * rr for rr in (r0, r1) for cc in (c0, c1)]
        return Geometry(shapely.geometry.box(min(xs), min(ys), max(xs), max(ys)), crs)
    return Geometry(_outline(grid, seg), crs)


@algorithm("Image.reduceToVectors")
def reduce_to_vectors(
    image: Any,
    reducer: Any = None,
    geometry: Any = None,
    scale: Any = None,
    geometryType: Any = "polygon",  # noqa: N803
    eightConnected: Any = True,  # noqa: N803
    labelProperty: Any = "label",  # noqa: N803
    crs: Any = None,
    crsTransform: Any = None,  # noqa: N803
    bestEffort: Any = False,  # noqa: N803
    maxPixels: Any = None,  # noqa: N803
    tileScale: Any = 1.0,  # noqa: N803
    geometryInNativeProjection: Any = False,  # noqa: N803
) -> FeatureCollection:
    """One feature per segment of equal labels (see the module docstring)."""
    what = "Image.reduceToVectors"
    img = _image(image, what)
    if not img.bands:
        raise EEError(f"{what}: The image has no bands.")
    if geometryType not in _GEOMETRY_TYPES:
        raise EEError(
            f"{what}: Invalid geometryType '{geometryType}'; expected one of "
            "'polygon', 'bb', 'centroid'."
        )
    first = img.bands[0]
    if not first.dtype.startswith(("int", "uint")):
        raise EEError(f"{what}: First band ('{first.name}') of image must be integral.")
    bound, inputs = _bound_reducer(img, reducer, what)
    proj = reduction.reduction_grid(img, crs, crsTransform, scale, what=what)
    geom = None if geometry is None else as_geometry(geometry, what)
    grid, taken, data = region_pixels(
        img, geom, proj, what=what, limit=None if bestEffort else max_pixels_limit(maxPixels)
    )
    if not grid.size:
        return FeatureCollection([])
    labels, lmask = data[0]
    valid = taken & lmask
    structure = np.ones((3, 3), dtype=bool) if eightConnected else None
    found = []  # (label, first pixel, window of the segment, its pixels in the window)
    width = grid.shape[1]
    for value in np.unique(labels[valid]):
        segs, _ = ndimage.label(valid & (labels == value), structure=structure)
        for k, window in enumerate(ndimage.find_objects(segs), start=1):
            seg = segs[window] == k
            r, c = np.argwhere(seg)[0]
            first = (window[0].start + r) * width + window[1].start + c
            found.append((float(value), int(first), window, seg))
    found.sort(key=lambda t: (t[0], t[1]))
    out = []
    for value, _, window, seg in found:
        props: dict[str, Any] = {}
        if labelProperty is not None:
            props[labelProperty] = int(value)
        part = [(data[i][0][window], data[i][1][window]) for i in inputs]
        props.update(_reduce_segment(bound, part, seg))
        props["system:index"] = str(len(out))
        sub = grid.window(window[0].start, window[1].start, *seg.shape)
        out.append(Feature(_feature_geometry(sub, seg, geometryType), props))
    return FeatureCollection(out)


def _reduce_segment(reducer: Any, data: list[PixelData], seg: np.ndarray) -> dict[str, Any]:
    n = int(seg.sum())
    xs = [v[seg].reshape(n, 1) for v, _ in data]
    vs = [m[seg].reshape(n, 1) for _, m in data]
    acc = reducer.accumulator(1, "pixels")
    acc.add(
        Batch(xs, vs, np.ones((n, 1)), np.ones((n, 1), dtype=bool), np.arange(n, dtype=np.int64))
    )
    out = {}
    for name, col, is_int in zip(
        reducer.outputs, acc.result(), reducer.integer_outputs, strict=True
    ):
        v = col[0] if isinstance(col, (list, np.ndarray)) else col
        if isinstance(v, (float, np.floating)) and np.isnan(v):
            v = None
        elif is_int and v is not None:
            v = int(v)
        elif isinstance(v, np.generic):
            v = v.item()
        out[name] = v
    return out


@algorithm("Collection.reduceToImage")
def reduce_to_image(collection: Any, properties: list, reducer: Any) -> Image:
    """Per pixel, the reducer over the properties of the features that intersect it."""
    what = "FeatureCollection.reduceToImage"
    if isinstance(collection, ImageCollection):  # the images' footprints and properties
        collection = FeatureCollection([_footprint(im) for im in collection.images])
    if not isinstance(collection, FeatureCollection):
        raise EEError(f"{what}: expected a FeatureCollection, got {type(collection).__name__}.")
    r = as_reducer(reducer, what)
    names = [str(p) for p in properties]
    if r.n_inputs != len(names):
        raise EEError(
            f"{what}: {r.name} has {r.n_inputs} inputs, but {len(names)} properties were given."
        )
    features = list(collection.features)
    for f in features:
        if getattr(f, "geometry", None) is None:
            raise EEError(f"{what}: feature {f.get('system:index')!r} has no geometry.")
    table = [[f.get(n) for n in names] for f in features]
    for row in table:
        for v in row:
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise EEError(f"{what}: property values must be numbers, got {v!r}.")

    def compute(grid: Grid) -> list[PixelData]:
        p, n = grid.size, len(features)
        inside = np.stack([centre_mask(f.geometry, grid).reshape(-1) for f in features]) if n else (
            np.zeros((0, p), dtype=bool)
        )  # fmt: skip
        xs, vs = [], []
        for j in range(len(names)):
            col = np.array([np.nan if row[j] is None else float(row[j]) for row in table])
            xs.append(np.broadcast_to(np.nan_to_num(col)[:, None], (n, p)))
            vs.append(inside & ~np.isnan(col)[:, None])
        acc = r.accumulator(p, "pixels")
        acc.add(Batch(xs, vs, inside.astype(float), inside, np.arange(n, dtype=np.int64)))
        out = []
        for col in acc.result():
            vals = np.asarray(col, dtype=float).reshape(grid.shape)
            ok = ~np.isnan(vals) & inside.any(axis=0).reshape(grid.shape)
            out.append((np.where(ok, vals, 0.0), ok))
        return out

    output = reduction.shared_outputs(compute)
    dtypes = r.output_dtypes(["float64"] * r.n_inputs)
    bands = [
        Band(name, output(i), dtype=t)
        for i, (name, t) in enumerate(zip(r.outputs, dtypes, strict=True))
    ]
    return Image(bands, {})


def _footprint(im: Image) -> Feature:
    """An image as a feature: its footprint (``Image.geometry``) and its properties."""
    geometry = registry.call("Image.geometry", {"feature": im})
    return Feature(geometry, dict(im.properties))
