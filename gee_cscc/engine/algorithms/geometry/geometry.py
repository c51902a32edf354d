"""``Geometry.*`` algorithms: measuring, deriving and combining geometries.

A geometry is a :class:`~gee_cscc.engine.core.values.Geometry`: a shapely shape in a CRS (a code,
or a :class:`~gee_cscc.engine.raster.grid.Projection` whose coordinates are in its pixel units) and
Earth Engine's ``geodesic`` flag (edges are geodesics, or straight lines in the CRS).
``GeometryConstructors.*`` build them (:mod:`.geometry_constructors`).

Measures are on the WGS84 ellipsoid, in m² and m: geodesic edges with ``pyproj.Geod``
(Karney's algorithms), edges straight in longitude/latitude exactly by Green's theorem
(:mod:`gee_cscc.engine.area`), edges straight in a projected CRS through a densified copy
(every piece within 1e-11 of the geometry's size from the true edge). With a ``proj``
argument, measures and operations are planar in that projection's units (see
:mod:`.geodesy`).

Combining operations (``intersection``, ``union``, ``intersects`` …) run on longitude/latitude
with every edge densified within the error margin (1 cm when none is given), or planar in
``proj``. ``centroid`` of a geodesic geometry is its centroid on the sphere (the normalized
mean of unit vectors over the highest-dimension parts), of a planar one the planar centroid in
its own CRS. ``buffer`` and ``simplify`` work in metres in an azimuthal equidistant projection
centred on the geometry; a geometry too large for the requested error margin there is refused
(see :mod:`._geometry_ops`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...core.arguments import invalid_type, required
from ...core.registry import algorithm
from ...core.values import Feature, Geometry
from ...errors import EEError
from ...raster.grid import Projection
from ..error_margin import ErrorMargin
from .geodesy import (
    DEFAULT_MAX_ERROR_M,
    IDENTITY_TRANSFORM,
    canonical_frame,
    geometry_area,
    geometry_length,
    geometry_perimeter,
    lonlat_shape,
    shape_in_frame,
)
from .operations import (
    bounds_of,
    buffer_of,
    centroid_of,
    dissolve_of,
    distance_between,
    made_valid,
    simplify_of,
    transform_of,
)

__all__ = [
    "as_geometry",
    "as_projection_arg",
    "margin_metres",
    "tolerance_metres",
    "geometry_area",
    "geometry_length",
    "geometry_perimeter",
]


# --- argument coercion ---------------------------------------------------------------------


def as_geometry(value: Any, algo: str, arg: str = "geometry") -> Geometry:
    """A Geometry argument (a Feature gives its geometry)."""
    if isinstance(value, Geometry):
        return value
    if isinstance(value, Feature):
        if value.geometry is None:
            raise EEError(f"{algo}: the feature has no geometry.")
        return value.geometry
    raise invalid_type(algo, arg, "Geometry", value)


def as_projection_arg(value: Any, algo: str, arg: str = "proj") -> Projection | None:
    """A Projection argument: a Projection, a CRS code, a Projection dictionary, or None."""
    if value is None or isinstance(value, Projection):
        return value
    if isinstance(value, str):
        return Projection(value)
    if isinstance(value, dict) and "crs" in value:
        return Projection(value["crs"], tuple(value.get("transform") or IDENTITY_TRANSFORM))
    raise invalid_type(algo, arg, "Projection", value)


def margin_metres(value: Any, algo: str, arg: str = "maxError") -> float | None:
    """An ErrorMargin argument's value (metres, or projected units), None when infinite/null."""
    if value is None:
        return None
    if isinstance(value, ErrorMargin):
        unit, v = value.unit, value.value
    elif isinstance(value, dict) and value.get("type") == "ErrorMargin":
        unit, v = value.get("unit", "meters"), value.get("value")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        unit, v = "meters", value
    else:
        raise invalid_type(algo, arg, "ErrorMargin", value)
    if unit == "infinite" or v is None:
        return None
    v = float(v)
    if not math.isfinite(v) or v < 0:
        raise EEError(f"{algo}: the error margin must be a finite number ≥ 0, got {v}.")
    return v


def tolerance_metres(max_error: Any, algo: str) -> float:
    """The ``maxError`` argument in metres, the default tolerance when null or 0."""
    m = margin_metres(max_error, algo)
    return DEFAULT_MAX_ERROR_M if m is None or m == 0 else m


# --- measures ------------------------------------------------------------------------------


@algorithm("Geometry.area")
def area(geometry: Any, maxError: Any = None, proj: Any = None) -> float:
    algo = "Geometry.area"
    margin_metres(maxError, algo)
    return geometry_area(as_geometry(geometry, algo), as_projection_arg(proj, algo))


@algorithm("Geometry.length")
def length(geometry: Any, maxError: Any = None, proj: Any = None) -> float:
    algo = "Geometry.length"
    margin_metres(maxError, algo)
    return geometry_length(as_geometry(geometry, algo), as_projection_arg(proj, algo))


@algorithm("Geometry.perimeter")
def perimeter(geometry: Any, maxError: Any = None, proj: Any = None) -> float:
    algo = "Geometry.perimeter"
    margin_metres(maxError, algo)
    return geometry_perimeter(as_geometry(geometry, algo), as_projection_arg(proj, algo))


# --- derived geometries --------------------------------------------------------------------


@algorithm("Geometry.bounds")
def bounds(geometry: Any, maxError: Any = None, proj: Any = None) -> Geometry:
    algo = "Geometry.bounds"
    return bounds_of(
        as_geometry(geometry, algo), as_projection_arg(proj, algo), tolerance_metres(maxError, algo)
    )


