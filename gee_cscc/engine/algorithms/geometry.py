"""``GeometryConstructors.*`` and ``Geometry.*``: building, measuring and combining geometries.

A geometry is a :class:`~gee_cscc.engine.values.Geometry`: a shapely shape in a CRS (a code,
or a :class:`~gee_cscc.engine.grid.Projection` whose coordinates are in its pixel units) and
Earth Engine's ``geodesic`` flag (edges are geodesics, or straight lines in the CRS).

Constructors take coordinates the ways the ``ee`` client sends them: nested GeoJSON lists,
flat ``[x1, y1, x2, y2, …]`` lists, lists of ``ee.Geometry`` values (points, rings,
polygons), a CRS code or a Projection. Without a CRS numbers are EPSG:4326; without a
``geodesic`` flag edges are geodesics in a geographic CRS and straight in a projected one (or
take the state of the input geometries). Polygons follow the even–odd rule (``evenOdd``,
the default); the left-inside rule is supported for the orientation that bounds a finite
region (shells counter-clockwise, holes clockwise) and refused otherwise.

Measures are on the WGS84 ellipsoid, in m² and m: geodesic edges with ``pyproj.Geod``
(Karney's algorithms), edges straight in longitude/latitude exactly by Green's theorem
(:mod:`gee_cscc.engine.area`), edges straight in a projected CRS through a densified copy
(every piece within 1e-11 of the geometry's size from the true edge). With a ``proj``
argument, measures and operations are planar in that projection's units.

Combining operations (``intersection``, ``union``, ``intersects`` …) run on longitude/latitude
with every edge densified within the error margin (1 cm when none is given), or planar in
``proj``. ``centroid`` of a geodesic geometry is its centroid on the sphere (the normalized
mean of unit vectors over the highest-dimension parts), of a planar one the planar centroid in
its own CRS. ``buffer`` and ``simplify`` work in metres in an azimuthal equidistant projection
centred on the geometry; a geometry too large for the requested error margin there is refused.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..area import lonlat_ring_area
from ..errors import EEError
from ..grid import METERS_PER_DEGREE, Projection
from ..rasterize import pixel_coordinates, shape_in
from ..registry import algorithm
from ..values import Feature, Geometry
from .misc import ErrorMargin, as_number, invalid_type, required

__all__ = [
    "as_geometry",
    "as_projection_arg",
    "margin_metres",
    "geometry_area",
    "geometry_length",
    "geometry_perimeter",
]

_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
#: Densification tolerance when no error margin is given (m).
DEFAULT_MAX_ERROR_M = 0.01
#: Densification tolerance of measures, relative to the geometry's size. A chord within t of
#: a curved edge misplaces about (2/3)·t per metre of boundary, so areas stay within ~1e-10.
_MEASURE_TOLERANCE_REL = 1e-11
_WGS84_A = 6378137.0
_WGS84_F = 1 / 298.257223563
_E2 = _WGS84_F * (2 - _WGS84_F)


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
        return Projection(value["crs"], tuple(value.get("transform") or _IDENTITY))
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


def _frame(crs: str | Projection) -> str | Projection:
    """A geometry CRS in canonical form: a code, or a Projection with a non-identity affine."""
    if isinstance(crs, Projection):
        return crs.crs if crs.transform == _IDENTITY else crs
    return Projection(crs).crs


def _base(crs: str | Projection) -> tuple[str, tuple[float, ...] | None]:
    crs = _frame(crs)
    if isinstance(crs, Projection):
        return crs.crs, crs.transform
    return crs, None


def _is_geographic(crs: str | Projection) -> bool:
    return Projection(_base(crs)[0]).is_geographic


def _units_per_metre(crs: str | Projection) -> float:
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
    import pyproj

    axes = pyproj.CRS.from_user_input(code).axis_info
    return 1.0 / (axes[0].unit_conversion_factor if axes else 1.0)


def _in_frame(geometry: Geometry, crs: str | Projection, geodesic: bool, tol_m: float) -> Any:
    """The geometry's shape in ``crs`` coordinates with edges of the given kind."""
    target = _frame(crs)
    if _base(geometry.crs) == _base(target) and geometry.geodesic == geodesic:
        return geometry.shape
    code, affine = _base(target)
    shape = shape_in(
        geometry,
        code,
        tolerance=tol_m * _units_per_metre(code),
        geodesic_target=geodesic,
    )
    if affine is not None:
        import shapely

        if not shape.is_empty:
            shape = shapely.transform(shape, lambda xy: pixel_coordinates(xy, affine))
    return shape


