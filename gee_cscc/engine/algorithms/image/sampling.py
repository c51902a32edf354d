"""Pixels as features and tables: ``Image.sample``, ``Image.sampleRegions`` and
``ImageCollection.getRegion``.

Which pixels (the rules of region reductions, :mod:`gee_cscc.engine.raster.rasterize`): the
grid is the ``projection``/``crs`` given (rescaled to ``scale`` metres), or the first band's
projection; a pixel is taken when its centre lies in the region (a point takes the pixel it
falls in). Pixels are visited row by row, north to south, west to east.

* ``Image.sample``: one feature per pixel with one property per band; ``dropNulls`` (default)
  drops pixels where any band is masked. Without ``factor`` or ``numPixels`` every pixel is
  sampled; with one of them a random subset of that size (``factor`` × pixels, or
  ``numPixels``) is drawn with ``seed``; it is a different subset from Earth Engine's.
  ``geometries=True`` gives each feature its pixel centre as a point.
* ``Image.sampleRegions``: for each feature, its pixels with the band values and the
  feature's ``properties`` (default: all of them), ids ``<feature id>_<k>``; pixels with a
  masked band are dropped.
* ``ImageCollection.getRegion``: a list whose first row is ``["id", "longitude",
  "latitude", "time", <bands>]``, then one row per image and pixel (images in collection
  order, pixels row by row): the image's ``system:index``, the pixel centre in degrees, its
  ``system:time_start`` and the band values (null where masked). An image whose footprint
  does not hold the pixel gives no row. More than 1,048,576 values is an error, as on Earth
  Engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely.geometry

from ...core.registry import algorithm
from ...core.values import Feature, FeatureCollection, Geometry, Image, ImageCollection
from ...errors import EEError
from ...raster import reduction
from ...raster.crs import transformer
from ...raster.grid import Grid, Projection, normalize_crs
from ...raster.rasterize import centre_mask
from .reduce import max_pixels_limit
from .spatial import as_geometry

__all__ = ["region_pixels"]

#: Earth Engine's limit on the values ``getRegion`` returns.
MAX_REGION_VALUES = 1_048_576


def _image(value: Any, what: str) -> Image:
    if not isinstance(value, Image):
        raise EEError(f"{what}: expected an Image, got {type(value).__name__}.")
    return value


def _projection(value: Any) -> Any:
    """A projection argument (``Projection``, a CRS string, or the JSON of a projection)."""
    if isinstance(value, dict) and "crs" in value:
        return Projection(value["crs"], tuple(value.get("transform") or (1, 0, 0, 0, 1, 0)))
    return value


def region_pixels(
    img: Image, geometry: Geometry | None, proj: Projection, *, what: str, limit: int | None = None
) -> tuple[Grid, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """The window of ``proj`` over the region, the pixels taken (centre rule) and each band's
    ``(values, mask)`` on the window."""
    plan = reduction.plan_region(geometry, img, proj, what=what)
    if limit is not None and plan.pixels > limit:
        raise reduction.too_many_pixels(what, plan.pixels, limit)
    grid = plan.grid
    taken = (
        np.ones(grid.shape, dtype=bool)
        if plan.geometry is None
        else centre_mask(plan.geometry, grid)
    )
    from .arrays import ArrayBand, is_ragged, lengths_of, pixels

    if any(isinstance(b, ArrayBand) for b in img.bands):  # array pixels, whole window
        data = []
        for b in img.bands:
            values, mask = pixels(b, grid)
            if is_ragged(b):  # each pixel's array, cut to its length
                n = lengths_of(b, grid)
                cut = np.empty(grid.shape, dtype=object)
                for idx in np.ndindex(*grid.shape):
                    cut[idx] = values[idx][: n[idx]]
                values = cut
            data.append((values, mask))
        return grid, taken, data
    data = reduction.compute_tiled(img.bands, grid) if grid.size else []
    return grid, taken, data


def _value(v: Any, dtype: str) -> Any:
    if isinstance(v, np.ndarray) and v.ndim:  # an array pixel
        a = v.astype(np.int64) if dtype.startswith(("int", "uint")) else v
        return a.tolist()
    if dtype.startswith(("int", "uint")):
        return int(round(v))
    return float(v)


def _centres_lonlat(grid: Grid, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, ...]:
    a, b, c, d, e, f = grid.transform
    xs = c + a * (cols + 0.5) + b * (rows + 0.5)
    ys = f + d * (cols + 0.5) + e * (rows + 0.5)
    crs = normalize_crs(grid.crs)
    if crs != "EPSG:4326":
        xs, ys = transformer(crs, "EPSG:4326").transform(xs, ys)
    return np.asarray(xs, float), np.asarray(ys, float), (xs, ys)


def _point(grid: Grid, row: int, col: int) -> Geometry:
    a, b, c, d, e, f = grid.transform
    x = c + a * (col + 0.5) + b * (row + 0.5)
    y = f + d * (col + 0.5) + e * (row + 0.5)
    return Geometry(shapely.geometry.Point(x, y), normalize_crs(grid.crs))


def _sample_projection(img: Image, projection: Any, scale: Any, what: str) -> Projection:
    return reduction.reduction_grid(img, _projection(projection), None, scale, what=what)


@algorithm("Image.sample")
def sample(
    image: Any,
    region: Any = None,
    scale: Any = None,
    projection: Any = None,
    factor: Any = None,
    numPixels: Any = None,  # noqa: N803
    seed: Any = 0,
    dropNulls: Any = True,  # noqa: N803
    tileScale: Any = 1.0,  # noqa: N803
    geometries: Any = False,
) -> FeatureCollection:
    """The region's pixels as features (see the module docstring)."""
    what = "Image.sample"
    img = _image(image, what)
    if factor is not None and numPixels is not None:
        raise EEError(f"{what}: Only one of 'factor' and 'numPixels' may be specified.")
    if factor is not None and not 0 < factor <= 1:
        raise EEError(f"{what}: 'factor' must be in (0, 1], got {factor}.")
    proj = _sample_projection(img, projection, scale, what)
    geom = None if region is None else as_geometry(region, what)
    grid, taken, data = region_pixels(img, geom, proj, what=what, limit=max_pixels_limit(None))
    rows, cols = np.nonzero(taken)
    if factor is not None or numPixels is not None:
        n = len(rows)
        k = int(round(n * factor)) if factor is not None else min(n, numPixels)
        pick = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
        rows, cols = rows[pick], cols[pick]
    names, dtypes = img.band_names, [b.dtype for b in img.bands]
    out = []
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        props: dict[str, Any] = {}
        for name, dtype, (values, mask) in zip(names, dtypes, data, strict=True):
            props[name] = _value(values[r, c], dtype) if mask[r, c] else None
        if dropNulls and any(v is None for v in props.values()):
            continue
        geometry = _point(grid, r, c) if geometries else None
        out.append(Feature(geometry, {**props, "system:index": str(len(out))}))
    return FeatureCollection(out)