@algorithm("Geometry.centroid")
def centroid(geometry: Any, maxError: Any = None, proj: Any = None) -> Geometry:
    algo = "Geometry.centroid"
    margin_metres(maxError, algo)
    return centroid_of(as_geometry(geometry, algo), as_projection_arg(proj, algo))


@algorithm("Geometry.buffer")
def buffer(
    geometry: Any,
    distance: Any,
    maxError: Any = None,
    proj: Any = None,
) -> Geometry:
    algo = "Geometry.buffer"
    return buffer_of(
        as_geometry(geometry, algo),
        float(distance),
        margin_metres(maxError, algo),
        as_projection_arg(proj, algo),
    )


@algorithm("Geometry.simplify")
def simplify(geometry: Any, maxError: Any, proj: Any = None) -> Geometry:
    algo = "Geometry.simplify"
    err = margin_metres(maxError, algo)
    if err is None:
        raise required(algo, "maxError")
    return simplify_of(as_geometry(geometry, algo), err, as_projection_arg(proj, algo))


@algorithm("Geometry.transform")
def transform(
    geometry: Any,
    proj: Any = None,
    maxError: Any = None,
    geodesic: Any = None,
) -> Geometry:
    algo = "Geometry.transform"
    target = as_projection_arg(proj, algo) or Projection("EPSG:4326")
    return transform_of(
        as_geometry(geometry, algo), target, geodesic, margin_metres(maxError, algo)
    )


# --- inspection ----------------------------------------------------------------------------


def _coords(shape: Any) -> Any:
    import shapely.geometry as sg

    if shape.geom_type == "GeometryCollection":
        return [_coords(g) for g in shape.geoms]
    return _lists(sg.mapping(shape)["coordinates"])


def _lists(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        return [_lists(v) for v in obj]
    return float(obj) if isinstance(obj, (np.floating,)) else obj


@algorithm("Geometry.coordinates")
def coordinates(geometry: Any) -> list:
    return _coords(as_geometry(geometry, "Geometry.coordinates").shape)


@algorithm("Geometry.type")
def geometry_type(geometry: Any) -> str:
    return as_geometry(geometry, "Geometry.type").shape.geom_type


@algorithm("Geometry.geometries")
def geometries(geometry: Any) -> list[Geometry]:
    import shapely

    g = as_geometry(geometry, "Geometry.geometries")
    if g.shape.geom_type in ("MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"):
        return [Geometry(s, g.crs, geodesic=g.geodesic) for s in shapely.get_parts(g.shape)]
    return [g]


@algorithm("Geometry.projection")
def geometry_projection(geometry: Any) -> Projection:
    crs = as_geometry(geometry, "Geometry.projection").crs
    return crs if isinstance(crs, Projection) else Projection(crs)


@algorithm("Geometry.edgesAreGeodesics", "Geometry.geodesic")
def edges_are_geodesics(geometry: Any) -> bool:
    return bool(as_geometry(geometry, "Geometry.geodesic").geodesic)


@algorithm("Geometry.isUnbounded")
def is_unbounded(geometry: Any) -> bool:
    as_geometry(geometry, "Geometry.isUnbounded")
    return False


# --- two geometries --------------------------------------------------------------------------


def _pair(
    left: Any, right: Any, max_error: Any, proj: Any, algo: str
) -> tuple[Any, Any, str | Projection, bool]:
    """Both operands in one frame: ``proj`` (planar) or lon/lat with edges densified."""
    a, b = as_geometry(left, algo, "left"), as_geometry(right, algo, "right")
    tol = tolerance_metres(max_error, algo)
    p = as_projection_arg(proj, algo)
    if p is not None:
        return (
            shape_in_frame(a, p, False, tol),
            shape_in_frame(b, p, False, tol),
            canonical_frame(p),
            False,
        )
    geodesic = a.geodesic and b.geodesic
    return lonlat_shape(a, tol), lonlat_shape(b, tol), "EPSG:4326", geodesic


def _predicate(name: str, method: str) -> None:
    @algorithm(f"Geometry.{name}")
    def impl(left: Any, right: Any, maxError: Any = None, proj: Any = None) -> bool:
        a, b, _, _ = _pair(left, right, maxError, proj, f"Geometry.{name}")
        return bool(getattr(made_valid(a), method)(made_valid(b)))


for _name, _method in (
    ("intersects", "intersects"),
    ("disjoint", "disjoint"),
    ("contains", "contains"),
    ("containedIn", "within"),
):
    _predicate(_name, _method)


def _combine(name: str, method: str) -> None:
    @algorithm(f"Geometry.{name}")
    def impl(left: Any, right: Any, maxError: Any = None, proj: Any = None) -> Geometry:
        a, b, frame, geodesic = _pair(left, right, maxError, proj, f"Geometry.{name}")
        return Geometry(getattr(made_valid(a), method)(made_valid(b)), frame, geodesic=geodesic)


for _name, _method in (
    ("intersection", "intersection"),
    ("union", "union"),
    ("difference", "difference"),
    ("symmetricDifference", "symmetric_difference"),
):
    _combine(_name, _method)


@algorithm("Geometry.dissolve")
def dissolve(geometry: Any, maxError: Any = None, proj: Any = None) -> Geometry:
    algo = "Geometry.dissolve"
    return dissolve_of(
        as_geometry(geometry, algo), as_projection_arg(proj, algo), tolerance_metres(maxError, algo)
    )


@algorithm("Geometry.distance")
def distance(
    left: Any,
    right: Any,
    maxError: Any = None,
    proj: Any = None,
    spherical: Any = False,
) -> float:
    algo = "Geometry.distance"
    return distance_between(
        as_geometry(left, algo, "left"),
        as_geometry(right, algo, "right"),
        as_projection_arg(proj, algo),
        spherical,
        tolerance_metres(maxError, algo),
    )
