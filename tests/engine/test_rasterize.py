"""Geometries on pixel grids: the centre rule, covered fractions, clipping.

Hand-worked grids use a 6×6 grid of unit pixels, north up, whose north-west corner is at
(0, 6): pixel (row r, col c) has its centre at x = c + 0.5, y = 5.5 − r. The tie rule under
test (module notes of ``gee_cscc.engine.rasterize``): a centre on an edge is inside when the
polygon lies on the edge's +col side, or for a horizontal edge on its +row side; on a north-up
grid, west and north edges are in, east and south edges are out.
"""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely
import shapely.geometry as sg
import shapely.ops

from gee_cscc.engine.core.values import Geometry
from gee_cscc.engine.raster.grid import Grid, Projection
from gee_cscc.engine.raster.rasterize import centre_mask, coverage_fraction

UNIT = Grid(Projection("EPSG:4326", (1.0, 0.0, 0.0, 0.0, -1.0, 6.0)), (6, 6))
GEOD = pyproj.Geod(ellps="WGS84")


def planar(shape, crs="EPSG:4326") -> Geometry:
    return Geometry(shape, crs, geodesic=False)


def cells(*rc) -> np.ndarray:
    out = np.zeros((6, 6), dtype=bool)
    for r, c in rc:
        out[r, c] = True
    return out


def block(rows, cols, shape=(6, 6)) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    out[np.ix_(list(rows), list(cols))] = True
    return out


# --- the centre rule on hand-worked grids -------------------------------------------------


def test_box_with_edges_through_centres():
    # Centres on x = 1.5 (west edge: in) and x = 3.5 (east: out); y = 3.5 (north: in, row 2)
    # and y = 1.5 (south: out, row 4).
    mask = centre_mask(planar(sg.box(1.5, 1.5, 3.5, 3.5)), UNIT)
    np.testing.assert_array_equal(mask, block(range(2, 4), range(1, 3)))


def test_box_with_edges_on_pixel_edges():
    mask = centre_mask(planar(sg.box(1.0, 1.0, 4.0, 4.0)), UNIT)
    np.testing.assert_array_equal(mask, block(range(2, 5), range(1, 4)))


def test_triangle_with_its_hypotenuse_through_centres():
    # Right angle at (0.5, 0.5); hypotenuse x + y = 6 through the centres with r == c.
    # The west leg (x = 0.5) keeps its centres, the south leg (y = 0.5) drops them, and a
    # centre on the hypotenuse has the triangle on its west (−col) side: out.
    tri = sg.Polygon([(0.5, 0.5), (5.5, 0.5), (0.5, 5.5)])
    expected = np.zeros((6, 6), dtype=bool)
    for r in range(6):
        for c in range(6):
            x, y = c + 0.5, 5.5 - r
            expected[r, c] = x >= 0.5 and y > 0.5 and x + y < 6
    np.testing.assert_array_equal(centre_mask(planar(tri), UNIT), expected)


def test_south_up_grid_applies_the_rule_in_pixel_coordinates():
    # Rows grow northwards here: the +row side of a horizontal edge is its north side.
    grid = Grid(Projection("EPSG:4326", (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)), (6, 6))
    mask = centre_mask(planar(sg.box(1.5, 1.5, 3.5, 3.5)), grid)
    np.testing.assert_array_equal(mask, block(range(1, 3), range(1, 3)))


@pytest.mark.parametrize(
    "cut",
    [
        [(2.5, -1.0), (2.5, 7.0)],  # vertical, through the centres of column 2
        [(-1.0, 3.5), (7.0, 3.5)],  # horizontal, through the centres of row 2
        [(-1.0, 7.0), (7.0, -1.0)],  # diagonal through the centres with r == c
        [(-1.5, -0.5), (2.5, 5.5), (7.5, 0.5)],  # bent, through (0.5, 2.5), (3.5, 4.5) …
    ],
)
def test_two_polygons_sharing_an_edge_split_the_centres(cut):
    box = sg.box(-1.0, -1.0, 7.0, 7.0)
    halves = shapely.get_parts(shapely.ops.split(box, sg.LineString(cut)))
    assert len(halves) == 2
    a, b = (centre_mask(planar(h), UNIT) for h in halves)
    assert not np.any(a & b), "a centre counted by both polygons"
    assert np.all(a | b), "a centre counted by neither polygon"


