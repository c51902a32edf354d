"""Geometries on pixel grids: membership and covered fractions.

Earth Engine's rules (the docs of ``Image.reduceRegion`` and ``Image.clip``):

* unweighted reductions and clipping take a pixel when its **centre** lies in the geometry;
* weighted reductions (``sum`` and ``mean`` by default) weight each pixel by the fraction of
  its area the geometry covers.

Membership uses GDAL's rasterizer through ``rasterio.features.rasterize`` (pixel-centre rule
with ``all_touched=False``); covered fractions are exact polygon/pixel intersections with
shapely for the pixels the boundary touches (interior pixels are 1).
"""

from __future__ import annotations

import numpy as np

from .grid import Grid
from .values import Geometry

__all__ = ["centre_mask", "coverage_fraction", "geometry_shape_in"]


def geometry_shape_in(geometry: Geometry, grid: Grid):
    """The geometry's shapely shape in the grid's CRS."""
    return geometry.in_crs(grid.crs)


def _affine(grid: Grid):
    from affine import Affine

    return Affine(*grid.transform)


def _clip_to_grid(shape, grid: Grid):
    import shapely.geometry

    xmin, ymin, xmax, ymax = grid.bounds()
    pad_x = (xmax - xmin) * 1e-9 + 1e-12
    pad_y = (ymax - ymin) * 1e-9 + 1e-12
    box = shapely.geometry.box(xmin - pad_x, ymin - pad_y, xmax + pad_x, ymax + pad_y)
    if shape.within(box):
        return shape
    return shape.intersection(box)


def centre_mask(geometry: Geometry, grid: Grid) -> np.ndarray:
    """Boolean ``(h, w)``: pixels whose centre lies inside the geometry."""
    from rasterio.features import rasterize

    if grid.size == 0:
        return np.zeros(grid.shape, dtype=bool)
    shape = _clip_to_grid(geometry_shape_in(geometry, grid), grid)
    if shape.is_empty:
        return np.zeros(grid.shape, dtype=bool)
    if shape.geom_type in ("Point", "MultiPoint", "LineString", "MultiLineString"):
        return rasterize(
            [(shape, 1)],
            out_shape=grid.shape,
            transform=_affine(grid),
            fill=0,
            all_touched=True,
            dtype="uint8",
        ).astype(bool)
    out = rasterize(
        [(shape, 1)],
        out_shape=grid.shape,
        transform=_affine(grid),
        fill=0,
        all_touched=False,
        dtype="uint8",
    )
    return out.astype(bool)


def coverage_fraction(geometry: Geometry, grid: Grid) -> np.ndarray:
    """Float ``(h, w)`` in [0, 1]: the fraction of each pixel's area inside the geometry.

    Points and lines have no area; for them this falls back to the centre/touch mask.
    """
    import shapely
    from rasterio.features import rasterize

    if grid.size == 0:
        return np.zeros(grid.shape)
    shape = _clip_to_grid(geometry_shape_in(geometry, grid), grid)
    if shape.is_empty:
        return np.zeros(grid.shape)
    if shape.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        return centre_mask(geometry, grid).astype(float)
    transform = _affine(grid)
    touched = rasterize(
        [(shape, 1)],
        out_shape=grid.shape,
        transform=transform,
        fill=0,
        all_touched=True,
        dtype="uint8",
    ).astype(bool)
    boundary = rasterize(
        [(shape.boundary, 1)],
        out_shape=grid.shape,
        transform=transform,
        fill=0,
        all_touched=True,
        dtype="uint8",
    ).astype(bool)
    frac = np.where(touched & ~boundary, 1.0, 0.0)
    rows, cols = np.nonzero(boundary)
    if rows.size:
        a, b, c, d, e, f = grid.transform
        x0 = c + a * cols + b * rows
        y0 = f + d * cols + e * rows
        x1 = x0 + a
        y1 = y0 + e
        boxes = shapely.box(
            np.minimum(x0, x1),
            np.minimum(y0, y1),
            np.maximum(x0, x1),
            np.maximum(y0, y1),
        )
        prepared = shape
        shapely.prepare(prepared)
        inter = shapely.area(shapely.intersection(boxes, prepared))
        frac[rows, cols] = np.clip(inter / shapely.area(boxes), 0.0, 1.0)
    return frac
