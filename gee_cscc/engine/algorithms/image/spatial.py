"""``Image.*`` algorithms of space: clipping, projections, reprojection, extents.

``clip``/``clipToCollection`` mask outside a geometry (centre rule, see
:mod:`gee_cscc.engine.raster.rasterize`); ``reproject``/``setDefaultProjection`` change the
grid a band is computed on; ``clipToBoundsAndScale`` gives an image the grid that exports
and thumbnails use; ``geometry`` is an image's footprint.
"""

from __future__ import annotations

import math
from typing import Any

from ...core.registry import algorithm
from ...core.values import (
    Band,
    FeatureCollection,
    Geometry,
    Image,
    PixelData,
)
from ...errors import EEError
from ...raster.grid import DEFAULT_PROJECTION, Grid, Projection
from ...raster.rasterize import centre_mask
from ...raster.reproject import geometry_shape_in
from ...raster.resample import sample
from ..geometry.geometry import as_geometry as geometry_argument
from .masks import footprint

# --- geometry --------------------------------------------------------------------------------


def as_geometry(obj: Any, what: str) -> Geometry:
    """A Geometry from a Geometry, a Feature (see :func:`..geometry.geometry.as_geometry`) or
    a FeatureCollection (the union of its features)."""
    if isinstance(obj, FeatureCollection):
        import shapely

        shapes = [
            f.geometry.in_crs("EPSG:4326") for f in obj.features if getattr(f, "geometry", None)
        ]
        return Geometry(shapely.union_all(shapes) if shapes else shapely.GeometryCollection())
    return geometry_argument(obj, what)


def _clip_extent(band: Band, geometry: Geometry) -> Grid | None:
    """The band's pixel extent after a clip: its grid's window over the geometry's bounds.

    A clipped image is bounded (it can be exported without a region); a band that already
    has an extent on the same pixel lattice keeps only the overlap.
    """
    proj = band.projection or DEFAULT_PROJECTION
    shape = geometry_shape_in(geometry, Grid(proj, (0, 0)))
    if shape.is_empty or not proj.is_axis_aligned():
        return band.extent if not shape.is_empty else _window(proj, 0, 0, 0, 0)
    window = extent_of(geometry, proj)
    ext = band.extent
    if ext is None:
        return window
    a = Grid(ext.projection, (1, 1)).offset_in(proj)
    b = Grid(window.projection, (1, 1)).offset_in(proj)
    if a is None or b is None:
        return window
    r0, c0 = max(a[0], b[0]), max(a[1], b[1])
    r1 = min(a[0] + ext.height, b[0] + window.height)
    c1 = min(a[1] + ext.width, b[1] + window.width)
    return _window(proj, r0, c0, max(r1 - r0, 0), max(c1 - c0, 0))


def _clip_image(image: Image, geometry: Geometry) -> Image:
    bands = []
    for band in image.bands:

        def compute(grid: Grid, _b=band) -> PixelData:
            v, m = _b.compute(grid)
            return v, m & centre_mask(geometry, grid)

        bands.append(
            Band(
                band.name,
                compute,
                dtype=band.dtype,
                projection=band.projection,
                extent=_clip_extent(band, geometry),
            )
        )
    return image.with_bands(bands)


@algorithm("Image.clip")
def clip(input: Image, geometry: Any) -> Image:  # noqa: A002
    return _clip_image(input, as_geometry(geometry, "Image.clip"))


@algorithm("Image.clipToCollection")
def clip_to_collection(input: Image, collection: Any) -> Image:  # noqa: A002
    return _clip_image(input, as_geometry(collection, "Image.clipToCollection"))


# --- projections ----------------------------------------------------------------------------