def _lonlat(geometry: Geometry, tol_m: float | None = None) -> Any:
    """Longitude/latitude shape with straight lon/lat edges (geodesics densified).

    ``tol_m`` is the densification tolerance in metres; by default the measure tolerance.
    """
    if tol_m is None:
        tol_m = _measure_tolerance(geometry)
    return _in_frame(geometry, "EPSG:4326", False, tol_m)


def _lonlat_vertices(geometry: Geometry) -> Any:
    """Longitude/latitude shape of a geodesic geometry (vertices moved, edges stay geodesic)."""
    return _in_frame(geometry, "EPSG:4326", True, DEFAULT_MAX_ERROR_M)


def _measure_tolerance(geometry: Geometry) -> float:
    """Densification tolerance (m) for measures: a tiny fraction of the geometry's size."""
    rough = _in_frame(geometry, "EPSG:4326", False, 1000.0)
    if rough.is_empty:
        return DEFAULT_MAX_ERROR_M
    x0, y0, x1, y1 = rough.bounds
    size_m = max(x1 - x0, y1 - y0) * METERS_PER_DEGREE
    return max(size_m * _MEASURE_TOLERANCE_REL, 1e-9)


# --- constructors --------------------------------------------------------------------------


class _Parse:
    """Coordinates of one constructor call, gathered in the result's CRS."""

    def __init__(self, algo: str, crs: Any, coordinates: Any, geodesic: Any = None) -> None:
        self.algo = algo
        proj = as_projection_arg(crs, algo, "crs")
        inputs = list(_geometries_in(coordinates))
        if proj is not None:
            self.crs: str | Projection = _frame(proj)
        elif inputs:
            self.crs = _frame(inputs[0].crs)
        else:
            self.crs = "EPSG:4326"
        self.inputs = inputs
        self.geo = self._geodesic(geodesic)

    def fail(self, detail: str) -> EEError:
        return EEError(f"{self.algo}: Invalid coordinates: {detail}")

    def _geodesic(self, geodesic: Any) -> bool:
        """The result's edge kind: as asked, else the inputs', else by the CRS."""
        if geodesic is not None:
            return bool(geodesic)
        # The inputs' state: the first input with edges (a point's flag means nothing).
        with_edges = [g for g in self.inputs if g.shape.geom_type not in ("Point", "MultiPoint")]
        if with_edges or self.inputs:
            return bool((with_edges or self.inputs)[0].geodesic)
        return _is_geographic(self.crs)

    def shape_of(self, geometry: Geometry, geodesic: bool) -> Any:
        return _in_frame(geometry, self.crs, geodesic, DEFAULT_MAX_ERROR_M)

    def number(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise self.fail(f"expected a number, got {value!r}.")
        v = float(value)
        if not math.isfinite(v):
            raise self.fail(f"coordinates must be finite, got {v}.")
        return v

    def point(self, value: Any) -> tuple[float, float]:
        if isinstance(value, Geometry):
            shape = self.shape_of(value, False)
            if shape.geom_type != "Point" or shape.is_empty:
                raise self.fail(f"expected a Point, got a {shape.geom_type}.")
            return (shape.x, shape.y)
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise self.fail(f"expected an [x, y] pair, got {_short(value)}.")
        x, y = self.number(value[0]), self.number(value[1])
        if _is_geographic(self.crs) and not isinstance(self.crs, Projection) and abs(y) > 90:
            raise self.fail(f"latitude {y} is outside [-90, 90].")
        return (x, y)

    def points(self, value: Any, what: str) -> list[tuple[float, float]]:
        """A list of points: ``[x, y]`` pairs, Point geometries, or flat numbers."""
        if isinstance(value, Geometry):
            shape = self.shape_of(value, self.geo)
            if shape.geom_type in ("LineString", "LinearRing"):
                return [tuple(c[:2]) for c in shape.coords]
            raise self.fail(f"expected a list of points for a {what}, got a {shape.geom_type}.")
        if not isinstance(value, (list, tuple)):
            raise self.fail(f"expected a list of points for a {what}, got {_short(value)}.")
        if value and all(_is_scalar(v) for v in value):
            if len(value) % 2:
                raise self.fail(
                    f"a flat list of coordinates needs an even count of numbers, got {len(value)}."
                )
            return [self.point(value[i : i + 2]) for i in range(0, len(value), 2)]
        return [self.point(v) for v in value]

    def ring(self, value: Any) -> list[tuple[float, float]]:
        pts = self.points(value, "LinearRing")
        if pts and pts[0] != pts[-1]:
            pts.append(pts[0])
        if len(set(pts)) < 3:
            raise self.fail(f"a LinearRing needs at least 3 distinct points, got {len(set(pts))}.")
        return pts

    def line(self, value: Any) -> list[tuple[float, float]]:
        pts = self.points(value, "LineString")
        if len(pts) < 2:
            raise self.fail(f"a LineString needs at least 2 points, got {len(pts)}.")
        return pts

    def polygon_rings(self, value: Any) -> list[list[tuple[float, float]]]:
        """The rings of one polygon: a Polygon geometry, a list of rings, or one ring."""
        if isinstance(value, Geometry):
            shape = self.shape_of(value, self.geo)
            if shape.geom_type == "Polygon":
                if shape.is_empty:
                    return []
                rings = [shape.exterior, *shape.interiors]
                return [[tuple(c[:2]) for c in r.coords] for r in rings]
            if shape.geom_type in ("LinearRing", "LineString"):
                return [self.ring([tuple(c[:2]) for c in shape.coords])]
            raise self.fail(f"expected a Polygon or a LinearRing, got a {shape.geom_type}.")
        if not isinstance(value, (list, tuple)):
            raise self.fail(f"expected a list of rings, got {_short(value)}.")
        if not value:
            return []
        if _kind(value[0]) in ("number", "point", "Point"):
            return [self.ring(value)]
        return [self.ring(v) for v in value]

    def multi(self, value: Any, single_kinds: tuple[str, ...]) -> list[Any] | None:
        """The parts of a multi-geometry, or None when ``value`` describes a single part."""
        if not isinstance(value, (list, tuple)):
            raise self.fail(f"expected a list, got {_short(value)}.")
        if value and _kind(value[0]) in single_kinds:
            return None
        return list(value)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    """What one element of a coordinate list is: number, point, geometry type, or list."""
    if _is_scalar(value):
        return "number"
    if isinstance(value, Geometry):
        return value.shape.geom_type
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_scalar(v) for v in value):
        return "point"
    return "list"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _geometries_in(value: Any) -> Iterable[Geometry]:
    if isinstance(value, Geometry):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _geometries_in(v)


