"""Geometries on pixel grids: reprojection with true edges, membership and covered fractions.

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

import functools
import math
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.values import Geometry
from ..errors import EEError
from .grid import Grid, Projection, normalize_crs

__all__ = [
    "centre_mask",
    "coverage_fraction",
    "geometry_shape_in",
    "shape_in",
    "pixel_coordinates",
    "transformer",
]

#: Densify edges until they are within this fraction of a pixel of the true edge.
EDGE_TOLERANCE_PIXELS = 1e-3
#: The most vertices one densified coordinate sequence may grow to.
_MAX_POINTS = 2_000_000
#: The most bisection passes of one coordinate sequence.
_MAX_PASSES = 30

_LINEAR = ("LineString", "MultiLineString", "LinearRing")
_POLYGONAL = ("Polygon", "MultiPolygon")
_PUNCTUAL = ("Point", "MultiPoint")


# --- CRS helpers ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=128)
def transformer(source: str, target: str) -> Any:
    """A cached ``pyproj.Transformer`` from ``source`` to ``target`` (x/y = lon/lat order)."""
    import pyproj

    return pyproj.Transformer.from_crs(source, target, always_xy=True)


@functools.lru_cache(maxsize=64)
def _is_geographic(crs: str) -> bool:
    return Projection(crs).is_geographic


def _geod() -> Any:
    import pyproj

    return pyproj.Geod(ellps="WGS84")


def _base(crs: str | Projection) -> tuple[str, tuple[float, ...] | None]:
    """``(crs code, affine or None)`` of a geometry CRS that may be a Projection."""
    if isinstance(crs, Projection):
        if crs.transform == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0):
            return crs.crs, None
        return crs.crs, crs.transform
    return normalize_crs(crs), None


def _apply_affine(xy: np.ndarray, t: tuple[float, ...]) -> np.ndarray:
    a, b, c, d, e, f = t
    x, y = xy[:, 0], xy[:, 1]
    return np.column_stack((a * x + b * y + c, d * x + e * y + f))


def pixel_coordinates(xy: np.ndarray, transform: tuple[float, ...]) -> np.ndarray:
    """CRS coordinates ``(n, 2)`` → pixel coordinates (column, row) under an affine transform."""
    a, b, c, d, e, f = transform
    dx = xy[:, 0] - c
    dy = xy[:, 1] - f
    if b == 0.0 and d == 0.0:
        return np.column_stack((dx / a, dy / e))
    det = a * e - b * d
    if det == 0.0:
        raise EEError("A projection with a singular transform has no pixel coordinates.")
    return np.column_stack(((e * dx - b * dy) / det, (-d * dx + a * dy) / det))


def _map_coords(shape: Any, fn: Callable[[np.ndarray], np.ndarray]) -> Any:
    import shapely

    if shape.is_empty:
        return shape
    return shapely.transform(shape, fn)


def _checked(xy: np.ndarray, crs: str) -> np.ndarray:
    if xy.size and not np.all(np.isfinite(xy)):
        raise EEError(f"The geometry cannot be transformed to {crs}: some points fall outside it.")
    return xy


# --- densified reprojection ----------------------------------------------------------------


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of points ``p`` from segments ``a``–``b`` (all ``(n, 2)``)."""
    ab = b - a
    ap = p - a
    den = np.einsum("ij,ij->i", ab, ab)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(den > 0, np.einsum("ij,ij->i", ap, ab) / np.where(den > 0, den, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    closest = a + ab * t[:, None]
    return np.hypot(p[:, 0] - closest[:, 0], p[:, 1] - closest[:, 1])


def _refine(
    src: np.ndarray,
    split: Callable[[np.ndarray, np.ndarray, float], np.ndarray],
    to_target: Callable[[np.ndarray], np.ndarray],
    tolerance: float,
    deviation: Callable[[np.ndarray, np.ndarray, np.ndarray, float], np.ndarray] | None = None,
) -> np.ndarray:
    """Target coordinates of a vertex sequence, with edges bisected until straight enough.

    ``split(a, b, t)`` is the point at fraction ``t`` of the true edge from ``a`` to ``b`` (in
    source coordinates). An edge is bisected while a probe at 1/4, 1/2 or 3/4 of it lies
    farther than ``tolerance`` (target units) from the target edge: by default the straight
    target segment; ``deviation(p, ta, tb, t)`` measures it otherwise.
    """
    if deviation is None:

        def deviation(p: np.ndarray, ta: np.ndarray, tb: np.ndarray, t: float) -> np.ndarray:
            return _segment_distance(p, ta, tb)

    pts = np.asarray(src, dtype=float)
    tgt = to_target(pts)
    if len(pts) < 2:
        return tgt
    need = np.ones(len(pts) - 1, dtype=bool)
    for _ in range(_MAX_PASSES):
        idx = np.nonzero(need)[0]
        if idx.size == 0:
            break
        a, b = pts[idx], pts[idx + 1]
        ta, tb = tgt[idx], tgt[idx + 1]
        dev = np.zeros(idx.size)
        mid_src = mid_tgt = None
        for t in (0.25, 0.5, 0.75):
            p_src = split(a, b, t)
            p_tgt = to_target(p_src)
            dev = np.maximum(dev, deviation(p_tgt, ta, tb, t))
            if t == 0.5:
                mid_src, mid_tgt = p_src, p_tgt
        bad = dev > tolerance
        if not bad.any() or len(pts) + int(bad.sum()) > _MAX_POINTS:
            break
        where = idx[bad]
        pts = np.insert(pts, where + 1, mid_src[bad], axis=0)
        tgt = np.insert(tgt, where + 1, mid_tgt[bad], axis=0)
        need = np.zeros(len(pts) - 1, dtype=bool)
        first = where + np.arange(where.size)
        need[first] = True
        need[first + 1] = True
    return tgt


def _linear_split(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return a + (b - a) * t


def _geodesic_split(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Points at fraction ``t`` along the WGS84 geodesics from ``a`` to ``b`` (lon/lat)."""
    geod = _geod()
    az, _, dist = geod.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    lon, lat, _ = geod.fwd(a[:, 0], a[:, 1], az, np.asarray(dist) * t)
    lon = np.asarray(lon, dtype=float)
    ref = a[:, 0] + (b[:, 0] - a[:, 0]) * t
    lon = lon + 360.0 * np.round((ref - lon) / 360.0)
    return np.column_stack((lon, np.asarray(lat, dtype=float)))


def _has_edges(shape: Any) -> bool:
    if shape.geom_type in _LINEAR + _POLYGONAL:
        return True
    if shape.geom_type == "GeometryCollection":
        return any(_has_edges(g) for g in shape.geoms)
    return False


def _map_sequences(shape: Any, fn: Callable[[np.ndarray], np.ndarray]) -> Any:
    """Rebuild a shapely geometry with every coordinate sequence passed through ``fn``."""
    import shapely.geometry as sg

    kind = shape.geom_type
    if shape.is_empty:
        return shape
    if kind == "Point":
        return sg.Point(fn(np.asarray(shape.coords, dtype=float))[0])
    if kind == "MultiPoint":
        xy = fn(np.array([p.coords[0] for p in shape.geoms], dtype=float))
        return sg.MultiPoint([tuple(p) for p in xy])
    if kind == "LineString":
        return sg.LineString(fn(np.asarray(shape.coords, dtype=float)))
    if kind == "LinearRing":
        return sg.LinearRing(fn(np.asarray(shape.coords, dtype=float)))
    if kind == "Polygon":
        shell = fn(np.asarray(shape.exterior.coords, dtype=float))
        holes = [fn(np.asarray(r.coords, dtype=float)) for r in shape.interiors]
        return sg.Polygon(shell, holes)
    if kind == "MultiLineString":
        return sg.MultiLineString([_map_sequences(g, fn) for g in shape.geoms])
    if kind == "MultiPolygon":
        return sg.MultiPolygon([_map_sequences(g, fn) for g in shape.geoms])
    if kind == "GeometryCollection":
        return sg.GeometryCollection([_map_sequences(g, fn) for g in shape.geoms])
    raise EEError(f"Unsupported geometry type {kind}.")


def shape_in(
    geometry: Geometry,
    crs: str,
    *,
    tolerance: float,
    geodesic_target: bool = False,
) -> Any:
    """The geometry's shape in ``crs`` coordinates, with its true edges.

    Parameters
    ----------
    geometry
        The geometry (its CRS may be a Projection: coordinates in its pixel units).
    crs
        The target CRS code.
    tolerance
        The largest distance (target CRS units) between a straight edge of the
        result and the geometry's true edge.
    geodesic_target
        Whether the result's edges are read as geodesics (then a geodesic
        geometry needs no densification).

    Returns
    -------
    shapely.Geometry
        A shapely geometry in ``crs`` coordinates. Edges that are curves in ``crs`` (geodesics,
        or straight lines of another CRS) are densified within ``tolerance``.
    """
    target = normalize_crs(crs)
    source, affine = _base(geometry.crs)
    shape = geometry.shape
    if shape.is_empty:
        return shape
    if affine is not None:
        shape = _map_coords(shape, lambda xy: _apply_affine(xy, affine))
    if not _has_edges(shape) or (geometry.geodesic and geodesic_target):
        # Vertices only: points, or geodesic edges that stay geodesics in any CRS.
        return shape if source == target else _map_coords(shape, _mover(source, target))
    if geometry.geodesic:
        ll = shape
        if source != "EPSG:4326":
            ll = _map_coords(shape, _mover(source, "EPSG:4326"))
        to_target = _mover("EPSG:4326", target)
        return _map_sequences(ll, lambda xy: _refine(xy, _geodesic_split, to_target, tolerance))
    move = _mover(source, target)
    if geodesic_target:
        deviation = _geodesic_chord_deviation(target)
        return _map_sequences(
            shape, lambda xy: _refine(xy, _linear_split, move, tolerance, deviation)
        )
    if source == target:
        return shape
    return _map_sequences(shape, lambda xy: _refine(xy, _linear_split, move, tolerance))


def _mover(source: str, target: str) -> Callable[[np.ndarray], np.ndarray]:
    """Coordinates ``(n, 2)`` from one CRS to another (identity when they are the same)."""
    if source == target:
        return lambda xy: xy
    tf = transformer(source, target)

    def move(xy: np.ndarray) -> np.ndarray:
        return _checked(np.column_stack(tf.transform(xy[:, 0], xy[:, 1])), target)

    return move


def _geodesic_chord_deviation(
    target: str,
) -> Callable[[np.ndarray, np.ndarray, np.ndarray, float], np.ndarray]:
    """Distance (target units) of a point from the geodesic chord between two target points."""
    to_ll = None if target == "EPSG:4326" else transformer(target, "EPSG:4326")
    from_ll = None if target == "EPSG:4326" else transformer("EPSG:4326", target)

    def deviation(p: np.ndarray, ta: np.ndarray, tb: np.ndarray, t: float) -> np.ndarray:
        if to_ll is not None:
            ta = np.column_stack(to_ll.transform(ta[:, 0], ta[:, 1]))
            tb = np.column_stack(to_ll.transform(tb[:, 0], tb[:, 1]))
        chord = _geodesic_split(ta, tb, t)
        if from_ll is not None:
            chord = np.column_stack(from_ll.transform(chord[:, 0], chord[:, 1]))
        return np.hypot(p[:, 0] - chord[:, 0], p[:, 1] - chord[:, 1])

    return deviation


_SHAPE_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _pixel_size(grid: Grid) -> float:
    a, b, _, d, e, _ = grid.transform
    return math.sqrt(abs(a * e - b * d))


def geometry_shape_in(geometry: Geometry, grid: Grid) -> Any:
    """The geometry's shapely shape in the grid's CRS, edges true within 1/1000 pixel."""
    tol = _pixel_size(grid) * EDGE_TOLERANCE_PIXELS
    key = (grid.crs, tol)
    per_geom = _SHAPE_CACHE.setdefault(geometry, {})
    hit = per_geom.get(key)
    if hit is None:
        hit = shape_in(geometry, grid.crs, tolerance=tol)
        per_geom[key] = hit
    return hit


# --- centre rule ---------------------------------------------------------------------------


def _in_pixels(shape: Any, grid: Grid) -> Any:
    return _map_coords(shape, lambda xy: pixel_coordinates(xy, grid.transform))


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

    if shape.geom_type in _LINEAR + _PUNCTUAL:
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
    points = [p for g in others if g.geom_type in _PUNCTUAL for p in shapely.get_parts(g)]
    lines = [g for g in others if g.geom_type in _LINEAR and not g.is_empty]
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
