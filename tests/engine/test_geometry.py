"""Geometries and features built by the real ``ee`` client and evaluated by the local engine.

Expected GeoJSON is written out by hand; expected areas, lengths and distances come from
``pyproj.Geod`` (Karney's geodesic algorithms on WGS84) or closed forms computed here.
"""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest

from gee_cscc.testing import geodesic_area
from gee_cscc.testing.geodesy import WGS84_A, WGS84_F

ee = pytest.importorskip("ee")

GEOD = pyproj.Geod(ellps="WGS84")
E2 = WGS84_F * (2 - WGS84_F)


@pytest.fixture(autouse=True)
def _engine(engine):
    return engine


def info(obj):
    return obj.getInfo()


def parallel_box_area(x0, y0, x1, y1, n=4000) -> float:
    """Area of a lon/lat box (edges along parallels and meridians), densified for Geod."""
    t = np.linspace(0.0, 1.0, n, endpoint=False)
    lon = np.concatenate([x0 + (x1 - x0) * t, np.full(n, x1), x1 - (x1 - x0) * t, np.full(n, x0)])
    lat = np.concatenate([np.full(n, y0), y0 + (y1 - y0) * t, np.full(n, y1), y1 - (y1 - y0) * t])
    return geodesic_area(lon, lat)


# --- constructors: what the client sends, what getInfo returns ------------------------------


def test_point_and_multipoint():
    assert info(ee.Geometry.Point([1.5, -2])) == {"type": "Point", "coordinates": [1.5, -2]}
    assert info(ee.Geometry.Point(3, 4)) == {"type": "Point", "coordinates": [3, 4]}
    assert info(ee.Geometry.MultiPoint([[0, 0], [1, 2]])) == {
        "type": "MultiPoint",
        "coordinates": [[0, 0], [1, 2]],
    }


def test_rectangle_client_side_is_a_geodesic_polygon():
    # Numbers only: the client builds the ring itself and sends GeometryConstructors.Polygon.
    ring = [[0, 1], [0, 0], [2, 0], [2, 1], [0, 1]]
    assert info(ee.Geometry.Rectangle([0, 0, 2, 1])) == {
        "type": "Polygon",
        "coordinates": [ring],
        "geodesic": True,
    }


@pytest.mark.parametrize(
    "coords",
    [
        lambda: [0, 0, 2, 1],
        lambda: [[0, 0], [2, 1]],
        lambda: [ee.Geometry.Point([0, 0]), ee.Geometry.Point([2, 1])],
    ],
    ids=["numbers", "pairs", "points"],
)
def test_rectangle_server_side_matches_the_client(coords):
    # geodesic=False makes the client send GeometryConstructors.Rectangle(coordinates, …).
    got = info(ee.Geometry.Rectangle(coords(), None, False))
    assert got == {
        "type": "Polygon",
        "coordinates": [[[0, 1], [0, 0], [2, 0], [2, 1], [0, 1]]],
        "geodesic": False,
    }


def test_polygon_forms():
    closed = [[0, 0], [1, 0], [1, 1], [0, 0]]
    expected = {"type": "Polygon", "coordinates": [closed], "geodesic": True}
    assert info(ee.Geometry.Polygon([[0, 0], [1, 0], [1, 1]])) == expected  # ring closed
    assert info(ee.Geometry.Polygon(0, 0, 1, 0, 1, 1)) == expected  # flat numbers
    # With a geodesic argument the client sends the single ring unnested to the server.
    assert info(ee.Geometry.Polygon([[0, 0], [1, 0], [1, 1]], None, True)) == expected
    assert info(ee.Geometry.Polygon([0, 0, 1, 0, 1, 1], None, False)) == {
        **expected,
        "geodesic": False,
    }
    corners = [ee.Geometry.Point(p) for p in ([0, 0], [1, 0], [1, 1])]
    assert info(ee.Geometry.Polygon(corners)) == expected  # a ring of Point geometries
    holed = [
        [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]],
        [[1, 1], [1, 2], [2, 2], [2, 1], [1, 1]],
    ]
    assert info(ee.Geometry.Polygon(holed))["coordinates"] == holed