def _make_polygon(rings: list[list[tuple[float, float]]], even_odd: bool, p: _Parse) -> Any:
    """One polygon from its rings by the even–odd or the left-inside rule."""
    import shapely
    import shapely.geometry as sg

    if not rings:
        return sg.Polygon()
    poly = sg.Polygon(rings[0], rings[1:])
    if not even_odd:
        flip = (
            isinstance(p.crs, Projection)
            and np.linalg.det(np.array(p.crs.transform).reshape(2, 3)[:, :2]) < 0
        )
        shell_ccw = shapely.is_ccw(poly.exterior) != flip
        holes_cw = all(shapely.is_ccw(r) == flip for r in poly.interiors)
        if not (poly.is_valid and shell_ccw and holes_cw):
            raise EEError(
                f"{p.algo}: with evenOdd=false (the left-inside rule) the local engine "
                "supports only valid polygons with a counter-clockwise shell and clockwise "
                "holes; these rings describe another region. Use evenOdd=true."
            )
        return poly
    if poly.is_valid:
        return poly
    region = None
    for ring in rings:
        part = shapely.make_valid(sg.Polygon(ring))
        region = part if region is None else region.symmetric_difference(part)
    return _polygonal(region)


def _polygonal(shape: Any) -> Any:
    import shapely
    import shapely.geometry as sg

    if shape.geom_type in ("Polygon", "MultiPolygon"):
        return shape
    parts = [g for g in shapely.get_parts(shape) if g.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for g in parts for q in (g.geoms if g.geom_type == "MultiPolygon" else [g])]
    if not polys:
        return sg.Polygon()
    return polys[0] if len(polys) == 1 else sg.MultiPolygon(polys)