def test_a_tiling_takes_every_centre_exactly_once():
    # Voronoi cells of points on a lattice offset by half a pixel: many cell edges and
    # vertices fall exactly on pixel centres.
    rng = np.random.default_rng(3)
    seeds = sg.MultiPoint(rng.integers(0, 13, size=(25, 2)) / 2.0)
    tiles = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=sg.box(-5, -5, 11, 11)))
    count = np.zeros((6, 6), dtype=int)
    for tile in tiles:
        count += centre_mask(planar(tile), UNIT)
    np.testing.assert_array_equal(count, np.ones((6, 6), dtype=int))


def test_polygon_with_a_hole_and_multipolygon():
    holed = sg.Polygon(
        [(0, 0), (6, 0), (6, 6), (0, 6)], [[(1.5, 1.5), (4.5, 1.5), (4.5, 4.5), (1.5, 4.5)]]
    )
    # The hole keeps its own centres by the same rule: its west edge (x = 1.5) and north
    # edge (y = 4.5, row 1) are the hole's, so those centres are out of the polygon.
    hole = block(range(1, 4), range(1, 4))
    np.testing.assert_array_equal(centre_mask(planar(holed), UNIT), ~hole)
    multi = sg.MultiPolygon([sg.box(0, 5, 2, 6), sg.box(4, 0, 6, 2)])
    np.testing.assert_array_equal(
        centre_mask(planar(multi), UNIT), block([0], [0, 1]) | block([4, 5], [4, 5])
    )


def test_overlapping_multipolygon_parts_are_a_union():
    # Not a valid MultiPolygon (the parts overlap): an even–odd fill would drop the overlap.
    multi = sg.MultiPolygon([sg.box(0, 0, 4, 4), sg.box(2, 2, 6, 6)])
    expected = block(range(2, 6), range(0, 4)) | block(range(0, 4), range(2, 6))
    np.testing.assert_array_equal(centre_mask(planar(multi), UNIT), expected)


def test_points_and_lines():
    pts = sg.MultiPoint([(0.5, 0.5), (2.0, 4.0), (-3.0, 1.0)])  # inside, on a corner, outside
    np.testing.assert_array_equal(centre_mask(planar(pts), UNIT), cells((5, 0), (2, 2)))
    line = sg.LineString([(0.2, 2.3), (3.7, 2.3)])  # along row 3
    np.testing.assert_array_equal(centre_mask(planar(line), UNIT), block([3], range(0, 4)))


def test_empty_and_outside_geometries():
    assert not centre_mask(planar(sg.Polygon()), UNIT).any()
    assert not centre_mask(planar(sg.box(10, 10, 12, 12)), UNIT).any()
    assert centre_mask(planar(sg.box(-10, -10, 12, 12)), UNIT).all()


# --- true edges on grids of other CRSs -------------------------------------------------------


