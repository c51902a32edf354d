"""Pixel areas (``area.pixel_area``, ``Image.pixelArea``) against independent references.

The references are ``pyproj.Geod.polygon_area_perimeter`` of each pixel's outline. A pixel's
edges are straight lines in its grid's CRS, which on the ellipsoid are not geodesics (a
parallel is not), so each outline is densified along those straight lines first (2000 points
per edge: the densified geodesic polygon is then within ~1e-11 of the true area). The plain
4-corner geodesic quadrilateral is off by ~5e-5 for a 1° cell, which one test shows.
"""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

from gee_cscc.engine.raster.area import lonlat_ring_area, pixel_area
from gee_cscc.engine.raster.grid import Grid, Projection
from gee_cscc.testing import geodesic_area, wgs84_surface_area
from gee_cscc.testing import grid as compute_pixels_grid


def outline(transform, col, row, n=2000):
    """The outline of pixel (row, col), densified along straight lines of the grid's CRS."""
    a, b, c, d, e, f = transform
    t = np.linspace(0.0, 1.0, n, endpoint=False)
    cols = np.concatenate([col + t, np.full(n, col + 1.0), col + 1.0 - t, np.full(n, col)])
    rows = np.concatenate([np.full(n, row), row + t, np.full(n, row + 1.0), row + 1.0 - t])
    return c + a * cols + b * rows, f + d * cols + e * rows


def reference_areas(grid: Grid, cells) -> list[float]:
    tf = None
    if grid.crs != "EPSG:4326":
        tf = pyproj.Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    out = []
    for r, c in cells:
        x, y = outline(grid.transform, c, r)
        if tf is not None:
            x, y = tf.transform(x, y)
        out.append(geodesic_area(x, y))
    return out


@pytest.mark.parametrize(
    ("transform", "shape"),
    [
        ((1.0, 0.0, -180.0, 0.0, -1.0, 90.0), (180, 360)),  # global 1°, north up
        ((0.5, 0.0, 100.0, 0.0, -0.5, 40.0), (4, 5)),  # small grid, as in the package tests
        ((0.25, 0.0, 10.0, 0.0, 0.25, -89.0), (3, 2)),  # south-up, next to the south pole
    ],
)
def test_geographic_pixels_match_geod(transform, shape):
    grid = Grid(Projection("EPSG:4326", transform), shape)
    area = pixel_area(grid)
    h, w = shape
    cells = {(0, 0), (h - 1, w - 1), (h // 2, w // 3), (h - 1, 0)}
    for (r, c), ref in zip(cells, reference_areas(grid, cells), strict=True):
        assert area[r, c] == pytest.approx(ref, rel=1e-9), (r, c)
    # A row of a lat/lon grid has one area: the cells differ only in longitude.
    assert np.all(area == area[:, :1])


def test_global_grid_sums_to_the_ellipsoid_surface():
    grid = Grid(Projection("EPSG:4326", (1.0, 0.0, -180.0, 0.0, -1.0, 90.0)), (180, 360))
    assert pixel_area(grid).sum() == pytest.approx(wgs84_surface_area(), rel=1e-12)


def test_the_corner_quadrilateral_is_not_the_pixel():
    """Geodesic edges between the 4 corners cut across the parallels: a different area."""
    grid = Grid(Projection("EPSG:4326", (1.0, 0.0, 0.0, 0.0, -1.0, 46.0)), (1, 1))
    corners = geodesic_area([0.0, 1.0, 1.0, 0.0], [46.0, 46.0, 45.0, 45.0])
    assert abs(pixel_area(grid)[0, 0] / corners - 1) > 1e-6


@pytest.mark.parametrize(
    ("crs", "transform", "shape"),
    [
        # Web Mercator: pixels are lat/lon rectangles; 100 km pixels show any edge error.
        ("EPSG:3857", (100_000.0, 0.0, -300_000.0, 0.0, -100_000.0, 5_000_000.0), (4, 3)),
        # UTM 50N, 500 m pixels (MODIS-like size), edges curved in lon/lat.
        ("EPSG:32650", (500.0, 0.0, 300_000.0, 0.0, -500.0, 4_500_000.0), (3, 4)),
        # UTM with 50 km pixels far from the central meridian: strongly curved edges.
        ("EPSG:32650", (50_000.0, 0.0, 100_000.0, 0.0, -50_000.0, 6_000_000.0), (2, 2)),
    ],
)
def test_projected_pixels_match_geod(crs, transform, shape):
    grid = Grid(Projection(crs, transform), shape)
    area = pixel_area(grid)
    h, w = shape
    cells = [(r, c) for r in range(h) for c in range(w)]
    ref = np.array(reference_areas(grid, cells)).reshape(shape)
    np.testing.assert_allclose(area, ref, rtol=1e-9)


def test_projected_grid_tiles_agree_with_the_whole():
    """Pixel areas do not depend on the window they are computed in."""
    grid = Grid(
        Projection("EPSG:32650", (1000.0, 0.0, 400_000.0, 0.0, -1000.0, 3_000_000.0)), (6, 7)
    )
    whole = pixel_area(grid)
    for r0, c0, sub in grid.tiles(4):
        np.testing.assert_allclose(
            pixel_area(sub), whole[r0 : r0 + sub.height, c0 : c0 + sub.width], rtol=1e-12
        )


def test_pixels_of_a_polar_grid_around_the_pole():
    """Polar stereographic pixels, the middle one containing the north pole."""
    transform = (100_000.0, 0.0, -150_000.0, 0.0, -100_000.0, 150_000.0)
    grid = Grid(Projection("EPSG:3413", transform), (3, 3))
    area = pixel_area(grid)
    ref = np.array(reference_areas(grid, [(r, c) for r in range(3) for c in range(3)]))
    np.testing.assert_allclose(area, ref.reshape(3, 3), rtol=1e-9)
    # The map scale grows away from the pole, so the pixel around it is the largest.
    assert area[1, 1] == area.max()


def test_lonlat_ring_area_is_signed_and_matches_pixel_area():
    grid = Grid(Projection("EPSG:4326", (2.0, 0.0, 10.0, 0.0, -3.0, 60.0)), (1, 1))
    ccw = lonlat_ring_area([10.0, 12.0, 12.0, 10.0], [57.0, 57.0, 60.0, 60.0])
    cw = lonlat_ring_area([10.0, 10.0, 12.0, 12.0], [57.0, 60.0, 60.0, 57.0])
    assert ccw == pytest.approx(pixel_area(grid)[0, 0], rel=1e-12)
    assert cw == pytest.approx(-ccw, rel=1e-12)


def test_image_pixel_area_through_the_client(engine):
    import ee

    grid = compute_pixels_grid((0.5, 0.0, 100.0, 0.0, -0.5, 40.0), (2, 3))
    arr = ee.data.computePixels(
        {"expression": ee.Image.pixelArea(), "fileFormat": "NUMPY_NDARRAY", "grid": grid}
    )
    got = np.asarray(arr["area"], dtype=float)
    g = Grid(Projection("EPSG:4326", (0.5, 0.0, 100.0, 0.0, -0.5, 40.0)), (2, 3))
    ref = np.array(reference_areas(g, [(r, c) for r in range(2) for c in range(3)])).reshape(2, 3)
    np.testing.assert_allclose(got, ref, rtol=1e-9)