def _result(shape: Any, p: _Parse, geodesic: bool) -> Geometry:
    return Geometry(shape, p.crs, geodesic=geodesic)


@algorithm("GeometryConstructors.Point")
def point(coordinates: Any, crs: Any = None) -> Geometry:
    import shapely.geometry as sg

    p = _Parse("GeometryConstructors.Point", crs, coordinates)
    if coordinates is None:
        raise required(p.algo, "coordinates")
    if isinstance(coordinates, Geometry):
        return _result(sg.Point(p.point(coordinates)), p, p.geo)
    if not isinstance(coordinates, (list, tuple)) or len(coordinates) != 2:
        raise p.fail(f"a Point needs exactly 2 coordinates [x, y], got {_short(coordinates)}.")
    return _result(sg.Point(p.point(coordinates)), p, p.geo)


@algorithm("GeometryConstructors.MultiPoint")
def multi_point(coordinates: Any, crs: Any = None) -> Geometry:
    import shapely.geometry as sg

    p = _Parse("GeometryConstructors.MultiPoint", crs, coordinates)
    if coordinates is None:
        raise required(p.algo, "coordinates")
    pts = p.points(coordinates, "MultiPoint") if coordinates else []
    return _result(sg.MultiPoint(pts), p, p.geo)


@algorithm("GeometryConstructors.LineString")
def line_string(
    coordinates: Any,
    crs: Any = None,
    geodesic: Any = None,
    maxError: Any = None,
) -> Geometry:
    import shapely.geometry as sg

    p = _Parse("GeometryConstructors.LineString", crs, coordinates, geodesic)
    if coordinates is None:
        raise required(p.algo, "coordinates")
    if isinstance(coordinates, list) and not coordinates:
        return _result(sg.LineString(), p, p.geo)
    return _result(sg.LineString(p.line(coordinates)), p, p.geo)


@algorithm("GeometryConstructors.LinearRing")
def linear_ring(
    coordinates: Any,
    crs: Any = None,
    geodesic: Any = None,
    maxError: Any = None,
) -> Geometry:
    import shapely.geometry as sg

    p = _Parse("GeometryConstructors.LinearRing", crs, coordinates, geodesic)
    if coordinates is None:
        raise required(p.algo, "coordinates")
    return _result(sg.LinearRing(p.ring(coordinates)), p, p.geo)


@algorithm("GeometryConstructors.MultiLineString")
def multi_line_string(
    coordinates: Any,
    crs: Any = None,
    geodesic: Any = None,
    maxError: Any = None,
) -> Geometry:
    import shapely.geometry as sg

    p = _Parse("GeometryConstructors.MultiLineString", crs, coordinates, geodesic)
    if coordinates is None:
        raise required(p.algo, "coordinates")
    parts = p.multi(coordinates, ("number", "point", "Point"))
    if parts is None:
        lines = [p.line(coordinates)]
    else:
        lines = []
        for part in parts:
            if isinstance(part, Geometry) and part.shape.geom_type == "MultiLineString":
                shape = p.shape_of(part, p.geo)
                lines.extend([list(g.coords) for g in shape.geoms])
            else:
                lines.append(p.line(part))
    return _result(sg.MultiLineString(lines), p, p.geo)


@algorithm("GeometryConstructors.Polygon")
def polygon(
    coordinates: Any,
    crs: Any = None,
    geodesic: Any = None,
    maxError: Any = None,
    evenOdd: Any = True,
) -> Geometry:
    p = _Parse("GeometryConstructors.Polygon", crs, coordinates, geodesic)
    if coordinates is None:
        raise required(p.algo, "coordinates")
    even_odd = True if evenOdd is None else bool(evenOdd)
    shape = _make_polygon(p.polygon_rings(coordinates), even_odd, p)
    return _result(shape, p, p.geo)


