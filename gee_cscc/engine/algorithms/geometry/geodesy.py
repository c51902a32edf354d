"""Geometry frames and measures on the WGS84 ellipsoid, for the ``Geometry.*`` algorithms.

A frame is a CRS code, or a :class:`~gee_cscc.engine.raster.grid.Projection` whose coordinates are
in its pixel units; :func:`shape_in_frame` gives a geometry's shape in a frame with edges of the
requested kind (geodesics densified within a tolerance in metres). Areas (m²), lengths and
perimeters (m) are measured as the notes of :mod:`.geometry` tell.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ...core.values import Geometry
from ...raster.area import lonlat_ring_area
from ...raster.grid import METERS_PER_DEGREE, Projection
from ...raster.reproject import pixel_coordinates, shape_in

__all__ = [
    "DEFAULT_MAX_ERROR_M",
    "geometry_area",
    "geometry_length",
    "geometry_perimeter",
]

IDENTITY_TRANSFORM = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
#: Densification tolerance when no error margin is given (m).
DEFAULT_MAX_ERROR_M = 0.01
#: Densification tolerance of measures, relative to the geometry's size. A chord within t of
#: a curved edge misplaces about (2/3)·t per metre of boundary, so areas stay within ~1e-10.
_MEASURE_TOLERANCE_REL = 1e-11
_WGS84_A = 6378137.0
_WGS84_F = 1 / 298.257223563
_E2 = _WGS84_F * (2 - _WGS84_F)


# --- frames --------------------------------------------------------------------------------


def canonical_frame(crs: str | Projection) -> str | Projection:
    """A geometry CRS in canonical form: a code, or a Projection with a non-identity affine."""
    if isinstance(crs, Projection):
        return crs.crs if crs.transform == IDENTITY_TRANSFORM else crs
    return Projection(crs).crs


def _base(crs: str | Projection) -> tuple[str, tuple[float, ...] | None]:
    crs = canonical_frame(crs)
    if isinstance(crs, Projection):
        return crs.crs, crs.transform
    return crs, None


def is_geographic_frame(crs: str | Projection) -> bool:
    """Whether a geometry CRS (code or Projection) is geographic (degrees)."""
    return Projection(_base(crs)[0]).is_geographic


def units_per_metre(crs: str | Projection) -> float:
    """Coordinate units of ``crs`` per metre (degrees, metres, feet, or pixels of a Projection)."""
    code, affine = _base(crs)
    per_m = _code_units_per_metre(code)
    if affine is not None:
        a, b, _, d, e, _ = affine
        per_m /= math.sqrt(abs(a * e - b * d))
    return per_m


@functools.lru_cache(maxsize=64)
def _code_units_per_metre(code: str) -> float:
    if Projection(code).is_geographic:
        return 1.0 / METERS_PER_DEGREE
    from ...raster.crs import pyproj_crs

    axes = pyproj_crs(code).axis_info
    return 1.0 / (axes[0].unit_conversion_factor if axes else 1.0)


def shape_in_frame(geometry: Geometry, crs: str | Projection, geodesic: bool, tol_m: float) -> Any:
    """The geometry's shape in ``crs`` coordinates with edges of the given kind."""
    target = canonical_frame(crs)
    if _base(geometry.crs) == _base(target) and geometry.geodesic == geodesic:
        return geometry.shape
    code, affine = _base(target)
    shape = shape_in(
        geometry,
        code,
        tolerance=tol_m * units_per_metre(code),
        geodesic_target=geodesic,
    )
    if affine is not None:
        import shapely

        if not shape.is_empty:
            shape = shapely.transform(shape, lambda xy: pixel_coordinates(xy, affine))
    return shape


def lonlat_shape(geometry: Geometry, tol_m: float | None = None) -> Any:
    """Longitude/latitude shape with straight lon/lat edges (geodesics densified).

    ``tol_m`` is the densification tolerance in metres; by default the measure tolerance.
    """
    if tol_m is None:
        tol_m = _measure_tolerance(geometry)
    return shape_in_frame(geometry, "EPSG:4326", False, tol_m)


def lonlat_vertices(geometry: Geometry) -> Any:
    """Longitude/latitude shape of a geodesic geometry (vertices moved, edges stay geodesic)."""
    return shape_in_frame(geometry, "EPSG:4326", True, DEFAULT_MAX_ERROR_M)


def _measure_tolerance(geometry: Geometry) -> float:
    """Densification tolerance (m) for measures: a tiny fraction of the geometry's size."""
    rough = shape_in_frame(geometry, "EPSG:4326", False, 1000.0)
    if rough.is_empty:
        return DEFAULT_MAX_ERROR_M
    x0, y0, x1, y1 = rough.bounds
    size_m = max(x1 - x0, y1 - y0) * METERS_PER_DEGREE
    return max(size_m * _MEASURE_TOLERANCE_REL, 1e-9)


