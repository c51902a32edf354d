"""``Image.paint`` (centre rule) and ``Image.reduceResolution`` (coverage-weighted mean).

Expected values: shapely point-in-polygon of the pixel centres, and NumPy block means /
interval-overlap weights computed here.
"""

from __future__ import annotations

import ee
import numpy as np
import pytest
import shapely
import xarray as xr

from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid

CRS = "EPSG:32650"


def _image(engine, tmp_asset, values: np.ndarray, size: float = 1000.0) -> ee.Image:
    h, w = values.shape
    xs = (np.arange(w) + 0.5) * size
    ys = h * size - (np.arange(h) + 0.5) * size
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": ys, "x": xs}, name="b")
    da.attrs["crs"] = CRS
    asset = tmp_asset("img")
    engine.store.put_image(asset, da)
    return ee.Image(asset)


# --- paint ------------------------------------------------------------------------------------

POLYGONS = {
    3: [(1200.0, 800.0), (7300.0, 1500.0), (6100.0, 5600.0), (900.0, 4200.0)],
    5: [(6100.0, 5600.0), (7300.0, 1500.0), (12500.0, 2600.0), (11800.0, 9300.0)],
}


def test_paint_takes_pixels_whose_centre_is_inside(engine):
    features = ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Polygon([list(map(list, ring))], CRS, False), {"id": k})
            for k, ring in POLYGONS.items()
        ]
    )
    painted = ee.Image(0).toInt32().paint(features, "id")
    g = grid([1000, 0, 0, 0, -1000, 12000], (12, 14), CRS)
    got = compute_pixels(painted, g)["constant"]
    expected = np.zeros((12, 14))
    for r in range(12):
        for c in range(14):
            centre = shapely.Point(500 + 1000 * c, 12000 - 500 - 1000 * r)
            for k, ring in POLYGONS.items():
                if shapely.Polygon(ring).contains(centre):
                    expected[r, c] = k
    assert (expected == 3).sum() > 5 and (expected == 5).sum() > 5
    assert_pixels_equal(got, expected)


def test_paint_of_a_masked_image_unmasks_only_painted_pixels(engine):
    features = ee.FeatureCollection(
        [ee.Feature(ee.Geometry.Rectangle([0, 0, 2000, 3000], CRS, False), {"v": 7})]
    )
    painted = ee.Image(0).mask(0).paint(features, "v")
    got = compute_pixels(painted, grid([1000, 0, 0, 0, -1000, 4000], (4, 3), CRS))["constant"]
    expected = np.full((4, 3), np.nan)
    expected[1:, :2] = 7
    assert_pixels_equal(got, expected)


def test_paint_errors(engine):
    fc = ee.FeatureCollection([ee.Feature(ee.Geometry.Point([1, 2]), {"name": "a"})])
    with pytest.raises(ee.EEException, match="no numeric property 'name'"):
        ee.Image(0).paint(fc, "name").reduceRegion(
            ee.Reducer.first(), ee.Geometry.Point([1, 2]), 1000
        ).getInfo()
    with pytest.raises(ee.EEException, match="line width is not implemented"):
        ee.Image(0).paint(fc, 1, 2).reduceRegion(
            ee.Reducer.first(), ee.Geometry.Point([1, 2]), 1000
        ).getInfo()


# --- reduceResolution -------------------------------------------------------------------------


def _values(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.0, 10.0, (h, w))
    v[0, 0] = np.nan
    v[3, 4:7] = np.nan
    v[6:9, 9:12] = np.nan  # one whole 3x3 block masked
    return v


def test_reduce_resolution_mean_on_whole_blocks_is_the_block_mean(engine, tmp_asset):
    v = _values(12, 18)
    img = _image(engine, tmp_asset, v)
    t = [3000, 0, 0, 0, -3000, 12000]
    out = img.reduceResolution(ee.Reducer.mean()).reproject(CRS, t)
    got = compute_pixels(out, grid(t, (4, 6), CRS))["b"]
    blocks = v.reshape(4, 3, 6, 3)
    valid = ~np.isnan(blocks)
    count = valid.sum(axis=(1, 3))
    total = np.where(valid, blocks, 0.0).sum(axis=(1, 3))
    expected = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    assert np.isnan(expected[2, 3])  # the all-masked block stays masked
    assert_pixels_equal(got, expected, rtol=1e-12)