@algorithm("GeometryConstructors.MultiPolygon")
def multi_polygon(
    coordinates: Any,
    crs: Any = None,
    geodesic: Any = None,
    maxError: Any = None,
    evenOdd: Any = True,
) -> Geometry:
    import shapely.geometry as sg

    p = _Parse("GeometryConstructors.MultiPolygon", crs, coordinates, geodesic)
    if coordinates is None:
        raise required(p.algo, "coordinates")
    even_odd = True if evenOdd is None else bool(evenOdd)
    parts = p.multi(coordinates, ("number", "point", "Point"))
    if parts is None:
        parts = [coordinates]
    polys: list[Any] = []
    for part in parts:
        if isinstance(part, Geometry) and part.shape.geom_type == "MultiPolygon":
            polys.extend(p.shape_of(part, p.geo).geoms)
            continue
        shape = _make_polygon(p.polygon_rings(part), even_odd, p)
        if shape.is_empty:
            continue
        polys.extend(shape.geoms if shape.geom_type == "MultiPolygon" else [shape])
    return _result(sg.MultiPolygon(polys), p, p.geo)


@algorithm("GeometryConstructors.Rectangle")
def rectangle(
    coordinates: Any,
    crs: Any = None,
    geodesic: Any = None,
    evenOdd: Any = True,
) -> Geometry:
    import shapely.geometry as sg

    p = _Parse("GeometryConstructors.Rectangle", crs, coordinates, geodesic)
    if coordinates is None:
        raise required(p.algo, "coordinates")
    if not isinstance(coordinates, (list, tuple)):
        raise p.fail(f"expected a list, got {_short(coordinates)}.")
    if len(coordinates) == 4 and all(_is_scalar(v) for v in coordinates):
        corners = [p.point(coordinates[0:2]), p.point(coordinates[2:4])]
    elif len(coordinates) == 2:
        corners = [p.point(coordinates[0]), p.point(coordinates[1])]
    else:
        raise p.fail(
            "a Rectangle needs [xMin, yMin, xMax, yMax] or two corner points, "
            f"got {_short(coordinates)}."
        )
    (x1, y1), (x2, y2) = corners
    ring = [(x1, y2), (x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    return _result(sg.Polygon(ring), p, p.geo)


@algorithm("GeometryConstructors.BBox")
def bbox(west: Any, south: Any, east: Any, north: Any) -> Geometry:
    import shapely.geometry as sg

    algo = "GeometryConstructors.BBox"
    w, s, e, n = (
        float(as_number(v, algo, k))
        for v, k in ((west, "west"), (south, "south"), (east, "east"), (north, "north"))
    )
    if not w < math.inf:
        raise EEError(f"Geometry.BBox: west must not be {w}")
    if not e > -math.inf:
        raise EEError(f"Geometry.BBox: east must not be {e}")
    if not s <= 90:
        raise EEError(f"Geometry.BBox: south must be at most +90°, but was {s}°")
    if not n >= -90:
        raise EEError(f"Geometry.BBox: north must be at least -90°, but was {n}°")
    s, n = max(s, -90.0), min(n, 90.0)
    if e - w >= 360:
        w, e = -180.0, 180.0
    else:
        w = (w + 180.0) % 360.0 - 180.0
        e = (e + 180.0) % 360.0 - 180.0
        if e < w:
            e += 360.0
    ring = [(w, n), (w, s), (e, s), (e, n), (w, n)]
    return Geometry(sg.Polygon(ring), "EPSG:4326", geodesic=False)


@algorithm("GeometryConstructors.MultiGeometry")
def multi_geometry(
    geometries: Any,
    crs: Any = None,
    geodesic: Any = None,
    maxError: Any = None,
) -> Geometry:
    import shapely.geometry as sg

    algo = "GeometryConstructors.MultiGeometry"
    if geometries is None:
        raise required(algo, "geometries")
    if not isinstance(geometries, (list, tuple)):
        raise invalid_type(algo, "geometries", "List<Geometry>", geometries)
    for g in geometries:
        if not isinstance(g, Geometry):
            raise invalid_type(algo, "geometries", "List<Geometry>", g)
    p = _Parse(algo, crs, list(geometries), geodesic)
    geo = p.geo
    tol = margin_metres(maxError, algo) or DEFAULT_MAX_ERROR_M
    shapes = [_in_frame(g, p.crs, geo, tol) for g in geometries]
    return _result(sg.GeometryCollection(shapes), p, geo)


# --- measures --------------------------------------------------------------------------------


def _parts(shape: Any, kinds: tuple[str, ...]) -> list[Any]:
    """Single parts of the given types (multi-geometries and collections unpacked)."""
    import shapely

    out = []
    for g in shapely.get_parts(shape):
        if g.geom_type in ("MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"):
            out.extend(_parts(g, kinds))
        elif g.geom_type in kinds and not g.is_empty:
            out.append(g)
    return out


def _rings(poly: Any) -> list[Any]:
    return [poly.exterior, *poly.interiors]


def _xy(seq: Any) -> np.ndarray:
    return np.asarray(seq.coords, dtype=float)[:, :2]


def geometry_area(geometry: Geometry, proj: Projection | None = None) -> float:
    """The area of the polygonal parts: m² on WGS84, or squared units of ``proj``."""
    if proj is not None:
        shape = _in_frame(geometry, proj, False, _measure_tolerance(geometry))
        return float(sum(p.area for p in _parts(shape, ("Polygon",))))
    if geometry.geodesic:
        import pyproj

        geod = pyproj.Geod(ellps="WGS84")
        total = 0.0
        for poly in _parts(_lonlat_vertices(geometry), ("Polygon",)):
            areas = [abs(geod.polygon_area_perimeter(*_xy(r).T)[0]) for r in _rings(poly)]
            total += areas[0] - sum(areas[1:])
        return total
    total = 0.0
    for poly in _parts(_lonlat(geometry), ("Polygon",)):
        areas = [abs(lonlat_ring_area(*_xy(r).T)) for r in _rings(poly)]
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
        shape = _in_frame(geometry, proj, False, _measure_tolerance(geometry))
        return float(sum(np.sum(np.hypot(*np.diff(_xy(s), axis=0).T)) for s in paths_of(shape)))
    if geometry.geodesic:
        import pyproj

        geod = pyproj.Geod(ellps="WGS84")
        paths = paths_of(_lonlat_vertices(geometry))
        return float(sum(geod.line_length(*_xy(s).T) for s in paths if len(s.coords) > 1))
    return float(sum(_lonlat_path_length(_xy(s)) for s in paths_of(_lonlat(geometry))))


def _line_paths(shape: Any) -> list[Any]:
    return _parts(shape, ("LineString", "LinearRing"))


def _ring_paths(shape: Any) -> list[Any]:
    return [r for poly in _parts(shape, ("Polygon",)) for r in _rings(poly)]


def geometry_length(geometry: Geometry, proj: Projection | None = None) -> float:
    """The length of the linear parts (m on WGS84, or units of ``proj``)."""
    return _lengths(geometry, _line_paths, proj)


def geometry_perimeter(geometry: Geometry, proj: Projection | None = None) -> float:
    """The perimeter of the polygonal parts (m on WGS84, or units of ``proj``)."""
    return _lengths(geometry, _ring_paths, proj)


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


def _tolerance(max_error: Any, algo: str) -> float:
    m = margin_metres(max_error, algo)
    return DEFAULT_MAX_ERROR_M if m is None or m == 0 else m


def _target(proj: Projection | None) -> str | Projection:
    return _frame(proj) if proj is not None else "EPSG:4326"


def bounds_of(geometry: Geometry, proj: Projection | None = None, tol_m: float = 0.01) -> Geometry:
    """The bounding rectangle (planar) in ``proj`` or EPSG:4326."""
    import shapely.geometry as sg

    target = _target(proj)
    shape = _in_frame(geometry, target, False, tol_m)
    if shape.is_empty:
        return Geometry(sg.Polygon(), target, geodesic=False)
    x0, y0, x1, y1 = shape.bounds
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return Geometry(sg.Polygon(ring), target, geodesic=False)


@algorithm("Geometry.bounds")
def bounds(geometry: Any, maxError: Any = None, proj: Any = None) -> Geometry:
    algo = "Geometry.bounds"
    return bounds_of(
        as_geometry(geometry, algo), as_projection_arg(proj, algo), _tolerance(maxError, algo)
    )


def _highest(shape: Any) -> tuple[str, list[Any]]:
    polys = [p for p in _parts(shape, ("Polygon",)) if p.area > 0]
    if polys:
        return "polygon", polys
    lines = [g for g in _parts(shape, ("LineString", "LinearRing")) if g.length > 0]
    if lines:
        return "line", lines
    return "point", _parts(shape, ("Point",))


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
            for ring in _rings(poly):
                v = _unit_vectors(_xy(ring))
                cross = np.cross(v[:-1], v[1:])
                norm = np.linalg.norm(cross, axis=1)
                angle = np.arctan2(norm, np.einsum("ij,ij->i", v[:-1], v[1:]))
                ok = norm > 0
                total += np.sum(cross[ok] / norm[ok, None] * angle[ok, None], axis=0)
    elif kind == "line":
        for line in parts:
            v = _unit_vectors(_xy(line))
            mid = v[:-1] + v[1:]
            norm = np.linalg.norm(mid, axis=1)
            half = np.arctan2(np.linalg.norm(np.cross(v[:-1], v[1:]), axis=1), norm)
            ok = norm > 0
            total += np.sum(mid[ok] / norm[ok, None] * (2 * np.sin(half[ok]))[:, None], axis=0)
    else:
        pts = [np.asarray(p.coords, dtype=float)[:, :2] for p in _parts(shape, ("Point",))]
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
        shape = _in_frame(geometry, proj, False, DEFAULT_MAX_ERROR_M)
        return Geometry(_planar_centroid(shape), _frame(proj), geodesic=False)
    if geometry.shape.is_empty:
        return Geometry(sg.Point(), "EPSG:4326", geodesic=geometry.geodesic)
    if geometry.geodesic:
        lon, lat = _spherical_centroid(_lonlat_vertices(geometry))
        return Geometry(sg.Point(lon, lat), "EPSG:4326", geodesic=True)
    local = Geometry(_planar_centroid(geometry.shape), geometry.crs, geodesic=False)
    pt = _in_frame(local, "EPSG:4326", False, DEFAULT_MAX_ERROR_M)
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


@algorithm("Geometry.centroid")
def centroid(geometry: Any, maxError: Any = None, proj: Any = None) -> Geometry:
    algo = "Geometry.centroid"
    margin_metres(maxError, algo)
    return centroid_of(as_geometry(geometry, algo), as_projection_arg(proj, algo))


def _aeqd(geometry: Geometry) -> tuple[str, float]:
    """A WGS84 azimuthal equidistant CRS centred on the geometry, and its largest radius (m)."""
    import pyproj

    ll = _lonlat(geometry, DEFAULT_MAX_ERROR_M)
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
    for g in _parts(shape, ("Point", "LineString", "LinearRing", "Polygon")):
        out.extend(_rings(g) if g.geom_type == "Polygon" else [g])
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
        shape = _in_frame(geometry, proj, False, err / 10 / max(_units_per_metre(proj), 1e-300))
        out = shape.buffer(distance, quad_segs=_quad_segs(abs(distance), err / 2))
        return Geometry(out, _frame(proj), geodesic=False)
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
    local = _in_frame(geometry, crs, False, max(err / 10, 1e-6))
    out = local.buffer(distance, quad_segs=_quad_segs(abs(distance), err / 2))
    back = Geometry(out, crs, geodesic=False)
    geodesic = True if geometry.shape.geom_type in ("Point", "MultiPoint") else geometry.geodesic
    shape = _in_frame(back, "EPSG:4326", geodesic, max(err / 10, 1e-6))
    return Geometry(shape, "EPSG:4326", geodesic=geodesic)


def _quad_segs(radius: float, err: float) -> int:
    """Segments per quarter circle so the polygon is within ``err`` of the circle."""
    if radius <= 0 or err <= 0 or err >= radius:
        return 8
    step = 2 * math.acos(1 - err / radius)
    return int(min(max(math.ceil((math.pi / 2) / step), 1), 4096))


@algorithm("Geometry.buffer")
def buffer(
    geometry: Any,
    distance: Any,
    maxError: Any = None,
    proj: Any = None,
) -> Geometry:
    algo = "Geometry.buffer"
    if distance is None:
        raise required(algo, "distance")
    return buffer_of(
        as_geometry(geometry, algo),
        float(as_number(distance, algo, "distance")),
        margin_metres(maxError, algo),
        as_projection_arg(proj, algo),
    )


def simplify_of(geometry: Geometry, max_error: float, proj: Projection | None) -> Geometry:
    """The geometry simplified (Douglas–Peucker, topology kept) within ``max_error``."""
    if proj is not None:
        shape = _in_frame(geometry, proj, False, max_error / 10 or DEFAULT_MAX_ERROR_M)
        return Geometry(
            shape.simplify(max_error, preserve_topology=True), _frame(proj), geodesic=False
        )
    crs, radius = _aeqd(geometry)
    tol = max_error / (1.0 + _aeqd_distortion(radius))
    local = _in_frame(geometry, crs, False, max(tol / 10, 1e-6))
    out = Geometry(local.simplify(tol, preserve_topology=True), crs, geodesic=False)
    shape = _in_frame(out, geometry.crs, geometry.geodesic, max(tol / 10, 1e-6))
    return Geometry(_snap(shape, geometry.shape), _frame(geometry.crs), geodesic=geometry.geodesic)


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


@algorithm("Geometry.simplify")
def simplify(geometry: Any, maxError: Any, proj: Any = None) -> Geometry:
    algo = "Geometry.simplify"
    err = margin_metres(maxError, algo)
    if err is None:
        raise required(algo, "maxError")
    return simplify_of(as_geometry(geometry, algo), err, as_projection_arg(proj, algo))


def transform_of(
    geometry: Geometry, proj: Projection, geodesic: bool | None, max_error: float | None
) -> Geometry:
    """The geometry in ``proj`` with edges of the requested kind."""
    geo = _is_geographic(proj) if geodesic is None else bool(geodesic)
    tol = DEFAULT_MAX_ERROR_M if not max_error else max_error
    return Geometry(_in_frame(geometry, proj, geo, tol), _frame(proj), geodesic=geo)


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
    tol = _tolerance(max_error, algo)
    p = as_projection_arg(proj, algo)
    if p is not None:
        return _in_frame(a, p, False, tol), _in_frame(b, p, False, tol), _frame(p), False
    geodesic = a.geodesic and b.geodesic
    return _lonlat(a, tol), _lonlat(b, tol), "EPSG:4326", geodesic


def _valid(shape: Any) -> Any:
    import shapely

    return shape if shape.is_valid else shapely.make_valid(shape)


def _predicate(name: str, method: str) -> None:
    @algorithm(f"Geometry.{name}")
    def impl(left: Any, right: Any, maxError: Any = None, proj: Any = None) -> bool:
        a, b, _, _ = _pair(left, right, maxError, proj, f"Geometry.{name}")
        return bool(getattr(_valid(a), method)(_valid(b)))


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
        return Geometry(getattr(_valid(a), method)(_valid(b)), frame, geodesic=geodesic)


for _name, _method in (
    ("intersection", "intersection"),
    ("union", "union"),
    ("difference", "difference"),
    ("symmetricDifference", "symmetric_difference"),
):
    _combine(_name, _method)


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
        shape, frame, geo = _in_frame(geometry, proj, False, tol_m), _frame(proj), False
    elif geometry.geodesic:
        shape, frame, geo = _lonlat(geometry, tol_m), "EPSG:4326", True
    else:
        shape, frame, geo = geometry.shape, geometry.crs, False
    parts = [_valid(g) for g in shapely.get_parts(shape)]
    return Geometry(shapely.union_all(parts), frame, geodesic=geo)


@algorithm("Geometry.dissolve")
def dissolve(geometry: Any, maxError: Any = None, proj: Any = None) -> Geometry:
    algo = "Geometry.dissolve"
    return dissolve_of(
        as_geometry(geometry, algo), as_projection_arg(proj, algo), _tolerance(maxError, algo)
    )


def distance_between(
    left: Geometry, right: Geometry, proj: Projection | None, spherical: bool, tol_m: float
) -> float:
    """The minimum distance: planar in ``proj``, or on WGS84 between point sets."""
    algo = "Geometry.distance"
    if proj is not None:
        a = _in_frame(left, proj, False, tol_m)
        b = _in_frame(right, proj, False, tol_m)
        return float(_valid(a).distance(_valid(b)))
    if spherical:
        raise EEError(f"{algo}: spherical=true is not implemented by the local engine.")
    a, b = _lonlat(left, tol_m), _lonlat(right, tol_m)
    if _valid(a).intersects(_valid(b)):
        return 0.0
    pa, pb = _parts(a, ("Point",)), _parts(b, ("Point",))
    if len(pa) != len(_parts(a, ("Point", "LineString", "LinearRing", "Polygon"))) or len(
        pb
    ) != len(_parts(b, ("Point", "LineString", "LinearRing", "Polygon"))):
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
        bool(spherical),
        _tolerance(maxError, algo),
    )
