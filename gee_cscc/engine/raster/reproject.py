"""Geometries moved between CRSs with their true edges.

A geometry's edges are geodesics (``geodesic=True``) or straight lines in its own CRS.
On a grid in another CRS (or for geodesic edges, on any grid) an edge is a curve; before a
geometry is rasterized its edges are densified until every straight piece in the grid's CRS is
within 1/1000 of a pixel of the true edge (:func:`shape_in`).
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
from .crs import transformer
from .grid import Grid, Projection, normalize_crs

__all__ = [
    "EDGE_TOLERANCE_PIXELS",
    "LINEAR_TYPES",
    "POLYGONAL_TYPES",
    "PUNCTUAL_TYPES",
    "geometry_shape_in",
    "map_coords",
    "pixel_coordinates",
    "shape_in",
    "transformer",
]


#: Densify edges until they are within this fraction of a pixel of the true edge.
EDGE_TOLERANCE_PIXELS = 1e-3
#: The most vertices one densified coordinate sequence may grow to.
_MAX_POINTS = 2_000_000
#: The most bisection passes of one coordinate sequence.
_MAX_PASSES = 30


#: Shapely geometry types by dimension.
LINEAR_TYPES = ("LineString", "MultiLineString", "LinearRing")
POLYGONAL_TYPES = ("Polygon", "MultiPolygon")
PUNCTUAL_TYPES = ("Point", "MultiPoint")


# --- CRS helpers ---------------------------------------------------------------------------


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


def map_coords(shape: Any, fn: Callable[[np.ndarray], np.ndarray]) -> Any:
    """A shapely shape with every coordinate array mapped by ``fn`` ((n, 2) → (n, 2))."""
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
    if shape.geom_type in LINEAR_TYPES + POLYGONAL_TYPES:
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
        shape = map_coords(shape, lambda xy: _apply_affine(xy, affine))
    if not _has_edges(shape) or (geometry.geodesic and geodesic_target):
        # Vertices only: points, or geodesic edges that stay geodesics in any CRS.
        return shape if source == target else map_coords(shape, _mover(source, target))
    if geometry.geodesic:
        ll = shape
        if source != "EPSG:4326":
            ll = map_coords(shape, _mover(source, "EPSG:4326"))
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