@algorithm("Image.sampleRegions")
def sample_regions(
    image: Any,
    collection: Any,
    properties: Any = None,
    scale: Any = None,
    projection: Any = None,
    tileScale: Any = 1.0,  # noqa: N803
    geometries: Any = False,
) -> FeatureCollection:
    """Each feature's pixels with the band values and the feature's properties."""
    what = "Image.sampleRegions"
    img = _image(image, what)
    if isinstance(collection, Feature):
        collection = FeatureCollection([collection])
    if not isinstance(collection, FeatureCollection):
        raise EEError(f"{what}: expected a FeatureCollection, got {type(collection).__name__}.")
    proj = _sample_projection(img, projection, scale, what)
    names, dtypes = img.band_names, [b.dtype for b in img.bands]
    out = []
    for i, feature in enumerate(collection.features):
        if getattr(feature, "geometry", None) is None:
            raise EEError(f"{what}: feature {feature.get('system:index')!r} has no geometry.")
        keep = {
            k: v
            for k, v in feature.properties.items()
            if (properties is None and not k.startswith("system:"))
            or (properties is not None and k in properties)
        }
        fid = feature.get("system:index")
        fid = str(i) if fid is None else str(fid)
        grid, taken, data = region_pixels(img, feature.geometry, proj, what=what)
        rows, cols = np.nonzero(taken)
        k = 0
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if not all(mask[r, c] for _, mask in data):
                continue
            props = {
                name: _value(values[r, c], dtype)
                for name, dtype, (values, _) in zip(names, dtypes, data, strict=True)
            }
            geometry = _point(grid, r, c) if geometries else None
            out.append(Feature(geometry, {**keep, **props, "system:index": f"{fid}_{k}"}))
            k += 1
    return FeatureCollection(out)


