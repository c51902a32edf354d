"""Geometries on pixel grids: reprojection with true edges, membership and covered fractions.

(How edges are moved between CRSs first: :mod:`.reproject`.)

Earth Engine's rules (the docs of ``Image.reduceRegion`` and ``Image.clip``):

* unweighted reductions and clipping take a pixel when its **centre** lies in the geometry;
* weighted reductions (``sum`` and ``mean`` by default) weight each pixel by the fraction of
  its area the geometry covers.

Edges. A geometry's edges are geodesics (``geodesic=True``) or straight lines in its own CRS.
On a grid in another CRS (or for geodesic edges, on any grid) an edge is a curve; before a
geometry is rasterized its edges are densified until every straight piece in the grid's CRS is
within 1/1000 of a pixel of the true edge (:func:`shape_in`).

Centre rule and ties. Membership is decided in pixel coordinates (column to the right, row
down) by an even–odd crossing test on the pixel-centre scanlines. A centre exactly on a
boundary edge counts as inside when the polygon lies on the edge's +col side; on a
horizontal edge, when the polygon lies on its +row side. On a north-up grid: centres on a west
or north edge are in, centres on an east or south edge are out. Two polygons that share an
edge therefore never both take a pixel, and a tiling of polygons takes every centre exactly
once. Points take the pixel they fall in (on a pixel edge: the pixel on the +row/+col side);
lines take every pixel they touch (GDAL's ``all_touched`` rasterizer).

Covered fractions are exact polygon/pixel intersection areas (shapely) for the pixels that
the boundary touches; the others are 1 or 0 by the centre rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.values import Geometry
from ..errors import EEError
from .grid import Grid
from .reproject import (
    LINEAR_TYPES,
    PUNCTUAL_TYPES,
    geometry_shape_in,
    map_coords,
    pixel_coordinates,
)

__all__ = [
    "centre_mask",
    "coverage_fraction",
]


# --- centre rule ---------------------------------------------------------------------------


def _in_pixels(shape: Any, grid: Grid) -> Any:
    return map_coords(shape, lambda xy: pixel_coordinates(xy, grid.transform))


def _rings(polygon: Any) -> list[np.ndarray]:
    out = [np.asarray(polygon.exterior.coords, dtype=float)]
    out.extend(np.asarray(r.coords, dtype=float) for r in polygon.interiors)
    return out


def _parity_fill(rings: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Even–odd fill of closed rings in pixel coordinates: centres ``(c+0.5, r+0.5)``."""
    h, w = shape
    out = np.zeros(shape, dtype=bool)
    if not rings or h == 0 or w == 0:
        return out
    p0 = np.concatenate([r[:-1] for r in rings if len(r) > 1])
    p1 = np.concatenate([r[1:] for r in rings if len(r) > 1])
    # Canonical orientation (lower row first) so a shared edge gives identical crossings.
    swap = p0[:, 1] > p1[:, 1]
    lo = np.where(swap[:, None], p1, p0)
    hi = np.where(swap[:, None], p0, p1)
    keep = lo[:, 1] < hi[:, 1]
    lo, hi = lo[keep], hi[keep]
    if lo.size == 0:
        return out
    r_first = np.clip(np.floor(lo[:, 1] - 0.5), 0, h - 1).astype(np.int64)
    r_last = np.clip(np.ceil(hi[:, 1] - 0.5), 0, h - 1).astype(np.int64)
    inside_rows = (hi[:, 1] > 0.5) & (lo[:, 1] <= h - 0.5) & (r_last >= r_first)
    lo, hi = lo[inside_rows], hi[inside_rows]
    r_first, r_last = r_first[inside_rows], r_last[inside_rows]
    if lo.size == 0:
        return out
    counts = r_last - r_first + 1
    edge = np.repeat(np.arange(lo.shape[0]), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    rows = r_first[edge] + (np.arange(edge.size) - starts)
    py = rows + 0.5
    ya, yb = lo[edge, 1], hi[edge, 1]
    crosses = (ya <= py) & (py < yb)
    edge, rows, py = edge[crosses], rows[crosses], py[crosses]
    xa, ya = lo[edge, 0], lo[edge, 1]
    xb, yb = hi[edge, 0], hi[edge, 1]
    x = xa + (py - ya) * (xb - xa) / (yb - ya)
    order = np.lexsort((x, rows))
    rows, x = rows[order], x[order]
    if rows.size % 2 or np.any(rows[0::2] != rows[1::2]):
        raise EEError("Internal error: unclosed ring while rasterizing a polygon.")
    r = rows[0::2]
    c_lo = _first_centre_at_or_after(x[0::2], w)
    c_hi = _first_centre_at_or_after(x[1::2], w)
    diff = np.zeros((h, w + 1), dtype=np.int32)
    np.add.at(diff, (r, c_lo), 1)
    np.add.at(diff, (r, c_hi), -1)
    return np.cumsum(diff, axis=1)[:, :w] > 0


def _first_centre_at_or_after(x: np.ndarray, w: int) -> np.ndarray:
    """The first column whose centre ``c + 0.5`` is ≥ x, clipped to ``[0, w]``."""
    with np.errstate(invalid="ignore"):
        c = np.ceil(np.clip(x, -1.0, w + 1.0) - 0.5)
    c = c - ((c - 1) + 0.5 >= x)
    c = c + ((c + 0.5) < x)
    return np.clip(c, 0, w).astype(np.int64)


def _polygon_parts(shape: Any) -> list[Any]:
    import shapely

    if shape.geom_type == "Polygon":
        return [shape]
    if shape.geom_type in ("MultiPolygon", "GeometryCollection"):
        out = []
        for g in shapely.get_parts(shape):
            out.extend(_polygon_parts(g))
        return out
    return []


def _other_parts(shape: Any) -> list[Any]:
    import shapely

    if shape.geom_type in LINEAR_TYPES + PUNCTUAL_TYPES:
        return [shape]
    if shape.geom_type == "GeometryCollection":
        out = []
        for g in shapely.get_parts(shape):
            out.extend(_other_parts(g))
        return out
    return []


def _polygon_mask(polygons: list[Any], grid_shape: tuple[int, int]) -> np.ndarray:
    import shapely

    if not polygons:
        return np.zeros(grid_shape, dtype=bool)
    disjoint = len(polygons) == 1 or bool(shapely.MultiPolygon(polygons).is_valid)
    if disjoint:
        return _parity_fill([r for p in polygons for r in _rings(p)], grid_shape)
    out = np.zeros(grid_shape, dtype=bool)
    for p in polygons:
        out |= _parity_fill(_rings(p), grid_shape)
    return out


def _point_mask(points: list[Any], grid_shape: tuple[int, int]) -> np.ndarray:
    h, w = grid_shape
    out = np.zeros(grid_shape, dtype=bool)
    xy = np.array([p.coords[0] for p in points], dtype=float).reshape(-1, 2)
    cols = np.floor(xy[:, 0])
    rows = np.floor(xy[:, 1])
    ok = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    out[rows[ok].astype(np.int64), cols[ok].astype(np.int64)] = True
    return out


def _line_mask(lines: list[Any], grid_shape: tuple[int, int]) -> np.ndarray:
    from affine import Affine
    from rasterio.features import rasterize

    return rasterize(
        [(g, 1) for g in lines],
        out_shape=grid_shape,
        transform=Affine.identity(),
        fill=0,
        all_touched=True,
        dtype="uint8",
    ).astype(bool)


def _mask_in_pixels(pix: Any, grid_shape: tuple[int, int]) -> np.ndarray:
    import shapely

    out = _polygon_mask(_polygon_parts(pix), grid_shape)
    others = _other_parts(pix)
    points = [p for g in others if g.geom_type in PUNCTUAL_TYPES for p in shapely.get_parts(g)]
    lines = [g for g in others if g.geom_type in LINEAR_TYPES and not g.is_empty]
    if points:
        out |= _point_mask(points, grid_shape)
    if lines:
        out |= _line_mask(lines, grid_shape)
    return out


def centre_mask(geometry: Geometry, grid: Grid) -> np.ndarray:
    """Boolean ``(h, w)``: pixels whose centre lies inside the geometry (see module notes)."""
    if grid.size == 0:
        return np.zeros(grid.shape, dtype=bool)
    shape = geometry_shape_in(geometry, grid)
    if shape.is_empty:
        return np.zeros(grid.shape, dtype=bool)
    return _mask_in_pixels(_in_pixels(shape, grid), grid.shape)


# --- covered fractions ---------------------------------------------------------------------


def _boundary_pixels(polygons: list[Any], grid_shape: tuple[int, int]) -> np.ndarray:
    """Flat indexes of every pixel whose closed square the polygons' boundary touches."""
    import shapely

    h, w = grid_shape
    cells = []
    for poly in polygons:
        for ring in _rings(poly):
            line = shapely.segmentize(shapely.LineString(ring), 0.5)
            xy = np.asarray(line.coords, dtype=float)
            a, b = xy[:-1], xy[1:]
            eps = 1e-9
            c0 = np.floor(np.minimum(a[:, 0], b[:, 0]) - eps).astype(np.int64)
            c1 = np.floor(np.maximum(a[:, 0], b[:, 0]) + eps).astype(np.int64)
            r0 = np.floor(np.minimum(a[:, 1], b[:, 1]) - eps).astype(np.int64)
            r1 = np.floor(np.maximum(a[:, 1], b[:, 1]) + eps).astype(np.int64)
            # Each piece is at most half a pixel long: its box spans at most 2×2 pixels.
            for dc in (0, 1, 2):
                for dr in (0, 1, 2):
                    cc, rr = c0 + dc, r0 + dr
                    ok = (cc <= c1) & (rr <= r1) & (cc >= 0) & (cc < w) & (rr >= 0) & (rr < h)
                    cells.append(rr[ok] * w + cc[ok])
    if not cells:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(cells))