def lonlat_centres(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = grid.centres()
    if grid.crs == "EPSG:4326":
        return np.asarray(xs, float), np.asarray(ys, float)
    tf = pyproj.Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    lon, lat = tf.transform(np.asarray(xs, float), np.asarray(ys, float))
    return np.asarray(lon), np.asarray(lat)


def geodesic_ring(vertices, n=2000) -> sg.Polygon:
    """A geodesic polygon densified with ``Geod.npts`` (n points per edge)."""
    pts = []
    closed = [*vertices, vertices[0]]
    for (x0, y0), (x1, y1) in zip(closed[:-1], closed[1:], strict=True):
        pts.append((x0, y0))
        pts.extend(GEOD.npts(x0, y0, x1, y1, n))
    return sg.Polygon(pts)


def expected_mask(region: sg.Polygon, grid: Grid, margin_deg: float) -> np.ndarray:
    lon, lat = lonlat_centres(grid)
    pts = shapely.points(lon, lat)
    # No centre may sit so close to the boundary that the reference cannot decide it.
    assert shapely.distance(pts, region.boundary).min() > margin_deg
    return shapely.contains(region, pts)


def test_geodesic_edges_bulge_poleward_on_a_lonlat_grid():
    # 5° pixels; the north edge at 60° rises to 63.4° at lon 0 and the south edge at 40°
    # to 44.1°, so centres at 62.5° are in and centres at 42.5° are out near lon 0.
    grid = Grid(Projection("EPSG:4326", (5.0, 0.0, -30.0, 0.0, -5.0, 75.0)), (8, 12))
    verts = [(-30.0, 40.0), (30.0, 40.0), (30.0, 60.0), (-30.0, 60.0)]
    geom = Geometry(sg.Polygon(verts), "EPSG:4326", geodesic=True)
    expected = expected_mask(geodesic_ring(verts), grid, 0.01)
    mask = centre_mask(geom, grid)
    np.testing.assert_array_equal(mask, expected)
    planar_mask = centre_mask(planar(sg.Polygon(verts)), grid)
    assert (mask != planar_mask).sum() >= 4  # the bulge matters here


def test_lonlat_polygon_on_a_utm_grid():
    # A long edge straight in lon/lat is a curve in UTM: the mask follows the curve.
    grid = Grid(
        Projection("EPSG:32650", (20_000.0, 0.0, 100_000.0, 0.0, -20_000.0, 4_600_000.0)), (20, 30)
    )
    poly = sg.Polygon([(112.0, 34.0), (118.5, 40.6), (112.3, 40.9)])
    expected = expected_mask(poly, grid, 1e-4)
    np.testing.assert_array_equal(centre_mask(planar(poly), grid), expected)


def test_utm_polygon_on_a_lonlat_grid():
    # The inverse: straight UTM edges are curves in lon/lat; decide each centre in UTM.
    grid = Grid(Projection("EPSG:4326", (0.1, 0.0, 111.0, 0.0, -0.1, 42.0)), (90, 90))
    utm = sg.Polygon([(200_000, 3_800_000), (760_000, 4_000_000), (300_000, 4_600_000)])
    lon, lat = lonlat_centres(grid)
    x, y = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True).transform(
        lon, lat
    )
    pts = shapely.points(x, y)
    assert shapely.distance(pts, utm.boundary).min() > 10.0
    expected = shapely.contains(utm, pts)
    np.testing.assert_array_equal(centre_mask(planar(utm, "EPSG:32650"), grid), expected)


def test_geometry_in_pixel_units_of_a_projection():
    # What an export sends: a Rectangle in the image projection's pixel units.
    proj = Projection("EPSG:4326", (0.5, 0.0, 100.0, 0.0, -0.5, 40.0))
    rect = Geometry(sg.box(1, 1, 3, 2), proj, geodesic=False)
    grid = Grid(proj, (4, 5))
    np.testing.assert_array_equal(centre_mask(rect, grid), block([1], [1, 2], (4, 5)))


# --- covered fractions ------------------------------------------------------------------------


def pixel_polygon(grid: Grid, r: int, c: int) -> sg.Polygon:
    a, b, cc, d, e, f = grid.transform
    corners = [(c, r), (c + 1, r), (c + 1, r + 1), (c, r + 1)]
    return sg.Polygon([(cc + a * i + b * j, f + d * i + e * j) for i, j in corners])


def reference_fractions(shape, grid: Grid) -> np.ndarray:
    out = np.zeros(grid.shape)
    for r in range(grid.height):
        for c in range(grid.width):
            px = pixel_polygon(grid, r, c)
            out[r, c] = px.intersection(shape).area / px.area
    return out


