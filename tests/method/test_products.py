"""Public products by name: a synthetic MOD17A3HGF in the local store (sinusoidal
``SR-ORG:6974``, int16 ``Npp`` with land-cover codes and fill), run with
``--product modis-npp``. Every expected number is NumPy on the stored values (codes masked,
× 0.1) with cell areas from ``pyproj.Geod`` on densified sinusoidal outlines.
"""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import ee
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio

from gee_cscc.config import Config
from gee_cscc.method.inputs import load_annual_npp, masked_counts
from gee_cscc.testing import compute_pixels, geodesic_area
from gee_cscc.testing.modis import MODIS_CELL, MODIS_SINUSOIDAL_PROJ4, modis_like_collection
from gee_cscc.workflow.grid_choice import analysis_grid

CELLS = 400  # 185 km pixels: 216 x 108 for the globe
BOX = (100.0, 20.0, 120.0, 40.0)


@pytest.fixture(scope="module")
def modis(engine):
    return modis_like_collection(
        engine.store, "MODIS/061/GEE_CSCC_PRODUCTS_TEST", cells=CELLS, years=range(2001, 2013)
    )


def _window(m, grid):
    """The stored values under ``grid`` (a window of the product's grid), by offsets."""
    a, _, c, _, e, f = m.transform
    col0 = round((grid.transform[2] - c) / a)
    row0 = round((grid.transform[5] - f) / e)
    h, w = grid.shape
    return m.stored[:, row0 : row0 + h, col0 : col0 + w]


def test_product_masks_codes_and_scales(engine, modis):
    cfg = Config(product="modis-npp", end=2012)
    annual = load_annual_npp(modis.asset_id, cfg)
    assert annual.band == "Npp" and annual.grid.crs == "SR-ORG:6974"
    grid = analysis_grid(annual.grid, cfg, extent=BOX)
    annual = annual.on_grid(grid)
    stored = _window(modis, grid).astype(float)
    outside = (stored < 0) | (stored > 32700)
    assert outside.any() and (stored == 32767).any()
    assert masked_counts(annual, grid) == {
        y: int(outside[k].sum()) for k, y in enumerate(modis.years)
    }
    got = compute_pixels(annual.image(2005), grid.compute_pixels_grid())["npp"]
    k = modis.years.index(2005)
    expected = np.where(outside[k], np.nan, stored[k] * 0.1)
    assert np.array_equal(np.ma.getmaskarray(got), np.isnan(expected))
    assert np.allclose(got.filled(np.nan)[~outside[k]], expected[~outside[k]], rtol=1e-12)


def test_coarser_scale_is_the_mean_of_the_valid_pixels(engine, modis):
    cfg = Config(product="modis-npp", end=2012, scale=MODIS_CELL * CELLS * 2, extent="input")
    annual = load_annual_npp(modis.asset_id, cfg)
    grid = analysis_grid(annual.grid, cfg)
    assert grid.shape == (54, 108)
    coarse = annual.on_grid(grid)
    got = compute_pixels(coarse.image(2003), grid.compute_pixels_grid())["npp"]
    k = modis.years.index(2003)
    s = modis.stored[k].astype(float)
    valid = s <= 32700
    blocks = np.where(valid, s * 0.1, 0.0).reshape(54, 2, 108, 2).sum(axis=(1, 3))
    count = valid.reshape(54, 2, 108, 2).sum(axis=(1, 3))
    expected = np.where(count > 0, blocks / np.maximum(count, 1), np.nan)
    assert np.array_equal(np.ma.getmaskarray(got), np.isnan(expected))
    ok = ~np.isnan(expected)
    assert np.allclose(got.filled(np.nan)[ok], expected[ok], rtol=1e-12)


def _cli(engine, argv: list[str]) -> int:
    """``gee-cscc`` in this process; ``ee`` points at the session engine again afterwards
    (the command starts and stops an engine of its own)."""
    from gee_cscc.cli.main import main
    from gee_cscc.testing import ensure_initialized

    try:
        return main(argv)
    finally:
        ensure_initialized(engine)