_BLOCK = 16


def _cell_fractions(area_shape: Any, cells: np.ndarray, width: int) -> np.ndarray:
    """Exact covered fractions of unit pixel squares (flat indexes), block by block.

    The shape is first clipped to each 16×16-pixel block that holds candidate pixels, so a
    complex boundary is intersected with one pixel square only through its local part.
    """
    import shapely

    rows, cols = np.divmod(cells, width)
    out = np.zeros(cells.size)
    block = (rows // _BLOCK) * (width // _BLOCK + 1) + cols // _BLOCK
    order = np.argsort(block, kind="stable")
    bounds = np.flatnonzero(np.diff(block[order])) + 1
    for group in np.split(order, bounds):
        r0, c0 = rows[group[0]] // _BLOCK * _BLOCK, cols[group[0]] // _BLOCK * _BLOCK
        local = shapely.clip_by_rect(area_shape, c0, r0, c0 + _BLOCK, r0 + _BLOCK)
        if local.is_empty:
            continue
        boxes = shapely.box(cols[group], rows[group], cols[group] + 1.0, rows[group] + 1.0)
        out[group] = shapely.area(shapely.intersection(boxes, local))
    return np.clip(out, 0.0, 1.0)


def coverage_fraction(geometry: Geometry, grid: Grid) -> np.ndarray:
    """Float ``(h, w)`` in [0, 1]: the fraction of each pixel's area inside the geometry.

    The fraction is measured in the grid's CRS (an affine image of the pixel square). Points
    and lines have no area; for them this is the centre/touch mask as 0 or 1.
    """
    import shapely

    if grid.size == 0:
        return np.zeros(grid.shape)
    shape = geometry_shape_in(geometry, grid)
    if shape.is_empty:
        return np.zeros(grid.shape)
    pix = _in_pixels(shape, grid)
    polygons = [p for p in _polygon_parts(pix) if not p.is_empty]
    if not polygons:
        return _mask_in_pixels(pix, grid.shape).astype(float)
    frac = _polygon_mask(polygons, grid.shape).astype(float)
    cells = _boundary_pixels(polygons, grid.shape)
    if cells.size:
        area_shape = shapely.MultiPolygon(polygons) if len(polygons) > 1 else polygons[0]
        if not area_shape.is_valid:
            area_shape = shapely.union_all([shapely.make_valid(p) for p in polygons])
        frac.reshape(-1)[cells] = _cell_fractions(area_shape, cells, grid.width)
    return frac