GRID = Grid(Projection("EPSG:4326", (0.5, 0.0, 100.0, 0.0, -0.5, 40.0)), (4, 5))
TILTED = Grid(Projection("EPSG:4326", (0.4, 0.15, 100.0, 0.1, -0.45, 40.0)), (5, 6))


@pytest.mark.parametrize("grid", [GRID, TILTED], ids=["north-up", "sheared"])
@pytest.mark.parametrize(
    "shape",
    [
        sg.Polygon([(100.13, 38.21), (102.31, 39.93), (101.74, 38.06)]),
        sg.MultiPolygon(
            [
                sg.Polygon([(100.1, 39.9), (100.9, 39.7), (100.4, 39.1)]),
                sg.box(101.3, 38.15, 102.2, 38.85),
            ]
        ),
        sg.Polygon(
            [(100.05, 38.05), (102.4, 38.1), (102.35, 39.95), (100.1, 39.9)],
            [[(100.6, 38.6), (101.9, 38.7), (101.2, 39.55)]],
        ),
    ],
    ids=["triangle", "multipolygon", "hole"],
)
def test_coverage_fraction_is_the_intersection_area(shape, grid):
    got = coverage_fraction(planar(shape), grid)
    np.testing.assert_allclose(got, reference_fractions(shape, grid), atol=1e-12)
    # Inside the grid, the fractions add up to the shape's area in pixels.
    a, b, _, d, e, _ = grid.transform
    covered = shape.intersection(
        shapely.union_all(
            [pixel_polygon(grid, r, c) for r in range(grid.height) for c in range(grid.width)]
        )
    )
    assert got.sum() == pytest.approx(covered.area / abs(a * e - b * d), rel=1e-12)


def test_coverage_of_pixel_aligned_and_tiny_shapes():
    aligned = sg.box(100.5, 38.5, 101.5, 39.5)  # exactly 2×2 pixels
    expected = np.zeros((4, 5))
    expected[1:3, 1:3] = 1.0
    np.testing.assert_array_equal(coverage_fraction(planar(aligned), GRID), expected)
    tiny = sg.box(101.1, 39.1, 101.2, 39.15)  # inside one pixel, no centre
    got = coverage_fraction(planar(tiny), GRID)
    assert got[1, 2] == pytest.approx(0.02, rel=1e-9)
    assert np.count_nonzero(got) == 1
    assert not centre_mask(planar(tiny), GRID).any()


def test_coverage_of_a_complex_boundary():
    # A many-vertex star: the boundary is intersected pixel by pixel through its local part.
    t = np.linspace(0, 2 * np.pi, 2001)[:-1]
    rad = 0.8 + 0.15 * np.sin(37 * t)
    star = sg.Polygon(np.column_stack((101.2 + rad * np.cos(t), 39.0 + rad * np.sin(t))))
    grid = Grid(Projection("EPSG:4326", (0.05, 0.0, 100.0, 0.0, -0.05, 40.0)), (40, 48))
    got = coverage_fraction(planar(star), grid)
    ref = reference_fractions(star, grid)
    np.testing.assert_allclose(got, ref, atol=1e-12)


# --- through the client: Image.clip, Image.clipToCollection -------------------------------


def data_array(values: np.ndarray, transform) -> object:
    """A (y, x) DataArray with pixel-centre coordinates of a north-up transform."""
    import xarray as xr

    a, _, c, _, e, f = transform
    h, w = values.shape
    return xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"y": f + e * (np.arange(h) + 0.5), "x": c + a * (np.arange(w) + 0.5)},
        attrs={"crs": "EPSG:4326", "transform": tuple(transform)},
        name="v",
    )


@pytest.fixture
def image_id(engine, tmp_asset):
    data = np.arange(20, dtype=float).reshape(4, 5) + 1.0
    da = data_array(data, (0.5, 0.0, 100.0, 0.0, -0.5, 40.0))
    asset = tmp_asset("img")
    engine.store.put_image(asset, da)
    return asset


