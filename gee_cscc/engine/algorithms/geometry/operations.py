"""Geometries derived from others, for the ``Geometry.*`` and ``Feature.*`` algorithms.

Bounds, centroids, buffers, simplified copies, transformed copies, dissolved parts and
distances; what each computes (on the sphere, in an azimuthal equidistant projection, or
planar in a projection) is told in the notes of :mod:`.geometry`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...core.values import Geometry
from ...errors import EEError
from ...raster.grid import Projection
from .geodesy import (
    DEFAULT_MAX_ERROR_M,
    canonical_frame,
    coords_xy,
    is_geographic_frame,
    lonlat_shape,
    lonlat_vertices,
    polygon_rings,
    shape_in_frame,
    single_parts,
    units_per_metre,
)

__all__ = [
    "bounds_of",
    "buffer_of",
    "centroid_of",
    "dissolve_of",
    "distance_between",
    "simplify_of",
    "transform_of",
]


# --- bounds and centroids ------------------------------------------------------------------


def _target(proj: Projection | None) -> str | Projection:
    return canonical_frame(proj) if proj is not None else "EPSG:4326"


def bounds_of(geometry: Geometry, proj: Projection | None = None, tol_m: float = 0.01) -> Geometry:
    """The bounding rectangle (planar) in ``proj`` or EPSG:4326."""
    import shapely.geometry as sg

    target = _target(proj)
    shape = shape_in_frame(geometry, target, False, tol_m)
    if shape.is_empty:
        return Geometry(sg.Polygon(), target, geodesic=False)
    x0, y0, x1, y1 = shape.bounds
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return Geometry(sg.Polygon(ring), target, geodesic=False)


def _highest(shape: Any) -> tuple[str, list[Any]]:
    polys = [p for p in single_parts(shape, ("Polygon",)) if p.area > 0]
    if polys:
        return "polygon", polys
    lines = [g for g in single_parts(shape, ("LineString", "LinearRing")) if g.length > 0]
    if lines:
        return "line", lines
    return "point", single_parts(shape, ("Point",))


def _unit_vectors(xy: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(xy[:, 0]), np.radians(xy[:, 1])
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def _spherical_centroid(shape: Any) -> tuple[float, float]:
    """Centroid on the sphere of lon/lat parts with geodesic edges (S2's definition)."""
    import shapely

    kind, parts = _highest(shape)
    total = np.zeros(3)
    if kind == "polygon":
        for poly in parts:
            poly = shapely.orient_polygons(poly)
            for ring in polygon_rings(poly):
                v = _unit_vectors(coords_xy(ring))
                cross = np.cross(v[:-1], v[1:])
                norm = np.linalg.norm(cross, axis=1)
                angle = np.arctan2(norm, np.einsum("ij,ij->i", v[:-1], v[1:]))
                ok = norm > 0
                total += np.sum(cross[ok] / norm[ok, None] * angle[ok, None], axis=0)
    elif kind == "line":
        for line in parts:
            v = _unit_vectors(coords_xy(line))
            mid = v[:-1] + v[1:]
            norm = np.linalg.norm(mid, axis=1)
            half = np.arctan2(np.linalg.norm(np.cross(v[:-1], v[1:]), axis=1), norm)
            ok = norm > 0
            total += np.sum(mid[ok] / norm[ok, None] * (2 * np.sin(half[ok]))[:, None], axis=0)
    else:
        pts = [np.asarray(p.coords, dtype=float)[:, :2] for p in single_parts(shape, ("Point",))]
        if pts:
            total = _unit_vectors(np.concatenate(pts)).sum(axis=0)
    norm = np.linalg.norm(total)
    if norm == 0 or not np.isfinite(norm):
        raise EEError("Geometry.centroid: the centroid of this geometry is undefined.")
    x, y, z = total / norm
    return math.degrees(math.atan2(y, x)), math.degrees(math.atan2(z, math.hypot(x, y)))


def centroid_of(geometry: Geometry, proj: Projection | None = None) -> Geometry:
    """A point at the centre of the highest-dimension parts (see the module notes)."""
    import shapely.geometry as sg

    if proj is not None:
        shape = shape_in_frame(geometry, proj, False, DEFAULT_MAX_ERROR_M)
        return Geometry(_planar_centroid(shape), canonical_frame(proj), geodesic=False)
    if geometry.shape.is_empty:
        return Geometry(sg.Point(), "EPSG:4326", geodesic=geometry.geodesic)
    if geometry.geodesic:
        lon, lat = _spherical_centroid(lonlat_vertices(geometry))
        return Geometry(sg.Point(lon, lat), "EPSG:4326", geodesic=True)
    local = Geometry(_planar_centroid(geometry.shape), geometry.crs, geodesic=False)
    pt = shape_in_frame(local, "EPSG:4326", False, DEFAULT_MAX_ERROR_M)
    return Geometry(pt, "EPSG:4326", geodesic=False)


def _planar_centroid(shape: Any) -> Any:
    """The planar centroid of the highest-dimension parts of a shape."""
    import shapely.geometry as sg

    kind, parts = _highest(shape)
    if not parts:
        return sg.Point()
    if kind == "polygon":
        return sg.MultiPolygon(parts).centroid
    if kind == "line":
        return sg.MultiLineString([list(p.coords) for p in parts]).centroid
    return sg.MultiPoint([p.coords[0] for p in parts]).centroid


# --- buffer and simplify -------------------------------------------------------------------


def _aeqd(geometry: Geometry) -> tuple[str, float]:
    """A WGS84 azimuthal equidistant CRS centred on the geometry, and its largest radius (m)."""
    import pyproj

    ll = lonlat_shape(geometry, DEFAULT_MAX_ERROR_M)
    x0, y0, x1, y1 = ll.bounds
    lon0, lat0 = (x0 + x1) / 2, (y0 + y1) / 2
    crs = f"+proj=aeqd +lat_0={lat0!r} +lon_0={lon0!r} +ellps=WGS84 +units=m +no_defs"
    xy = np.concatenate(
        [np.asarray(g.coords)[:, :2] for g in _all_sequences(ll)] or [np.zeros((0, 2))]
    )
    if xy.size:
        geod = pyproj.Geod(ellps="WGS84")
        _, _, dist = geod.inv(np.full(len(xy), lon0), np.full(len(xy), lat0), xy[:, 0], xy[:, 1])
        radius = float(np.max(dist))
    else:
        radius = 0.0
    return crs, radius


def _all_sequences(shape: Any) -> list[Any]:
    out = []
    for g in single_parts(shape, ("Point", "LineString", "LinearRing", "Polygon")):
        out.extend(polygon_rings(g) if g.geom_type == "Polygon" else [g])
    return out


def _aeqd_distortion(radius_m: float) -> float:
    """Largest relative scale error of an azimuthal equidistant map within ``radius_m``."""
    x = radius_m / 6371008.8
    return 0.0 if x == 0 else x / math.sin(min(x, math.pi / 2)) - 1.0


def buffer_of(
    geometry: Geometry, distance: float, max_error: float | None, proj: Projection | None
) -> Geometry:
    """The geometry grown (or shrunk, for a negative ``distance``) by ``distance``."""
    algo = "Geometry.buffer"
    err = abs(distance) * 0.01 if max_error is None or max_error == 0 else max_error
    if proj is not None:
        shape = shape_in_frame(geometry, proj, False, err / 10 / max(units_per_metre(proj), 1e-300))
        out = shape.buffer(distance, quad_segs=_quad_segs(abs(distance), err / 2))
        return Geometry(out, canonical_frame(proj), geodesic=False)
    if distance == 0:
        return geometry
    crs, radius = _aeqd(geometry)
    scale_error = abs(distance) * _aeqd_distortion(radius + abs(distance))
    if err > 0 and scale_error > err / 2:
        raise EEError(
            f"{algo}: the geometry spans {radius / 1000:.0f} km from its centre; buffering it by "
            f"{distance} m within maxError={err} m is beyond the local engine (its azimuthal "
            "projection would distort the distance). Buffer smaller parts or give a projection."
        )
    local = shape_in_frame(geometry, crs, False, max(err / 10, 1e-6))
    out = local.buffer(distance, quad_segs=_quad_segs(abs(distance), err / 2))
    back = Geometry(out, crs, geodesic=False)
    geodesic = True if geometry.shape.geom_type in ("Point", "MultiPoint") else geometry.geodesic
    shape = shape_in_frame(back, "EPSG:4326", geodesic, max(err / 10, 1e-6))
    return Geometry(shape, "EPSG:4326", geodesic=geodesic)


def _quad_segs(radius: float, err: float) -> int:
    """Segments per quarter circle so the polygon is within ``err`` of the circle."""
    if radius <= 0 or err <= 0 or err >= radius:
        return 8
    step = 2 * math.acos(1 - err / radius)
    return int(min(max(math.ceil((math.pi / 2) / step), 1), 4096))


def simplify_of(geometry: Geometry, max_error: float, proj: Projection | None) -> Geometry:
    """The geometry simplified (Douglas–Peucker, topology kept) within ``max_error``."""
    if proj is not None:
        shape = shape_in_frame(geometry, proj, False, max_error / 10 or DEFAULT_MAX_ERROR_M)
        return Geometry(
            shape.simplify(max_error, preserve_topology=True), canonical_frame(proj), geodesic=False
        )
    crs, radius = _aeqd(geometry)
    tol = max_error / (1.0 + _aeqd_distortion(radius))
    local = shape_in_frame(geometry, crs, False, max(tol / 10, 1e-6))
    out = Geometry(local.simplify(tol, preserve_topology=True), crs, geodesic=False)
    shape = shape_in_frame(out, geometry.crs, geometry.geodesic, max(tol / 10, 1e-6))
    return Geometry(
        _snap(shape, geometry.shape), canonical_frame(geometry.crs), geodesic=geometry.geodesic
    )


def _snap(shape: Any, original: Any) -> Any:
    """Put back the exact coordinates of kept vertices (a projection round trip moves them)."""
    import shapely
    from scipy.spatial import cKDTree

    ref = shapely.get_coordinates(original)
    if shape.is_empty or not len(ref):
        return shape
    x0, y0, x1, y1 = original.bounds
    tree = cKDTree(ref)
    limit = 1e-9 * max(x1 - x0, y1 - y0, 1e-12)

    def snap(xy: np.ndarray) -> np.ndarray:
        dist, idx = tree.query(xy)
        return np.where((dist <= limit)[:, None], ref[idx], xy)

    return shapely.transform(shape, snap)


# --- transform, dissolve, distance ---------------------------------------------------------


def transform_of(
    geometry: Geometry, proj: Projection, geodesic: bool | None, max_error: float | None
) -> Geometry:
    """The geometry in ``proj`` with edges of the requested kind."""
    geo = is_geographic_frame(proj) if geodesic is None else bool(geodesic)
    tol = DEFAULT_MAX_ERROR_M if not max_error else max_error
    return Geometry(shape_in_frame(geometry, proj, geo, tol), canonical_frame(proj), geodesic=geo)


def made_valid(shape: Any) -> Any:
    """A shapely shape made valid (unchanged when it already is)."""
    import shapely

    return shape if shape.is_valid else shapely.make_valid(shape)


def dissolve_of(geometry: Geometry, proj: Projection | None, tol_m: float) -> Geometry:
    """The union of a multi-geometry's parts (single geometries are returned untouched)."""
    import shapely

    if geometry.shape.geom_type not in (
        "MultiPolygon",
        "MultiLineString",
        "MultiPoint",
        "GeometryCollection",
    ):
        return geometry
    if proj is not None:
        shape, frame, geo = (
            shape_in_frame(geometry, proj, False, tol_m),
            canonical_frame(proj),
            False,
        )
    elif geometry.geodesic:
        shape, frame, geo = lonlat_shape(geometry, tol_m), "EPSG:4326", True
    else:
        shape, frame, geo = geometry.shape, geometry.crs, False
    parts = [made_valid(g) for g in shapely.get_parts(shape)]
    return Geometry(shapely.union_all(parts), frame, geodesic=geo)


def distance_between(
    left: Geometry, right: Geometry, proj: Projection | None, spherical: bool, tol_m: float
) -> float:
    """The minimum distance: planar in ``proj``, or on WGS84 between point sets."""
    algo = "Geometry.distance"
    if proj is not None:
        a = shape_in_frame(left, proj, False, tol_m)
        b = shape_in_frame(right, proj, False, tol_m)
        return float(made_valid(a).distance(made_valid(b)))
    if spherical:
        raise EEError(f"{algo}: spherical=true is not implemented by the local engine.")
    a, b = lonlat_shape(left, tol_m), lonlat_shape(right, tol_m)
    if made_valid(a).intersects(made_valid(b)):
        return 0.0
    pa, pb = single_parts(a, ("Point",)), single_parts(b, ("Point",))
    if len(pa) != len(single_parts(a, ("Point", "LineString", "LinearRing", "Polygon"))) or len(
        pb
    ) != len(single_parts(b, ("Point", "LineString", "LinearRing", "Polygon"))):
        raise EEError(
            f"{algo}: the local engine measures distances on the ellipsoid between points "
            "only; give a projection (proj) for lines and polygons."
        )
    import pyproj

    geod = pyproj.Geod(ellps="WGS84")
    xa = np.array([p.coords[0][:2] for p in pa])
    xb = np.array([p.coords[0][:2] for p in pb])
    ia, ib = np.meshgrid(np.arange(len(xa)), np.arange(len(xb)), indexing="ij")
    _, _, dist = geod.inv(
        xa[ia.ravel(), 0], xa[ia.ravel(), 1], xb[ib.ravel(), 0], xb[ib.ravel(), 1]
    )
    return float(np.min(dist))
