"""``Join.apply`` with the joins of the guide "Joins"
(https://developers.google.com/earth-engine/guides/joins_intro and the pages on simple,
inverted, inner, saveAll, saveBest and spatial joins), checked by hand and with pyproj's
geodesic distances."""

from __future__ import annotations

import ee
import numpy as np
import pyproj
import pytest

pytestmark = pytest.mark.usefixtures("engine")

DAY = 24 * 60 * 60 * 1000
# Primary: three "scenes" at days 0, 10, 20; secondary: four at days 1, 9, 12, 40.
P_DAYS = {"p0": 0, "p1": 10, "p2": 20}
S_DAYS = {"s0": 1, "s1": 9, "s2": 12, "s3": 40}


def _timed(days: dict[str, int]) -> ee.FeatureCollection:
    return ee.FeatureCollection(
        [ee.Feature(None, {"id": k, "system:time_start": d * DAY}) for k, d in days.items()]
    )


def _within(days: int) -> ee.Filter:
    return ee.Filter.maxDifference(
        difference=days * DAY, leftField="system:time_start", rightField="system:time_start"
    )


def _expected_matches(limit: int) -> dict[str, list[str]]:
    return {p: [s for s, sd in S_DAYS.items() if abs(sd - pd) <= limit] for p, pd in P_DAYS.items()}


def test_simple_and_inverted():
    prim, sec = _timed(P_DAYS), _timed(S_DAYS)
    m = _expected_matches(2)  # p0: s0; p1: s1, s2; p2: none
    simple = ee.Join.simple().apply(prim, sec, _within(2))
    assert simple.aggregate_array("id").getInfo() == [p for p in P_DAYS if m[p]]
    inverted = ee.Join.inverted().apply(prim, sec, _within(2))
    assert inverted.aggregate_array("id").getInfo() == [p for p in P_DAYS if not m[p]]


def test_save_all_with_ordering_measure_and_outer():
    prim, sec = _timed(P_DAYS), _timed(S_DAYS)
    joined = ee.Join.saveAll(
        matchesKey="scenes", ordering="system:time_start", ascending=False, measureKey="dt"
    ).apply(prim, sec, _within(2))
    info = joined.getInfo()["features"]
    assert [f["properties"]["id"] for f in info] == ["p0", "p1"]
    p1 = info[1]["properties"]["scenes"]
    assert [s["properties"]["id"] for s in p1] == ["s2", "s1"]  # descending time
    assert [s["properties"]["dt"] for s in p1] == [2 * DAY, 1 * DAY]
    outer = ee.Join.saveAll("scenes", outer=True).apply(prim, sec, _within(2))
    sizes = outer.map(lambda f: f.set("n", ee.List(f.get("scenes")).size()))
    assert sizes.aggregate_array("n").getInfo() == [1, 2, 0]


def test_save_first_and_save_best():
    prim, sec = _timed(P_DAYS), _timed(S_DAYS)
    first = ee.Join.saveFirst("m", ordering="system:time_start", ascending=False).apply(
        prim, sec, _within(3)
    )
    got = {
        f["properties"]["id"]: f["properties"]["m"]["properties"]["id"]
        for f in first.getInfo()["features"]
    }
    assert got == {"p0": "s0", "p1": "s2"}
    best = ee.Join.saveBest("best", "gap").apply(prim, sec, _within(30))
    feats = best.getInfo()["features"]
    # smallest |Δt| per primary: p0→s0 (1 d), p1→s1 (1 d, before s2's 2 d), p2→s2 (8 d)
    got = {
        f["properties"]["id"]: (
            f["properties"]["best"]["properties"]["id"],
            f["properties"]["best"]["properties"]["gap"],
        )
        for f in feats
    }
    assert got == {"p0": ("s0", DAY), "p1": ("s1", DAY), "p2": ("s2", 8 * DAY)}


def test_inner_join_on_equal_fields():
    prim = ee.FeatureCollection(
        [ee.Feature(None, {"k": k, "a": i}) for i, k in enumerate(["x", "y", "x", "z"])]
    )
    sec = ee.FeatureCollection(
        [ee.Feature(None, {"key": k, "b": i}) for i, k in enumerate(["x", "z", "x"])]
    )
    cond = ee.Filter.equals(leftField="k", rightField="key")
    joined = ee.Join.inner().apply(prim, sec, cond)
    pairs = joined.map(
        lambda f: f.set(
            "ab",
            ee.List(
                [ee.Feature(f.get("primary")).get("a"), ee.Feature(f.get("secondary")).get("b")]
            ),
        )
    ).aggregate_array("ab")
    assert pairs.getInfo() == [[0, 0], [0, 2], [2, 0], [2, 2], [3, 1]]
    custom = ee.Join.inner("L", "R").apply(prim, sec, cond).first().propertyNames().getInfo()
    assert set(custom) >= {"L", "R"}