def pixels(image) -> np.ndarray:
    import ee

    from gee_cscc.testing import grid as grid_spec

    # sameFootprint=false: a clipped image's footprint is the clip region, and unmask would
    # otherwise leave the pixels outside it masked (Earth Engine's rule).
    arr = ee.data.computePixels(
        {
            "expression": ee.Image(image).unmask(-9999, False),
            "fileFormat": "NUMPY_NDARRAY",
            "grid": grid_spec((0.5, 0.0, 100.0, 0.0, -0.5, 40.0), (4, 5)),
        }
    )
    return np.asarray(arr[arr.dtype.names[0]], dtype=float)


def test_image_clip_keeps_pixels_by_the_centre_rule(image_id):
    import ee

    # Edges through centres: x 100.75 (west, in) .. 101.75 (east, out); y 39.75 (north, in,
    # row 0) .. 38.75 (south, out, row 2).
    rect = ee.Geometry.Rectangle([100.75, 38.75, 101.75, 39.75], None, False)
    got = pixels(ee.Image(image_id).clip(rect))
    values = np.arange(20, dtype=float).reshape(4, 5) + 1.0
    expected = np.where(block(range(0, 2), range(1, 3), (4, 5)), values, -9999.0)
    np.testing.assert_array_equal(got, expected)


def test_image_clip_to_collection_takes_the_union(engine, tmp_asset, image_id):
    import ee

    table = tmp_asset("zones")
    west = [[100.0, 38.0], [101.25, 38.0], [101.25, 40.0], [100.0, 40.0], [100.0, 38.0]]
    south_east = [[101.25, 38.0], [102.5, 38.0], [102.5, 38.75], [101.25, 38.75], [101.25, 38.0]]
    engine.store.put_table(
        table,
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"k": 1},
                    "geometry": {"type": "Polygon", "coordinates": [west]},
                },
                {
                    "type": "Feature",
                    "properties": {"k": 2},
                    "geometry": {"type": "Polygon", "coordinates": [south_east]},
                },
            ],
        },
    )
    got = pixels(ee.Image(image_id).clipToCollection(ee.FeatureCollection(table)))
    values = np.arange(20, dtype=float).reshape(4, 5) + 1.0
    # West zone: centres x 100.25, 100.75 (x = 101.25 is its east edge: out). South-east
    # zone: x = 101.25 is its west edge (in) and y = 38.75 its north edge (in): rows 2, 3.
    keep = block(range(4), range(0, 2), (4, 5)) | block([2, 3], range(2, 5), (4, 5))
    np.testing.assert_array_equal(got, np.where(keep, values, -9999.0))


def test_image_clip_with_a_geodesic_polygon(engine, tmp_asset):
    import ee

    grid = Grid(Projection("EPSG:4326", (5.0, 0.0, -30.0, 0.0, -5.0, 75.0)), (8, 12))
    da = data_array(np.ones((8, 12)), grid.transform)
    asset = tmp_asset("coarse")
    engine.store.put_image(asset, da)
    verts = [(-30.0, 40.0), (30.0, 40.0), (30.0, 60.0), (-30.0, 60.0)]
    poly = ee.Geometry.Polygon([list(v) for v in verts])  # geodesic by default
    from gee_cscc.testing import grid as grid_spec

    arr = ee.data.computePixels(
        {
            "expression": ee.Image(asset).clip(poly).unmask(0),
            "fileFormat": "NUMPY_NDARRAY",
            "grid": grid_spec(grid.transform, grid.shape),
        }
    )
    got = np.asarray(arr["v"], dtype=float) > 0
    np.testing.assert_array_equal(got, expected_mask(geodesic_ring(verts), grid, 0.01))


# --- Image.clipToBoundsAndScale: what exports send -----------------------------------------


def band_info(image) -> dict:
    return image.getInfo()["bands"][0]