def as_projection(
    crs: Any, crs_transform: Any = None, scale: Any = None, *, what: str
) -> Projection:
    """A Projection from Earth Engine's (crs, crsTransform, scale) arguments."""
    if isinstance(crs, Projection):
        proj = crs
    elif isinstance(crs, str):
        proj = Projection(crs, DEFAULT_PROJECTION.transform)
    else:
        raise EEError(f"{what}: invalid crs {crs!r}.")
    if crs_transform is not None:
        if len(crs_transform) != 6:
            raise EEError(f"{what}: crsTransform must have 6 numbers, got {len(crs_transform)}.")
        proj = Projection(proj.crs, tuple(float(v) for v in crs_transform))
    elif scale is not None:
        proj = proj.with_scale(float(scale))
    return proj


@algorithm("Image.projection")
def projection(image: Image) -> Projection:
    projs = {b.projection for b in image.bands}
    if len(projs) > 1:
        raise EEError(
            "Image.projection: The bands of the specified image contains different projections. "
            "Use Image.select to pick a single band."
        )
    # The default projection (setDefaultProjection replaces it; the native grid stays the
    # band's extent, which is what pixels are read from).
    proj = image.default_projection()
    return DEFAULT_PROJECTION if proj is None else proj


@algorithm("Image.setDefaultProjection")
def set_default_projection(
    image: Image, crs: Any, crsTransform: Any = None, scale: Any = None
) -> Image:  # noqa: N803
    proj = as_projection(crs, crsTransform, scale, what="Image.setDefaultProjection")
    return image.with_bands([b.replace(projection=proj) for b in image.bands])


@algorithm("Image.reproject")
def reproject(image: Image, crs: Any, crsTransform: Any = None, scale: Any = None) -> Image:  # noqa: N803
    proj = as_projection(crs, crsTransform, scale, what="Image.reproject")
    bands = []
    for band in image.bands:

        def compute(grid: Grid, _b=band) -> PixelData:
            def reader(r0: int, c0: int, h: int, w: int) -> PixelData:
                return _b.compute(_window(proj, r0, c0, h, w))

            return sample(proj, None, reader, grid)

        bands.append(
            Band(
                band.name,
                compute,
                dtype=band.dtype,
                projection=proj,
                extent=_reprojected_extent(band, proj),
            )
        )
    return image.with_bands(bands)


def _reprojected_extent(band: Band, proj: Projection) -> Grid | None:
    """The pixels of ``proj`` that meet the band's native footprint (None if unbounded).

    Keeps a reprojected image bounded: exportable without a region, and ``unmask`` with
    ``sameFootprint`` does not fill beyond the data.
    """
    ext = band.extent
    if ext is None or not proj.is_axis_aligned():
        return None
    import shapely.geometry

    xmin, ymin, xmax, ymax = ext.bounds()
    box = shapely.geometry.box(xmin, ymin, xmax, ymax)
    if ext.crs != proj.crs:  # edges curve in another CRS: transform more than the corners
        box = box.segmentize(max(xmax - xmin, ymax - ymin) / 32)
    return extent_of(Geometry(box, ext.crs), proj)


def _window(proj: Projection, row0: int, col0: int, h: int, w: int) -> Grid:
    return Grid(proj, (0, 0)).window(row0, col0, h, w)


def extent_of(geometry: Geometry, proj: Projection) -> Grid:
    """The pixels of ``proj`` whose area meets the geometry's bounding box."""
    shape = geometry_shape_in(geometry, Grid(proj, (0, 0)))
    xmin, ymin, xmax, ymax = shape.bounds
    a, b, c, d, e, f = proj.transform
    if b or d:
        raise EEError("Sheared projections are not supported by the local engine for bounds.")
    cols = sorted(((xmin - c) / a, (xmax - c) / a))
    rows = sorted(((ymin - f) / e, (ymax - f) / e))
    eps = 1e-7
    c0, c1 = math.floor(cols[0] + eps), math.ceil(cols[1] - eps)
    r0, r1 = math.floor(rows[0] + eps), math.ceil(rows[1] - eps)
    return _window(proj, r0, c0, max(r1 - r0, 0), max(c1 - c0, 0))