def _sinusoidal_areas(transform, shape) -> np.ndarray:
    inverse = pyproj.Transformer.from_crs(MODIS_SINUSOIDAL_PROJ4, "EPSG:4326", always_xy=True)
    a, _, c, _, e, f = transform
    n = 64
    s = np.linspace(0.0, 1.0, n, endpoint=False)
    out = np.zeros(shape)
    for r in range(shape[0]):
        for col in range(shape[1]):
            x0, x1 = c + a * col, c + a * (col + 1)
            y0, y1 = f + e * r, f + e * (r + 1)
            xs = np.concatenate([x0 + (x1 - x0) * s, np.full(n, x1), x1 - (x1 - x0) * s, [x0] * n])
            ys = np.concatenate(
                [np.full(n, y0), y0 + (y1 - y0) * s, np.full(n, y1), y1 - (y1 - y0) * s]
            )
            lon, lat = inverse.transform(xs, ys)
            out[r, col] = geodesic_area(lon, lat)
    return out


@pytest.mark.slow
def test_cli_run_with_the_modis_product(tmp_path, engine):
    from gee_cscc.demo.provinces import province_geojson_path
    from gee_cscc.engine import AssetStore

    store = tmp_path / "store"
    m = modis_like_collection(AssetStore(store), cells=CELLS, years=range(2001, 2011))
    out = tmp_path / "out"
    args = ["run", "--product", "modis-npp", "--end", "2010", "--reference", "2005"]
    args += ["--regions", str(province_geojson_path()), "--extent", "regions"]
    assert _cli(engine, [*args, "--store", str(store), "--out", str(out), "--quiet"]) == 0
    run = json.loads((out / "run.json").read_text())
    grid = run["grid"]
    assert grid["crs"] == "SR-ORG:6974" and "semi_major" in grid["wkt"]
    # GeoTIFFs carry the MODIS sphere.
    with rasterio.open(out / "rasters" / "cscc.tif") as src:
        crs = pyproj.CRS.from_wkt(src.crs.to_wkt())
        assert tuple(src.transform)[:6] == pytest.approx(grid["crs_transform"], rel=1e-12)
    ref = pyproj.Transformer.from_crs("EPSG:4326", MODIS_SINUSOIDAL_PROJ4, always_xy=True)
    got = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    assert got.transform(110.0, 35.0) == pytest.approx(ref.transform(110.0, 35.0), abs=1e-6)
    # Table 1, ALL: every VCA cell of the regions' box, codes masked, x 0.1.
    shape = tuple(grid["shape"])
    stored = _window(m, SimpleNamespace(transform=grid["crs_transform"], shape=shape))
    stored = stored.astype(float)
    y = np.where((stored >= 0) & (stored <= 32700), stored * 0.1, np.nan)
    vca = np.all(~np.isnan(y), axis=0) & (np.nanmean(np.where(np.isnan(y), 0, y), axis=0) > 0)
    area = _sinusoidal_areas(grid["crs_transform"], shape)
    cscc = np.where(vca, np.nanmax(np.where(np.isnan(y), -np.inf, y), axis=0), 0.0)
    table = pd.read_csv(out / "tables" / "capacity_by_region.csv")
    row = table[table["region"] == "ALL"].iloc[0]
    assert row["vca_cells"] == int(vca.sum())
    assert row["cscc_tg"] == pytest.approx((cscc * area).sum() / 1e12, rel=1e-6)
    # Per province: the cells whose centre (inverse sinusoidal) lies in its polygon.
    import shapely

    from gee_cscc.demo.provinces import load_provinces

    a, _, c, _, e, f = m.transform
    r0 = round((grid["crs_transform"][5] - f) / e)
    c0 = round((grid["crs_transform"][2] - c) / a)
    lon, lat = (v[r0 : r0 + shape[0], c0 : c0 + shape[1]] for v in m.centres_lonlat())
    table = table.set_index("region")
    checked = 0
    for feature in load_provinces()["features"]:
        inside = shapely.contains_xy(shapely.geometry.shape(feature["geometry"]), lon, lat)
        cells = inside & vca
        if not cells.any():
            continue
        got = table.loc[feature["properties"]["abbr"]]
        assert got["vca_cells"] == int(cells.sum())
        assert got["cscc_tg"] == pytest.approx((cscc * area)[cells].sum() / 1e12, rel=1e-6)
        checked += 1
    assert checked >= 25