def test_spatial_join_within_distance_is_geodesic():
    # The guide's spatial join: parks within a distance of power plants (here: points).
    plants = ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Point(lon, lat), {"id": i})
            for i, (lon, lat) in enumerate([(0, 0), (1, 1)])
        ]
    )
    parks_xy = [(0.5, 0.0), (0.0, 0.95), (1.2, 1.3), (3.0, 3.0)]
    parks = ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Point(lon, lat), {"park": j})
            for j, (lon, lat) in enumerate(parks_xy)
        ]
    )
    limit = 60_000.0
    cond = ee.Filter.withinDistance(
        distance=limit, leftField=".geo", rightField=".geo", maxError=10
    )
    joined = ee.Join.saveAll("near", measureKey="d").apply(plants, parks, cond).getInfo()
    geod = pyproj.Geod(ellps="WGS84")
    for feat, (lon, lat) in zip(joined["features"], [(0, 0), (1, 1)], strict=False):
        d = {j: geod.inv(lon, lat, x, y)[2] for j, (x, y) in enumerate(parks_xy)}
        want = [j for j in range(len(parks_xy)) if d[j] <= limit]
        near = feat["properties"]["near"]
        assert [n["properties"]["park"] for n in near] == want
        for n in near:
            assert n["properties"]["d"] == pytest.approx(d[n["properties"]["park"]], rel=1e-6)
    assert np.isclose(
        geod.inv(0, 0, 0.5, 0)[2], 55_660, rtol=1e-3
    )  # the hand check: 0.5° at the equator


def test_join_of_image_collections_stays_an_image_collection():
    a = ee.ImageCollection(
        [ee.Image(1).set("system:time_start", 0), ee.Image(2).set("system:time_start", 5 * DAY)]
    )
    b = ee.ImageCollection([ee.Image(10).set("system:time_start", DAY)])
    joined = ee.ImageCollection(ee.Join.saveFirst("match").apply(a, b, _within(2)))
    summed = joined.map(lambda im: im.add(ee.Image(im.get("match"))))
    pt = ee.Geometry.Point(0, 0)
    assert summed.first().reduceRegion(ee.Reducer.first(), pt, 1000).getInfo() == {"constant": 11}
    assert joined.size().getInfo() == 1


def test_errors():
    prim, sec = _timed(P_DAYS), _timed({"p1": 3})
    cond = ee.Filter.equals(leftField="id", rightField="id")
    with pytest.raises(ee.EEException, match="gives no measure"):
        ee.Join.saveBest("m", "d").apply(prim, sec, cond).getInfo()


def _boundary_distance(lon: float, lat: float, ring: list[tuple[float, float]]) -> float:
    """Geodesic distance from a point to a polygon ring, by sampling each edge every ~50 m."""
    geod = pyproj.Geod(ellps="WGS84")
    best = np.inf
    for (x0, y0), (x1, y1) in zip(ring[:-1], ring[1:], strict=True):
        t = np.linspace(0, 1, 4000)
        _, _, d = geod.inv(
            np.full(t.size, lon), np.full(t.size, lat), x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        )
        best = min(best, float(d.min()))
    return best


def test_within_distance_from_a_polygon_as_in_the_spatial_join_guide():
    # The guide's spatial join: power plants within 100 km of a protected area (a polygon).
    ring = [(-119.9, 37.5), (-119.2, 37.5), (-119.2, 38.2), (-119.9, 38.2), (-119.9, 37.5)]
    park = ee.FeatureCollection(
        [ee.Feature(ee.Geometry.Polygon([ring], None, False), {"name": "park"})]
    )
    plants_xy = [(-119.5, 37.8), (-120.5, 37.8), (-119.5, 39.3), (-121.5, 37.0)]
    plants = ee.FeatureCollection(
        [ee.Feature(ee.Geometry.Point(x, y), {"plant": i}) for i, (x, y) in enumerate(plants_xy)]
    )
    dist_filter = ee.Filter.withinDistance(
        distance=100000, leftField=".geo", rightField=".geo", maxError=10
    )
    joined = ee.Join.saveAll(matchesKey="points", measureKey="distance").apply(
        park, plants, dist_filter
    )
    points = joined.getInfo()["features"][0]["properties"]["points"]
    expected = {0: 0.0}  # inside the park
    for i, (x, y) in enumerate(plants_xy[1:], start=1):
        d = _boundary_distance(x, y, ring)
        if d <= 100000:
            expected[i] = d
    assert [p["properties"]["plant"] for p in points] == sorted(expected)
    for p in points:
        assert p["properties"]["distance"] == pytest.approx(
            expected[p["properties"]["plant"]], abs=5.0
        )
    assert 50_000 < expected[1] < 100_000  # the hand check: 0.6° of longitude at 37.8°N ≈ 52.8 km


def test_combined_conditions_give_no_measure_for_save_best():
    prim, sec = _timed(P_DAYS), _timed(S_DAYS)
    both = ee.Filter.And(_within(30), ee.Filter.neq("id", "s3"))
    with pytest.raises(ee.EEException, match="gives no measure"):
        ee.Join.saveBest("m", "d").apply(prim, sec, both).getInfo()


def test_within_distance_as_a_collection_filter():
    pts = [(0.0, 0.0), (0.4, 0.0), (0.6, 0.0), (0.0, -0.5)]
    fc = ee.FeatureCollection(
        [ee.Feature(ee.Geometry.Point(x, y), {"i": i}) for i, (x, y) in enumerate(pts)]
    )
    near = fc.filter(
        ee.Filter.withinDistance(
            distance=50_000, leftField=".geo", rightValue=ee.Geometry.Point(0, 0)
        )
    )
    geod = pyproj.Geod(ellps="WGS84")
    want = [i for i, (x, y) in enumerate(pts) if geod.inv(0, 0, x, y)[2] <= 50_000]
    assert near.aggregate_array("i").getInfo() == want == [0, 1]
