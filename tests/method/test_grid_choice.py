"""The analysis grid: extent, CRS and pixels chosen by the user (workflow.grid_choice).

Expected grids are worked by hand on simple lon/lat and metre grids, or from pyproj.
"""

from __future__ import annotations

from types import SimpleNamespace

import ee
import numpy as np
import pyproj
import pytest

from gee_cscc.config import Config
from gee_cscc.errors import InputError
from gee_cscc.method.grid import GridSpec, crs_from_earth_engine
from gee_cscc.testing.modis import MODIS_SINUSOIDAL_PROJ4
from gee_cscc.workflow.grid_choice import analysis_grid

# A 1-degree grid from 70 E to 140 E, 55 N to 15 N.
INPUT = GridSpec("EPSG:4326", (1.0, 0.0, 70.0, 0.0, -1.0, 55.0), (40, 70))


def _box_regions(w, s, e, n):
    fc = ee.FeatureCollection([ee.Feature(ee.Geometry.Rectangle([w, s, e, n], None, False))])
    return SimpleNamespace(features=fc)


def test_default_extent_is_the_input_without_regions(engine):
    assert analysis_grid(INPUT, Config()) == INPUT


def test_default_extent_is_the_regions_box_with_regions(engine):
    grid = analysis_grid(INPUT, Config(), _box_regions(100.5, 20.2, 110.0, 30.7))
    # columns 30 (100-101 E) .. 39 (109-110 E); rows 24 (30-31 N) .. 34 (20-21 N)
    assert grid == GridSpec("EPSG:4326", (1.0, 0.0, 100.0, 0.0, -1.0, 31.0), (11, 10))
    assert analysis_grid(INPUT, Config(extent="input"), _box_regions(100, 20, 110, 30)) == INPUT


def test_box_extent_and_errors(engine):
    grid = analysis_grid(INPUT, Config(extent=(130.5, 10.0, 150.0, 16.5)))
    assert grid == GridSpec("EPSG:4326", (1.0, 0.0, 130.0, 0.0, -1.0, 17.0), (2, 10))
    with pytest.raises(InputError, match="do not overlap"):
        analysis_grid(INPUT, Config(extent=(0.0, 0.0, 10.0, 10.0)))
    with pytest.raises(InputError, match="regions given as polygons"):
        analysis_grid(INPUT, Config(extent="regions"))


def test_scale_keeps_the_input_origin(engine):
    metres_per_degree = 2 * np.pi * 6378137.0 / 360.0
    grid = analysis_grid(INPUT, Config(scale=2 * metres_per_degree))
    assert grid.transform == pytest.approx((2.0, 0.0, 70.0, 0.0, -2.0, 55.0), rel=1e-12)
    assert grid.shape == (20, 35)


def test_crs_transform_is_used_as_given(engine):
    t = (0.5, 0.0, 100.25, 0.0, -0.5, 30.25)
    grid = analysis_grid(INPUT, Config(crs_transform=t), _box_regions(101.0, 21.0, 102.0, 22.0))
    # the box 101..102 E, 21..22 N on that lattice: columns 1..3, rows 16..19
    assert grid == GridSpec("EPSG:4326", (0.5, 0.0, 100.75, 0.0, -0.5, 22.25), (3, 3))


def test_another_crs_covers_the_box_in_that_crs(engine):
    cfg = Config(crs="EPSG:3857", scale=100_000.0, extent=(100.0, 20.0, 110.0, 30.0))
    grid = analysis_grid(INPUT, cfg)
    tf = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    x0, y0 = tf.transform(100.0, 20.0)
    x1, y1 = tf.transform(110.0, 30.0)
    a, _, c, _, e, f = grid.transform
    assert (a, e) == (100_000.0, -100_000.0)
    assert c <= x0 < c + a and c + a * (grid.width - 1) < x1 <= c + a * grid.width
    assert f + e < y1 <= f and f + e * grid.height <= y0 < f + e * (grid.height - 1)


def test_earth_engines_modis_wkt_is_read_on_the_sphere(engine):
    wkt = ee.Projection("SR-ORG:6974").wkt().getInfo()
    crs = crs_from_earth_engine("SR-ORG:6974", wkt)
    got = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(100, 40)
    ref = pyproj.Transformer.from_crs("EPSG:4326", MODIS_SINUSOIDAL_PROJ4, always_xy=True)
    assert got == pytest.approx(ref.transform(100, 40), abs=1e-6)
    with pytest.raises(ValueError, match="unknown to PROJ"):
        crs_from_earth_engine("SR-ORG:6974")
    grid = GridSpec("SR-ORG:6974", (1000.0, 0, 0, 0, -1000.0, 0), (2, 2), wkt)
    assert grid.to_dict()["wkt"] == wkt
    assert pyproj.CRS.from_wkt(grid.to_dict()["crs_wkt"]).equals(crs)