@pytest.mark.slow
def test_cli_export_reads_the_catalog_id_and_uses_the_chosen_extent(tmp_path, engine):
    from gee_cscc.engine import AssetStore

    store = tmp_path / "store"
    m = modis_like_collection(AssetStore(store), cells=CELLS, years=range(2001, 2007))
    args = ["export", "--product", "modis-npp", "--end", "2006", "--reference", "2004"]
    args += ["--extent", ",".join(str(v) for v in BOX), "--to", "drive", "--folder", "f"]
    assert (
        _cli(engine, [*args, "--store", str(store), "--out", str(tmp_path / "e"), "--quiet"]) == 0
    )
    manifest = (tmp_path / "e" / "export_tasks.json").read_text()
    assert "projects/local-project/assets/MODIS" not in manifest  # the id stayed a catalog id
    # The exported grid: the product's pixels meeting the box (pyproj, MODIS sphere).
    tf = pyproj.Transformer.from_crs("EPSG:4326", MODIS_SINUSOIDAL_PROJ4, always_xy=True)
    xmin, ymin, xmax, ymax = tf.transform_bounds(*BOX, densify_pts=101)
    a, _, c, _, e, f = m.transform
    c0, c1 = int(np.floor((xmin - c) / a)), int(np.ceil((xmax - c) / a))
    r0, r1 = int(np.floor((ymax - f) / e)), int(np.ceil((ymin - f) / e))
    with rasterio.open(tmp_path / "store" / "drive" / "f" / "cscc_result.tif") as src:
        assert (src.height, src.width) == (r1 - r0, c1 - c0)
        assert tuple(src.transform)[:6] == pytest.approx(
            (a, 0.0, c + a * c0, 0.0, e, f + e * r0), rel=1e-12
        )
        crs = pyproj.CRS.from_wkt(src.crs.to_wkt())
        cscc = src.read(list(src.descriptions).index("cscc") + 1)
    got = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(110.0, 30.0)
    assert got == pytest.approx(tf.transform(110.0, 30.0), abs=1e-6)
    # CSCC = max over the years of the valid values x 0.1, where every year is valid.
    s = m.stored[:, r0:r1, c0:c1].astype(float)
    valid = np.all(s <= 32700, axis=0)
    expected = np.where(valid, s.max(axis=0) * 0.1, -9999.0)
    assert np.allclose(cscc, expected, rtol=1e-6)


def test_input_checks_report_the_masked_codes_per_year(engine, modis, tmp_asset):
    """run.json's ``summary.input_checks.masked_codes``: the same counts from the interactive
    check and from the check's table exported as a batch run does, equal to NumPy's."""
    from gee_cscc import cloud
    from gee_cscc.method.checks import check_inputs, check_table, evaluate_checks

    cfg = Config(product="modis-npp", end=2012)
    annual = load_annual_npp(modis.asset_id, cfg)
    grid = analysis_grid(annual.grid, cfg, extent=BOX)
    annual = annual.on_grid(grid)
    stored = _window(modis, grid).astype(float)
    expected = {
        y: int(((stored[k] < 0) | (stored[k] > 32700)).sum()) for k, y in enumerate(modis.years)
    }
    assert sum(expected.values()) > 0
    assert check_inputs(annual, None, cfg, grid=grid)["masked_codes"] == expected

    asset = tmp_asset("checks")
    task = ee.batch.Export.table.toAsset(check_table(annual, None, cfg, grid=grid), "c", asset)
    task.start()
    cloud.wait_for_tasks([task], poll_seconds=0.05, progress=lambda s: None)
    features = ee.FeatureCollection(asset).getInfo()["features"]
    assert evaluate_checks(features, annual, None, cfg, grid=grid)["masked_codes"] == expected
    without = dataclasses.replace(annual, valid_range=None)
    assert "masked_codes" not in check_inputs(without, None, cfg, grid=grid)