def test_reduce_resolution_weights_partial_pixels_by_covered_fraction(engine, tmp_asset):
    v = _values(12, 18, seed=1)
    img = _image(engine, tmp_asset, v)
    t = [2500, 0, 500, 0, -2500, 11500]  # neither aligned nor a whole multiple
    shape = (4, 6)
    out = img.reduceResolution(ee.Reducer.mean()).reproject(CRS, t)
    got = compute_pixels(out, grid(t, shape, CRS))["b"]
    expected = np.full(shape, np.nan)
    for r in range(shape[0]):
        for c in range(shape[1]):
            x0, x1 = 500 + 2500 * c, 500 + 2500 * (c + 1)
            y1, y0 = 11500 - 2500 * r, 11500 - 2500 * (r + 1)
            num = den = 0.0
            for i in range(12):
                for j in range(18):
                    if np.isnan(v[i, j]):
                        continue
                    ox = max(0.0, min(x1, 1000 * (j + 1)) - max(x0, 1000 * j))
                    top = 12000 - 1000 * i
                    oy = max(0.0, min(y1, top) - max(y0, top - 1000))
                    num += ox * oy * v[i, j]
                    den += ox * oy
            if den > 0:
                expected[r, c] = num / den
    assert_pixels_equal(got, expected, rtol=1e-12)


def test_reduce_resolution_refuses_more_than_max_pixels(engine, tmp_asset):
    img = _image(engine, tmp_asset, _values(12, 18))
    t = [3000, 0, 0, 0, -3000, 12000]
    out = img.reduceResolution(ee.Reducer.mean(), False, 4).reproject(CRS, t)
    with pytest.raises(ee.EEException, match="Need 9, but only 4 allowed"):
        compute_pixels(out, grid(t, (4, 6), CRS))
    ok = img.reduceResolution(ee.Reducer.mean(), False, 9).reproject(CRS, t)
    assert compute_pixels(ok, grid(t, (4, 6), CRS))["b"].count() == 23


def test_reduce_resolution_at_the_native_scale_is_the_input(engine, tmp_asset):
    v = _values(6, 6)
    img = _image(engine, tmp_asset, v)
    t = [1000, 0, 0, 0, -1000, 6000]
    got = compute_pixels(img.reduceResolution(ee.Reducer.mean()), grid(t, (6, 6), CRS))["b"]
    assert_pixels_equal(got, v)


def test_reduce_resolution_onto_another_crs_keeps_uniform_areas_exact(engine, tmp_asset):
    # Left half 2.0, right half 6.0, one masked block: an output pixel that lies wholly in a
    # half is that half's value whatever the weights; one wholly masked stays masked.
    v = np.full((40, 40), 2.0)
    v[:, 20:] = 6.0
    v[30:, :10] = np.nan
    size = 1000.0
    xs = 500_000 + (np.arange(40) + 0.5) * size
    ys = 3_000_000 - (np.arange(40) + 0.5) * size
    da = xr.DataArray(v, dims=("y", "x"), coords={"y": ys, "x": xs}, name="b")
    da.attrs["crs"] = CRS
    asset = tmp_asset("utm")
    engine.store.put_image(asset, da)
    import pyproj

    to_ll = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon0, lat1 = to_ll.transform(500_000, 3_000_000)
    step = 0.03  # about 3 km: 3 x 3 input pixels per output pixel
    t = [step, 0, lon0 + 0.01, 0, -step, lat1 - 0.01]
    shape = (10, 10)
    out = ee.Image(asset).reduceResolution(ee.Reducer.mean(), False, 64).reproject("EPSG:4326", t)
    got = compute_pixels(out, grid(t, shape, "EPSG:4326"))["b"]
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    checked = 0
    for r in range(shape[0]):
        for c in range(shape[1]):
            lons = t[2] + step * np.array([c, c + 1, c, c + 1])
            lats = t[5] - step * np.array([r, r, r + 1, r + 1])
            x, y = to_utm.transform(lons, lats)
            cols = (np.asarray(x) - 500_000) / size
            rows = (3_000_000 - np.asarray(y)) / size
            if cols.max() <= 20 and rows.max() < 30:
                assert got[r, c] == pytest.approx(2.0, rel=1e-12)
                checked += 1
            elif cols.min() >= 20 and rows.max() < 40:
                assert got[r, c] == pytest.approx(6.0, rel=1e-12)
                checked += 1
            elif cols.max() <= 10 and rows.min() >= 30 and rows.max() <= 40:
                assert np.ma.is_masked(got[r, c])
                checked += 1
    assert checked >= 40