def _rescaled(proj: Projection, scale: float) -> Projection:
    """The projection scaled to a nominal ``scale`` in metres, keeping its origin (as the
    docs of clipToBoundsAndScale say: the image's own projection is scaled)."""
    k = float(scale) / proj.nominal_scale
    a, b, c, d, e, f = proj.transform
    return Projection(proj.crs, (a * k, b * k, c, d * k, e * k, f))


@algorithm("Image.clipToBoundsAndScale")
def clip_to_bounds_and_scale(
    input: Image,  # noqa: A002
    geometry: Any = None,
    width: int | None = None,
    height: int | None = None,
    maxDimension: int | None = None,  # noqa: N803
    scale: float | None = None,
) -> Image:
    bands = []
    for band in input.bands:
        if geometry is not None:
            geom = as_geometry(geometry, "Image.clipToBoundsAndScale")
        elif band.extent is not None:
            geom = None
        else:
            raise EEError(
                "Image.clipToBoundsAndScale: the image has no bounds; give a region (geometry)."
            )
        proj = band.projection
        if (
            proj is None
            and scale is None
            and width is None
            and height is None
            and maxDimension is None
        ):
            raise EEError(
                "The image has no fixed projection (it is a composite or a constant): on Earth "
                "Engine an export or download of it runs at the default WGS84 projection of 1 "
                "degree. Give crs and crsTransform (or scale)."
            )
        # Without a fixed projection: WGS84, north up (Earth Engine writes exports north up).
        proj = proj or Projection("EPSG:4326", (1.0, 0.0, 0.0, 0.0, -1.0, 0.0))
        if geom is None:
            base = band.extent
        else:
            base = extent_of(geom, _rescaled(proj, scale) if scale is not None else proj)
        if width is not None or height is not None or maxDimension is not None:
            bounds_geom = geom.in_crs(proj.crs) if geom is not None else None
            xmin, ymin, xmax, ymax = (
                bounds_geom.bounds if bounds_geom is not None else base.bounds()
            )
            w, h = width, height
            if maxDimension is not None and w is None and h is None:
                ratio = (xmax - xmin) / max(ymax - ymin, 1e-300)
                w, h = (
                    (maxDimension, max(1, round(maxDimension / ratio)))
                    if ratio >= 1
                    else (max(1, round(maxDimension * ratio)), maxDimension)
                )
            if w is None:
                w = max(1, round(h * (xmax - xmin) / (ymax - ymin)))
            if h is None:
                h = max(1, round(w * (ymax - ymin) / (xmax - xmin)))
            t = ((xmax - xmin) / w, 0.0, xmin, 0.0, -(ymax - ymin) / h, ymax)
            base = Grid(Projection(proj.crs, t), (h, w))
        elif scale is not None and geom is None:
            raise EEError("Image.clipToBoundsAndScale: scale needs a geometry.")
        target = base

        def compute(grid: Grid, _b=band, _t=target) -> PixelData:
            v, m = _b.compute(grid)
            return v, m & footprint(Band("x", lambda g: (0, True), extent=_t), grid)

        bands.append(
            Band(band.name, compute, dtype=band.dtype, projection=target.projection, extent=target)
        )
    return input.with_bands(bands)


@algorithm("Image.geometry")
def image_geometry(
    feature: Any, maxError: Any = None, proj: Any = None, geodesics: Any = None
) -> Geometry:  # noqa: N803
    import shapely.geometry

    if not isinstance(feature, Image):
        raise EEError("Image.geometry: expected an Image.")
    extents = [b.extent for b in feature.bands if b.extent is not None]
    if not extents:
        return Geometry(shapely.geometry.box(-180, -90, 180, 90), geodesic=False)
    ext = extents[0]
    xmin, ymin, xmax, ymax = ext.bounds()
    return Geometry(shapely.geometry.box(xmin, ymin, xmax, ymax), ext.crs, geodesic=False)