def test_multipolygon_from_polygons_and_coordinates():
    tri = [[0, 0], [1, 0], [1, 1], [0, 0]]
    square = [[2, 3], [2, 2], [3, 2], [3, 3], [2, 3]]
    from_geoms = ee.Geometry.MultiPolygon(
        [ee.Geometry.Polygon([tri]), ee.Geometry.Rectangle([2, 2, 3, 3])]
    )
    assert info(from_geoms) == {
        "type": "MultiPolygon",
        "coordinates": [[tri], [square]],
        "geodesic": True,
    }
    # Server side (geodesic given): a list of simple polygons, each a list of points.
    got = info(ee.Geometry.MultiPolygon([tri[:3], square[:4]], None, False))
    assert got == {"type": "MultiPolygon", "coordinates": [[tri], [square]], "geodesic": False}


def test_lines():
    assert info(ee.Geometry.LineString([0, 0, 1, 1, 2, 0])) == {
        "type": "LineString",
        "coordinates": [[0, 0], [1, 1], [2, 0]],
        "geodesic": True,
    }
    assert info(ee.Geometry.LinearRing([[0, 0], [1, 0], [1, 1]]))["coordinates"] == [
        [0, 0],
        [1, 0],
        [1, 1],
        [0, 0],
    ]
    assert info(ee.Geometry.MultiLineString([[[0, 0], [1, 1]], [[2, 2], [3, 3]]], None, False)) == {
        "type": "MultiLineString",
        "coordinates": [[[0, 0], [1, 1]], [[2, 2], [3, 3]]],
        "geodesic": False,
    }


def test_geojson_dicts():
    poly = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    assert info(ee.Geometry(poly)) == {**poly, "geodesic": True}
    assert info(ee.Geometry(poly, None, False)) == {**poly, "geodesic": False}
    collection = {
        "type": "GeometryCollection",
        "geometries": [
            {"type": "Point", "coordinates": [1, 2]},
            {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
        ],
    }
    got = info(ee.Geometry(collection))
    assert got["type"] == "GeometryCollection"
    assert got["geometries"][0] == {"type": "Point", "coordinates": [1, 2]}
    assert got["geometries"][1]["coordinates"] == [[0, 0], [1, 1]]


def test_geojson_with_a_crs_is_reported_in_lonlat():
    pt = {
        "type": "Point",
        "coordinates": [1_000_000, 2_000_000],
        "crs": {"type": "name", "properties": {"name": "EPSG:3857"}},
    }
    lon, lat = pyproj.Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True).transform(
        1_000_000, 2_000_000
    )
    got = info(ee.Geometry(pt))
    assert got["coordinates"] == pytest.approx([lon, lat], abs=1e-12)
    assert info(ee.Geometry(pt).projection())["crs"] == "EPSG:3857"


def test_bbox_client_and_server_agree():
    expected = {
        "type": "Polygon",
        "coordinates": [[[170, 10], [170, -10], [190, -10], [190, 10], [170, 10]]],
        "geodesic": False,
    }
    assert info(ee.Geometry.BBox(170, -10, -170, 10)) == expected
    # A computed argument makes the client send GeometryConstructors.BBox.
    assert info(ee.Geometry.BBox(ee.Number(170), -10, -170, 10)) == expected
    assert info(ee.Geometry.BBox(ee.Number(-200), -95, 400, 95))["coordinates"] == [
        [[-180, 90], [-180, -90], [180, -90], [180, 90], [-180, 90]]
    ]


def test_multi_geometry():
    got = info(
        ee.Algorithms.GeometryConstructors.MultiGeometry(
            [ee.Geometry.Point([1, 2]), ee.Geometry.Point([3, 4])]
        )
    )
    assert got == {
        "type": "GeometryCollection",
        "geometries": [
            {"type": "Point", "coordinates": [1, 2]},
            {"type": "Point", "coordinates": [3, 4]},
        ],
    }