def test_export_rectangle_in_the_image_projection(image_id):
    import ee

    # ee.batch with crs + crsTransform + dimensions: reproject, then a Rectangle in the
    # image's own pixel units.
    transform = [0.25, 0.0, 100.5, 0.0, -0.25, 39.5]
    img = ee.Image(image_id).reproject(crs="EPSG:4326", crsTransform=transform)
    rect = ee.Geometry.Rectangle([0, 0, 6, 3], img.projection(), False, True)
    info = band_info(img.clipToBoundsAndScale(geometry=rect))
    assert info["dimensions"] == [6, 3]
    assert info["crs"] == "EPSG:4326"
    assert info["crs_transform"] == transform


def test_clip_to_bounds_and_scale_with_a_scale(image_id):
    import ee

    from gee_cscc.engine.raster.grid import METERS_PER_DEGREE

    # The image projection scaled to 0.25° keeps its origin (100, 40); the bounding box
    # [100.3, 101.2] × [38.9, 39.95] meets columns 1..4 (x 100.25..101.25) and rows 0..4
    # (y 40.0..38.75).
    rect = ee.Geometry.Rectangle([100.3, 38.9, 101.2, 39.95], None, False)
    info = band_info(
        ee.Image(image_id).clipToBoundsAndScale(geometry=rect, scale=0.25 * METERS_PER_DEGREE)
    )
    assert info["dimensions"] == [4, 5]
    np.testing.assert_allclose(info["crs_transform"], [0.25, 0, 100.25, 0, -0.25, 40.0])


def test_clip_to_bounds_and_scale_keeps_an_unaligned_origin(engine, tmp_asset):
    """Scaling the image projection keeps its translation (the docs: the projection is scaled)."""
    import ee

    from gee_cscc.engine.raster.grid import METERS_PER_DEGREE

    da = data_array(np.ones((4, 5)), (0.5, 0.0, 100.1, 0.0, -0.5, 40.2))
    asset = tmp_asset("shifted")
    engine.store.put_image(asset, da)
    rect = ee.Geometry.Rectangle([100.3, 38.9, 101.2, 39.95], None, False)
    info = band_info(
        ee.Image(asset).clipToBoundsAndScale(geometry=rect, scale=0.25 * METERS_PER_DEGREE)
    )
    # Lattice x = 100.1 + 0.25 k, y = 40.2 − 0.25 k: columns 0..4 and rows 1..5 meet the box.
    assert info["dimensions"] == [5, 5]
    np.testing.assert_allclose(info["crs_transform"], [0.25, 0, 100.1, 0, -0.25, 39.95])


def test_clip_to_bounds_and_scale_with_width_and_height(image_id):
    import ee

    rect = ee.Geometry.Rectangle([100.5, 38.5, 102.0, 39.5], None, False)
    info = band_info(ee.Image(image_id).clipToBoundsAndScale(geometry=rect, width=3, height=4))
    assert info["dimensions"] == [3, 4]


def test_vertex_on_the_last_row_centre_line():
    """An edge that starts exactly on the last row's centre line still closes its ring
    (regression: such edges were dropped, and rasterizing raised 'unclosed ring')."""
    import shapely

    from gee_cscc.engine.core.values import Geometry
    from gee_cscc.engine.raster.grid import Grid, Projection
    from gee_cscc.engine.raster.rasterize import centre_mask

    grid = Grid(Projection("EPSG:4326", (1.0, 0.0, 0.0, 0.0, -1.0, 4.0)), (4, 4))
    # Last row's centres are at y = 0.5; the triangle has a vertex exactly there.
    tri = shapely.Polygon([(0.2, 0.5), (3.8, 3.9), (3.8, 0.1)])
    got = centre_mask(Geometry(tri), grid)
    xs = np.arange(4) + 0.5
    ys = 4 - (np.arange(4) + 0.5)
    expected = np.array([[tri.contains(shapely.Point(x, y)) for x in xs] for y in ys])
    # Centres on the boundary itself are decided by the tie rule; none lie on it here
    # except the vertex row, so compare every centre strictly inside or outside.
    on_edge = np.array(
        [[tri.boundary.distance(shapely.Point(x, y)) < 1e-12 for x in xs] for y in ys]
    )
    np.testing.assert_array_equal(got[~on_edge], expected[~on_edge])