def _get_region_projection(col: ImageCollection, crs: Any, crs_transform: Any, scale: Any):
    what = "ImageCollection.getRegion"
    first = col.images[0]
    proj = _projection(crs)
    if isinstance(proj, str):
        proj = Projection(normalize_crs(proj), (1.0, 0.0, 0.0, 0.0, 1.0, 0.0))
    if crs_transform is not None:
        return reduction.reduction_grid(first, proj, crs_transform, None, what=what)
    if scale is None:  # the native scale of the first band of the first image
        native = first.default_projection()
        if native is None:
            raise EEError(f"{what}: the images have no fixed projection; give a scale.")
        if proj is None or (proj.crs == native.crs):
            return native
        scale = native.nominal_scale
    if proj is None:
        return reduction.reduction_grid(first, None, None, scale, what=what)
    if tuple(proj.transform) == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0):  # a CRS without a transform
        return proj.with_scale(float(scale))
    return reduction.rescaled(proj, float(scale))


@algorithm("ImageCollection.getRegion")
def get_region(
    collection: Any,
    geometry: Any,
    scale: Any = None,
    crs: Any = None,
    crsTransform: Any = None,  # noqa: N803
) -> list:
    """Rows ``[id, longitude, latitude, time, bands…]`` of every image and pixel."""
    what = "ImageCollection.getRegion"
    if not isinstance(collection, ImageCollection):
        raise EEError(f"{what}: expected an ImageCollection.")
    geom = as_geometry(geometry, what)
    names: dict[str, None] = {}
    for im in collection.images:
        for n in im.band_names:
            names.setdefault(n, None)
    header = ["id", "longitude", "latitude", "time", *names]
    if not collection.images:
        return [header]
    proj = _get_region_projection(collection, crs, crsTransform, scale)
    rows_out: list[list[Any]] = [header]
    count = 0
    for im in collection.images:
        grid, taken, data = region_pixels(im, geom, proj, what=what)
        rows, cols = np.nonzero(taken)
        if not len(rows):
            continue
        count += len(rows) * len(names)
        if count > MAX_REGION_VALUES:
            raise EEError(f"{what}: Too many values: {count} > {MAX_REGION_VALUES}.")
        lon, lat, _ = _centres_lonlat(grid, rows.astype(float), cols.astype(float))
        inside = _in_footprint(im, grid, rows, cols)
        by_name = {b.name: (b.dtype, d) for b, d in zip(im.bands, data, strict=True)}
        for j, (r, c) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
            if not inside[j]:
                continue
            values = []
            for n in names:
                hit = by_name.get(n)
                if hit is None or not hit[1][1][r, c]:
                    values.append(None)
                else:
                    values.append(_value(hit[1][0][r, c], hit[0]))
            t = im.get("system:time_start")
            rows_out.append(
                [
                    im.get("system:index"),
                    float(lon[j]),
                    float(lat[j]),
                    None if t is None else int(t),
                    *values,
                ]  # fmt: skip
            )
    return rows_out


def _in_footprint(im: Image, grid: Grid, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether each pixel centre lies in the image's footprint (its first band's extent)."""
    extent = im.bands[0].extent if im.bands else None
    if extent is None:
        return np.ones(len(rows), dtype=bool)
    a, b, c, d, e, f = grid.transform
    xs = c + a * (cols + 0.5) + b * (rows + 0.5)
    ys = f + d * (cols + 0.5) + e * (rows + 0.5)
    src, dst = normalize_crs(grid.crs), normalize_crs(extent.crs)
    if src != dst:
        xs, ys = transformer(src, dst).transform(xs, ys)
    xmin, ymin, xmax, ymax = extent.bounds()
    xs, ys = np.asarray(xs), np.asarray(ys)
    return (xs >= xmin) & (xs <= xmax) & (ys >= ymin) & (ys <= ymax)