def test_rectangle_in_a_projection_uses_pixel_units():
    proj = ee.Projection("EPSG:4326", [0.5, 0, 100, 0, -0.5, 40])
    rect = ee.Geometry.Rectangle([0, 0, 4, 3], proj, False, True)
    assert info(rect.coordinates()) == [[[0, 3], [0, 0], [4, 0], [4, 3], [0, 3]]]
    assert info(rect.bounds())["coordinates"] == [
        [[100, 38.5], [102, 38.5], [102, 40], [100, 40], [100, 38.5]]
    ]
    assert info(rect.projection()) == {
        "type": "Projection",
        "crs": "EPSG:4326",
        "transform": [0.5, 0, 100, 0, -0.5, 40],
    }


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ee.Geometry.Point(ee.List([1, 2, 3])), "exactly 2 coordinates"),
        (lambda: ee.Geometry.Point([0, 100], "EPSG:4326"), "latitude 100"),
        (lambda: ee.Geometry.Polygon([[0, 0], [1, 0]], None, False), "at least 3 distinct"),
        (lambda: ee.Geometry.Polygon([0, 0, 1, 0, 1], None, False), "even count"),
        (lambda: ee.Geometry.LineString([[0, 0]], None, False), "at least 2 points"),
        (lambda: ee.Geometry.Polygon([[0, 0], [1, "a"], [1, 1]], None, False), "number"),
        (lambda: ee.Geometry.Rectangle([0, 0, 1], None, False), "two corner points"),
        (
            lambda: ee.Geometry.MultiPolygon(
                [[[0, 0], [1, 0], [1, 1]], [[5, 5], [6]]], None, False
            ),
            "pair",
        ),
    ],
)
def test_invalid_coordinates_raise_a_clear_error(make, message):
    with pytest.raises(ee.EEException, match=message):
        make().getInfo()


def test_even_odd_and_left_inside_rules():
    # Two overlapping rings in one polygon: even–odd keeps the parts covered once.
    rings = [[[0, 0], [2, 0], [2, 2], [0, 2]], [[1, 1], [3, 1], [3, 3], [1, 3]]]
    xor = ee.Geometry.Polygon(rings, None, False)
    box = ee.Geometry.Rectangle([0, 0, 1, 1], None, False)
    assert info(xor.area()) == pytest.approx(6 * info(box.area()), rel=2e-3)
    assert info(xor.contains(ee.Geometry.Point([1.5, 1.5]))) is False
    # A bow tie: two lobes.
    bowtie = ee.Geometry.Polygon([[0, 0], [2, 2], [2, 0], [0, 2]], None, False)
    assert info(bowtie.type()) == "MultiPolygon"
    # Left-inside with a counter-clockwise shell is the bounded region …
    ccw = ee.Geometry.Polygon([[[0, 0], [1, 0], [1, 1], [0, 1]]], None, False, None, False)
    assert info(ccw.area()) == pytest.approx(info(box.area()), rel=1e-12)
    # … and with a clockwise one it is the rest of the world, which is refused.
    cw = ee.Geometry.Polygon([[[0, 0], [0, 1], [1, 1], [1, 0]]], None, False, None, False)
    with pytest.raises(ee.EEException, match="left-inside"):
        cw.area().getInfo()


# --- measures --------------------------------------------------------------------------------


def test_area_of_geodesic_polygons_is_geod():
    lon, lat = [100, 110, 112, 101], [30, 31, 42, 40]
    poly = ee.Geometry.Polygon([list(p) for p in zip(lon, lat, strict=True)])
    assert info(poly.area()) == pytest.approx(geodesic_area(lon, lat), rel=1e-12)
    # With a hole, and as two parts of a MultiPolygon (areas add).
    hole_lon, hole_lat = [104, 104, 106, 106], [34, 36, 36, 34]
    holed = ee.Geometry.Polygon(
        [
            [list(p) for p in zip(lon, lat, strict=True)],
            [list(p) for p in zip(hole_lon, hole_lat, strict=True)],
        ]
    )
    expected = geodesic_area(lon, lat) - geodesic_area(hole_lon, hole_lat)
    assert info(holed.area()) == pytest.approx(expected, rel=1e-12)
    multi = ee.Geometry.MultiPolygon([poly, ee.Geometry.Polygon([[0, 0], [1, 0], [1, 1]])])
    total = geodesic_area(lon, lat) + geodesic_area([0, 1, 1], [0, 0, 1])
    assert info(multi.area()) == pytest.approx(total, rel=1e-12)


def test_area_of_a_planar_lonlat_box_follows_the_parallels():
    box = ee.Geometry.Rectangle([10, 45, 13, 47], None, False)
    assert info(box.area()) == pytest.approx(parallel_box_area(10, 45, 13, 47), rel=1e-9)
    # The geodesic rectangle with the same corners is a different region.
    geodesic = ee.Geometry.Rectangle([10, 45, 13, 47])
    corners = geodesic_area([10, 13, 13, 10], [45, 45, 47, 47])
    assert info(geodesic.area()) == pytest.approx(corners, rel=1e-12)
    assert abs(corners / parallel_box_area(10, 45, 13, 47) - 1) > 1e-5


