"""``GeometryConstructors.*`` algorithms: geometries from coordinates.

Constructors take coordinates the ways the ``ee`` client sends them: nested GeoJSON lists,
flat ``[x1, y1, x2, y2, …]`` lists, lists of ``ee.Geometry`` values (points, rings,
polygons), a CRS code or a Projection. Without a CRS numbers are EPSG:4326; without a
``geodesic`` flag edges are geodesics in a geographic CRS and straight in a projected one (or
take the state of the input geometries). Polygons follow the even–odd rule (``evenOdd``,
the default); the left-inside rule is supported for the orientation that bounds a finite
region (shells counter-clockwise, holes clockwise) and refused otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ...core.arguments import invalid_type, required
from ...core.registry import algorithm
from ...core.values import Geometry
from ...errors import EEError
from ...raster.grid import Projection
from .geodesy import DEFAULT_MAX_ERROR_M, canonical_frame, is_geographic_frame, shape_in_frame
from .geometry import as_projection_arg, margin_metres


class _Parse:
    """Coordinates of one constructor call, gathered in the result's CRS."""

    def __init__(self, algo: str, crs: Any, coordinates: Any, geodesic: Any = None) -> None:
        self.algo = algo
        proj = as_projection_arg(crs, algo, "crs")
        inputs = list(_geometries_in(coordinates))
        if proj is not None:
            self.crs: str | Projection = canonical_frame(proj)
        elif inputs:
            self.crs = canonical_frame(inputs[0].crs)
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
        return is_geographic_frame(self.crs)

    def shape_of(self, geometry: Geometry, geodesic: bool) -> Any:
        return shape_in_frame(geometry, self.crs, geodesic, DEFAULT_MAX_ERROR_M)

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
        if is_geographic_frame(self.crs) and not isinstance(self.crs, Projection) and abs(y) > 90:
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


def _parse_required(algo: str, crs: Any, coordinates: Any, geodesic: Any = None) -> _Parse:
    """The coordinates of a constructor call that requires them (None is refused)."""
    p = _Parse(algo, crs, coordinates, geodesic)
    if coordinates is None:
        raise required(p.algo, "coordinates")
    return p


def _result(shape: Any, p: _Parse, geodesic: bool) -> Geometry:
    return Geometry(shape, p.crs, geodesic=geodesic)


@algorithm("GeometryConstructors.Point")
def point(coordinates: Any, crs: Any = None) -> Geometry:
    import shapely.geometry as sg

    p = _parse_required("GeometryConstructors.Point", crs, coordinates)
    if len(coordinates) != 2:
        raise p.fail(f"a Point needs exactly 2 coordinates [x, y], got {_short(coordinates)}.")
    return _result(sg.Point(p.point(coordinates)), p, p.geo)


@algorithm("GeometryConstructors.MultiPoint")
def multi_point(coordinates: Any, crs: Any = None) -> Geometry:
    import shapely.geometry as sg

    p = _parse_required("GeometryConstructors.MultiPoint", crs, coordinates)
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

    p = _parse_required("GeometryConstructors.LineString", crs, coordinates, geodesic)
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

    p = _parse_required("GeometryConstructors.LinearRing", crs, coordinates, geodesic)
    return _result(sg.LinearRing(p.ring(coordinates)), p, p.geo)


@algorithm("GeometryConstructors.MultiLineString")
def multi_line_string(
    coordinates: Any,
    crs: Any = None,
    geodesic: Any = None,
    maxError: Any = None,
) -> Geometry:
    import shapely.geometry as sg

    p = _parse_required("GeometryConstructors.MultiLineString", crs, coordinates, geodesic)
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
    p = _parse_required("GeometryConstructors.Polygon", crs, coordinates, geodesic)
    even_odd = True if evenOdd is None else evenOdd
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

    p = _parse_required("GeometryConstructors.MultiPolygon", crs, coordinates, geodesic)
    even_odd = True if evenOdd is None else evenOdd
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

    p = _parse_required("GeometryConstructors.Rectangle", crs, coordinates, geodesic)
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

    w, s, e, n = (float(v) for v in (west, south, east, north))
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
    for g in geometries:
        if not isinstance(g, Geometry):
            raise invalid_type(algo, "geometries", "List<Geometry>", g)
    p = _Parse(algo, crs, geometries, geodesic)
    geo = p.geo
    tol = margin_metres(maxError, algo) or DEFAULT_MAX_ERROR_M
    shapes = [shape_in_frame(g, p.crs, geo, tol) for g in geometries]
    return _result(sg.GeometryCollection(shapes), p, geo)