# --- measures ------------------------------------------------------------------------------


def single_parts(shape: Any, kinds: tuple[str, ...]) -> list[Any]:
    """Single parts of the given types (multi-geometries and collections unpacked)."""
    import shapely

    out = []
    for g in shapely.get_parts(shape):
        if g.geom_type in ("MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"):
            out.extend(single_parts(g, kinds))
        elif g.geom_type in kinds and not g.is_empty:
            out.append(g)
    return out


def polygon_rings(poly: Any) -> list[Any]:
    """The exterior and interior rings of a shapely polygon."""
    return [poly.exterior, *poly.interiors]


def coords_xy(seq: Any) -> np.ndarray:
    """The x, y coordinates of a shapely coordinate sequence as an (n, 2) array."""
    return np.asarray(seq.coords, dtype=float)[:, :2]


def geometry_area(geometry: Geometry, proj: Projection | None = None) -> float:
    """The area of the polygonal parts: m² on WGS84, or squared units of ``proj``."""
    if proj is not None:
        shape = shape_in_frame(geometry, proj, False, _measure_tolerance(geometry))
        return float(sum(p.area for p in single_parts(shape, ("Polygon",))))
    if geometry.geodesic:
        import pyproj

        geod = pyproj.Geod(ellps="WGS84")
        total = 0.0
        for poly in single_parts(lonlat_vertices(geometry), ("Polygon",)):
            areas = [
                abs(geod.polygon_area_perimeter(*coords_xy(r).T)[0]) for r in polygon_rings(poly)
            ]
            total += areas[0] - sum(areas[1:])
        return total
    total = 0.0
    for poly in single_parts(lonlat_shape(geometry), ("Polygon",)):
        areas = [abs(lonlat_ring_area(*coords_xy(r).T)) for r in polygon_rings(poly)]
        total += areas[0] - sum(areas[1:])
    return total


def _lonlat_path_length(xy: np.ndarray) -> float:
    """Length (m) on WGS84 of a path with straight lon/lat edges (Gauss–Legendre)."""
    if len(xy) < 2:
        return 0.0
    lon, lat = xy[:, 0], xy[:, 1]
    dlon = np.diff(lon)
    dlat = np.diff(lat)
    n = np.maximum(np.ceil(np.maximum(np.abs(dlat), np.abs(dlon)) / 1.0), 1).astype(np.int64)
    edge = np.repeat(np.arange(n.size), n)
    k = np.arange(edge.size) - np.repeat(np.cumsum(n) - n, n)
    t0 = k / n[edge]
    dt = 1.0 / n[edge]
    x, w = np.polynomial.legendre.leggauss(6)
    t = t0[:, None] + dt[:, None] * (x + 1) / 2
    phi = np.radians(lat[edge][:, None] + dlat[edge][:, None] * t)
    s2 = np.sin(phi) ** 2
    m = _WGS84_A * (1 - _E2) / (1 - _E2 * s2) ** 1.5
    nn = _WGS84_A / np.sqrt(1 - _E2 * s2)
    speed = np.hypot(
        m * np.radians(dlat[edge])[:, None], nn * np.cos(phi) * np.radians(dlon[edge])[:, None]
    )
    return float(np.sum(speed @ (w / 2) * dt))


def _lengths(geometry: Geometry, paths_of: Any, proj: Projection | None) -> float:
    if proj is not None:
        shape = shape_in_frame(geometry, proj, False, _measure_tolerance(geometry))
        return float(
            sum(np.sum(np.hypot(*np.diff(coords_xy(s), axis=0).T)) for s in paths_of(shape))
        )
    if geometry.geodesic:
        import pyproj

        geod = pyproj.Geod(ellps="WGS84")
        paths = paths_of(lonlat_vertices(geometry))
        return float(sum(geod.line_length(*coords_xy(s).T) for s in paths if len(s.coords) > 1))
    return float(sum(_lonlat_path_length(coords_xy(s)) for s in paths_of(lonlat_shape(geometry))))


def _line_paths(shape: Any) -> list[Any]:
    return single_parts(shape, ("LineString", "LinearRing"))


def _ring_paths(shape: Any) -> list[Any]:
    return [r for poly in single_parts(shape, ("Polygon",)) for r in polygon_rings(poly)]


def geometry_length(geometry: Geometry, proj: Projection | None = None) -> float:
    """The length of the linear parts (m on WGS84, or units of ``proj``)."""
    return _lengths(geometry, _line_paths, proj)


def geometry_perimeter(geometry: Geometry, proj: Projection | None = None) -> float:
    """The perimeter of the polygonal parts (m on WGS84, or units of ``proj``)."""
    return _lengths(geometry, _ring_paths, proj)