def test_area_of_a_planar_box_across_the_antimeridian():
    # BBox keeps the box continuous (170° to 190°): 20° wide, not 340°.
    box = ee.Geometry.BBox(170, -10, -170, 10)
    assert info(box.area()) == pytest.approx(parallel_box_area(170, -10, 190, 10), rel=1e-9)


def test_geodesic_inputs_made_planar_are_densified():
    verts = [[0, 40], [60, 40], [60, 60], [0, 60]]
    geodesic = ee.Geometry.Polygon(verts)
    planar = ee.Geometry.MultiPolygon([geodesic], None, False)
    got = info(planar)
    assert got["geodesic"] is False
    lat = np.array(got["coordinates"][0][0])[:, 1]
    assert lat.max() > 63  # the north edge's geodesic rises to 63.4° at lon 30
    assert info(planar.area()) == pytest.approx(info(geodesic.area()), rel=1e-7)


def test_area_of_a_planar_utm_polygon():
    ring = [(300_000, 4_000_000), (480_000, 4_010_000), (470_000, 4_200_000), (310_000, 4_190_000)]
    poly = ee.Geometry.Polygon([list(p) for p in ring], "EPSG:32650", False)
    # Reference: edges densified in UTM, taken to lon/lat, measured as a geodesic polygon.
    tf = pyproj.Transformer.from_crs("EPSG:32650", "EPSG:4326", always_xy=True)
    t = np.linspace(0, 1, 4000, endpoint=False)
    closed = [*ring, ring[0]]
    xs = np.concatenate(
        [x0 + (x1 - x0) * t for (x0, _), (x1, _) in zip(closed[:-1], closed[1:], strict=True)]
    )
    ys = np.concatenate(
        [y0 + (y1 - y0) * t for (_, y0), (_, y1) in zip(closed[:-1], closed[1:], strict=True)]
    )
    lon, lat = tf.transform(xs, ys)
    assert info(poly.area()) == pytest.approx(geodesic_area(lon, lat), rel=1e-9)
    # In the projection's own units the area is the planar (shoelace) area.
    x, y = np.array(ring, dtype=float).T
    shoelace = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    assert info(poly.area(1, "EPSG:32650")) == pytest.approx(shoelace, rel=1e-12)


def test_area_of_points_and_lines_is_zero():
    assert info(ee.Geometry.Point([1, 2]).area()) == 0
    assert info(ee.Geometry.LineString([0, 0, 1, 1]).area()) == 0


def test_lengths_and_perimeters():
    lon, lat = [0, 10, 20], [0, 5, 0]
    line = ee.Geometry.LineString([list(p) for p in zip(lon, lat, strict=True)])
    assert info(line.length()) == pytest.approx(GEOD.line_length(lon, lat), rel=1e-12)
    ring_lon, ring_lat = [0, 10, 10, 0, 0], [0, 0, 10, 10, 0]
    poly = ee.Geometry.Polygon([list(p) for p in zip(ring_lon, ring_lat, strict=True)])
    assert info(poly.perimeter()) == pytest.approx(GEOD.line_length(ring_lon, ring_lat), rel=1e-12)
    assert info(poly.length()) == 0  # polygons have no linear parts
    # A planar line along the parallel 60°: N(φ) cos φ Δλ.
    phi = math.radians(60)
    n = WGS84_A / math.sqrt(1 - E2 * math.sin(phi) ** 2)
    along = ee.Geometry.LineString([[0, 60], [30, 60]], None, False)
    assert info(along.length()) == pytest.approx(n * math.cos(phi) * math.radians(30), rel=1e-12)


# --- derived geometries -------------------------------------------------------------------


def test_bounds_include_geodesic_bulges():
    planar = ee.Geometry.Polygon([[0, 40], [60, 40], [60, 60], [0, 60]], None, False)
    assert info(planar.bounds())["coordinates"] == [[[0, 40], [60, 40], [60, 60], [0, 60], [0, 40]]]
    geodesic = ee.Geometry.Polygon([[0, 40], [60, 40], [60, 60], [0, 60]])
    top = max(p[1] for p in GEOD.npts(60, 60, 0, 60, 100_000))
    (x0, y0), _, (x1, y1), _, _ = info(geodesic.bounds())["coordinates"][0]
    assert (x0, y0, x1) == (0, 40, 60)
    assert y1 == pytest.approx(top, abs=1e-6)