def test_region_image_is_sampled_at_the_analysis_pixel_centres(engine, tmp_asset):
    import xarray as xr

    from gee_cscc.method import regions_from_image
    from gee_cscc.testing import compute_pixels
    from gee_cscc.workflow.grid_choice import regions_on_grid

    ids = np.arange(1, 13 * 17 + 1).reshape(13, 17) % 7
    ys = 55.0 - (np.arange(13) + 0.5)
    xs = 70.0 + (np.arange(17) + 0.5)
    asset = tmp_asset("ids")
    engine.store.put_image(asset, xr.DataArray(ids, dims=("y", "x"), coords={"y": ys, "x": xs}))
    regions = regions_from_image(ee.Image(asset), ids=list(range(1, 7)))
    grid = GridSpec("EPSG:4326", (2.5, 0.0, 70.0, 0.0, -2.5, 55.0), (5, 6))
    got = compute_pixels(regions_on_grid(regions, grid).image, grid.compute_pixels_grid())
    # the 1-degree pixel holding each 2.5-degree pixel's centre (1.25 + 2.5 k degrees in)
    rows = np.floor(1.25 + 2.5 * np.arange(5)).astype(int)
    cols = np.floor(1.25 + 2.5 * np.arange(6)).astype(int)
    assert np.array_equal(got["region"].filled(-1), ids[np.ix_(rows, cols)])
    polygons = SimpleNamespace(features=object(), image=None)
    assert regions_on_grid(polygons, grid) is polygons


def test_analyze_on_a_coarser_grid_with_a_region_image(engine, tmp_asset):
    import xarray as xr

    from gee_cscc.method import regions_from_image
    from gee_cscc.testing import npp_cube
    from gee_cscc.workflow.analyze import analyze

    cube = npp_cube(range(2001, 2007), (12, 15), origin=(100.0, 40.0), pixel_size=1.0)
    engine.store.put_collection(tmp_asset("npp"), cube, band="npp")
    ids = (np.arange(12)[:, None] // 4 + 1) * (np.arange(15)[None, :] % 2 + 1)  # 1..6
    region = xr.DataArray(ids, dims=("y", "x"), coords={"y": cube["y"], "x": cube["x"]})
    engine.store.put_image(tmp_asset("ids"), region)
    regions = regions_from_image(ee.Image(tmp_asset("ids")), ids=sorted(set(ids.ravel())))
    metres_per_degree = 2 * np.pi * 6378137.0 / 360.0
    cfg = Config(start=2001, end=2006, reference_year=2003, scale=3 * metres_per_degree)
    results = analyze(tmp_asset("npp"), cfg, regions=regions)
    assert results.summary["grid"]["shape"] == [4, 5]
    # Coarse cells: 3 x 3 block means (all valid, all positive: every cell is in the VCA);
    # each takes the id at its centre, 1.5 + 3k degrees in: fine pixel 1 + 3k.
    coarse_ids = ids[np.ix_(1 + 3 * np.arange(4), 1 + 3 * np.arange(5))]
    table = results.capacity.set_index("region")
    for k in sorted(set(ids.ravel())):
        expected = int((coarse_ids == k).sum())
        got = int(table.loc[str(k), "vca_cells"]) if str(k) in table.index else 0
        assert got == expected, k
    means = cube.values.reshape(6, 4, 3, 5, 3).mean(axis=(2, 4))
    # rasters are pulled as float32 (xee)
    assert np.allclose(results.rasters["cscc"].values, means.max(axis=0), rtol=1e-6)


def test_nominal_scale_is_earth_engines():
    # Earth Engine: 1 degree = 2 pi 6378137 / 360 m at the equator; projected units as they are
    assert INPUT.nominal_scale() == pytest.approx(111319.49079327357, rel=1e-12)
    metric = GridSpec("EPSG:3857", (250.0, 0.0, 0.0, 0.0, -250.0, 0.0), (1, 1))
    assert metric.nominal_scale() == 250.0