def test_centroids():
    planar = ee.Geometry.Rectangle([0, 0, 2, 4], None, False)
    assert info(planar.centroid())["coordinates"] == pytest.approx([1, 2], abs=1e-12)
    # A geodesic square symmetric about the equator and the prime meridian.
    square = ee.Geometry.Rectangle([-1, -1, 1, 1])
    assert info(square.centroid())["coordinates"] == pytest.approx([0, 0], abs=1e-9)
    # Two points on the equator: the midpoint on the sphere.
    pts = ee.Geometry.MultiPoint([[0, 0], [90, 0]])
    assert info(pts.centroid())["coordinates"] == pytest.approx([45, 0], abs=1e-9)
    # Lower-dimensional parts are ignored.
    mixed = ee.Algorithms.GeometryConstructors.MultiGeometry([ee.Geometry.Point([50, 50]), planar])
    assert info(mixed.centroid())["coordinates"] == pytest.approx([1, 2], abs=1e-12)


def test_buffer_of_a_point_is_a_circle_in_metres():
    centre = (116.4, 39.9)
    circle = ee.Geometry.Point(list(centre)).buffer(1000, 1)
    ring = np.array(info(circle)["coordinates"][0])
    _, _, dist = GEOD.inv(
        np.full(len(ring), centre[0]), np.full(len(ring), centre[1]), ring[:, 0], ring[:, 1]
    )
    assert np.all(np.abs(dist - 1000) <= 1.0)
    assert info(circle.area()) == pytest.approx(math.pi * 1000**2, rel=2e-3)


def test_negative_buffer_shrinks_and_a_huge_buffer_is_refused():
    box = ee.Geometry.Rectangle([10, 45, 11, 46], None, False)
    inner = box.buffer(-5000)
    assert info(inner.area()) < info(box.area())
    assert info(box.contains(inner)) is True
    continent = ee.Geometry.Rectangle([-60, -50, 60, 50])
    with pytest.raises(ee.EEException, match="maxError"):
        continent.buffer(1000, 0.001).getInfo()


def test_simplify_keeps_original_vertices():
    line = ee.Geometry.LineString([[0, 0], [0.5, 0.000001], [1, 0]])
    assert info(line.simplify(100))["coordinates"] == [[0, 0], [1, 0]]
    kept = info(line.simplify(0.01))["coordinates"]
    assert kept == [[0, 0], [0.5, 0.000001], [1, 0]]


def test_transform_to_a_projected_crs():
    lon, lat = 116.4, 39.9
    x, y = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(lon, lat)
    moved = ee.Geometry.Point([lon, lat]).transform("EPSG:3857", 1)
    assert info(moved.coordinates()) == pytest.approx([x, y], rel=1e-12)
    assert info(moved.projection())["crs"] == "EPSG:3857"
    assert info(moved.edgesAreGeodesics()) is False


def test_inspection():
    mp = ee.Geometry.MultiPolygon([[[0, 0], [1, 0], [1, 1]], [[2, 2], [3, 2], [3, 3]]], None, False)
    assert info(mp.type()) == "MultiPolygon"
    parts = info(mp.geometries())
    assert [p["type"] for p in parts] == ["Polygon", "Polygon"]
    assert parts[1]["coordinates"] == [[[2, 2], [3, 2], [3, 3], [2, 2]]]
    assert info(mp.geodesic()) is False
    assert info(ee.Geometry.Point([0, 0]).isUnbounded()) is False
    assert info(ee.Geometry.Point([1, 2]).coordinates()) == [1, 2]


def test_predicates_and_set_operations():
    a = ee.Geometry.Rectangle([0, 0, 2, 2], None, False)
    b = ee.Geometry.Rectangle([1, 1, 3, 3], None, False)
    far = ee.Geometry.Point([10, 10])
    assert info(a.intersects(b)) is True
    assert info(a.disjoint(far)) is True
    assert info(a.contains(ee.Geometry.Point([0.5, 0.5]))) is True
    assert info(ee.Geometry.Point([0.5, 0.5]).containedIn(a)) is True
    inter = a.intersection(b)
    assert info(inter.area()) == pytest.approx(parallel_box_area(1, 1, 2, 2), rel=1e-9)
    union = info(a.union(b).area())
    assert union == pytest.approx(info(a.area()) + info(b.area()) - info(inter.area()), rel=1e-12)
    assert info(a.difference(b).area()) == pytest.approx(
        info(a.area()) - info(inter.area()), rel=1e-12
    )
    dissolved = ee.Geometry.MultiPolygon([a, b]).dissolve()
    assert info(dissolved.type()) == "Polygon"
    assert info(dissolved.area()) == pytest.approx(union, rel=1e-12)


def test_distance_between_points():
    expected = GEOD.inv(0, 0, 1, 1)[2]
    assert info(ee.Geometry.Point([0, 0]).distance(ee.Geometry.Point([1, 1]))) == pytest.approx(
        expected, rel=1e-12
    )
    with pytest.raises(ee.EEException, match="between points only"):
        ee.Geometry.Point([0, 0]).distance(ee.Geometry.Rectangle([1, 1, 2, 2])).getInfo()


# --- features ------------------------------------------------------------------------------


def test_feature_construction_and_getinfo():
    f = ee.Feature(ee.Geometry.Point([1, 2]), {"name": "a", "n": 3})
    assert info(f) == {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [1, 2]},
        "properties": {"name": "a", "n": 3},
    }
    from_geojson = ee.Feature(
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [5, 6]},
            "properties": {"k": 1},
        }
    )
    assert info(from_geojson)["geometry"]["coordinates"] == [5, 6]
    assert info(ee.Feature(None, {"k": 1})) == {
        "type": "Feature",
        "geometry": None,
        "properties": {"k": 1},
    }


def test_feature_geometry_operations_keep_properties():
    box = ee.Geometry.Rectangle([10, 45, 11, 46], None, False)
    f = ee.Feature(box, {"id": 7})
    assert info(f.geometry()) == info(box)
    assert info(f.area()) == pytest.approx(parallel_box_area(10, 45, 11, 46), rel=1e-9)
    bounds = info(f.bounds())
    assert bounds["properties"] == {"id": 7}
    assert bounds["geometry"]["coordinates"] == [[[10, 45], [11, 45], [11, 46], [10, 46], [10, 45]]]
    assert info(f.centroid())["geometry"]["coordinates"] == pytest.approx([10.5, 45.5])
    moved = info(f.setGeometry(ee.Geometry.Point([0, 0])))
    assert moved == {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [0, 0]},
        "properties": {"id": 7},
    }
    buffered = f.buffer(1000)
    assert info(buffered)["properties"] == {"id": 7}
    assert info(buffered.area()) > info(f.area())
    other = ee.Feature(ee.Geometry.Rectangle([10.5, 45.5, 12, 47], None, False), {"id": 8})
    inter = f.intersection(other)
    assert info(inter)["properties"] == {"id": 7}
    assert info(inter.area()) == pytest.approx(parallel_box_area(10.5, 45.5, 11, 46), rel=1e-9)
    assert info(f.intersects(other)) is True
    assert info(f.disjoint(other)) is False


def test_feature_select():
    f = ee.Feature(ee.Geometry.Point([1, 2]), {"npp_2001": 1, "npp_2002": 2, "name": "x"})
    assert info(f.select(["name"]))["properties"] == {"name": "x"}
    assert info(f.select(["npp_.*"]))["properties"] == {"npp_2001": 1, "npp_2002": 2}
    renamed = info(f.select(["npp_2002", "name"], ["b", "a"]))
    assert renamed["properties"] == {"b": 2, "a": "x"}
    assert renamed["geometry"] == {"type": "Point", "coordinates": [1, 2]}
    assert info(f.select(["name"], None, False))["geometry"] is None
    with pytest.raises(ee.EEException, match="does not match"):
        f.select(["name"], ["a", "b"]).getInfo()


def test_feature_id_in_a_table(engine, tmp_asset):
    table = tmp_asset("pts")
    engine.store.put_table(
        table,
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": "p1",
                    "properties": {"v": 1},
                    "geometry": {"type": "Point", "coordinates": [1, 1]},
                },
            ],
        },
    )
    first = ee.Feature(ee.FeatureCollection(table).first())
    assert info(first.id()) == "p1"
    assert info(first.geometry().coordinates()) == [1, 1]
    assert info(ee.Feature(ee.Geometry.Point([0, 0])).id()) is None
