"""Reprojection on the fly, through the unmodified ``ee`` client against the local engine.

A band computed on a grid other than its own is resampled as Earth Engine does: nearest
neighbour by default, ``Image.resample('bilinear' | 'bicubic')`` to interpolate. Expected
pixels come from ``rasterio.warp.reproject`` (GDAL's warper, with the same resampling) or from
NumPy/SciPy written here, never from the engine's own resampler.
"""

from __future__ import annotations

import math
import time

import ee
import numpy as np
import pytest
import rasterio
import scipy.ndimage
from affine import Affine
from rasterio.warp import Resampling, reproject

from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of
from gee_cscc.testing.modis import MODIS_CELL, MODIS_CRS, MODIS_SINUSOIDAL_PROJ4

FOLDER = "t/test_resampling"
UTM = "EPSG:32633"
# A 30 m UTM band, 14 x 16, with a gap.
UTM_T = (30.0, 0.0, 500_010.0, 0.0, -30.0, 4_600_020.0)
RNG = np.random.default_rng(11)
U = RNG.normal(100.0, 25.0, size=(14, 16))
# MODIS 231.656 m sinusoidal pixels near 45 N, 10 E.
M_CELL = MODIS_CELL / 2
M_T = (M_CELL, 0.0, 780_000.0 - 0.25 * M_CELL, 0.0, -M_CELL, 5_004_000.0)
M = RNG.integers(0, 1000, size=(20, 24)).astype(float)
M[3, 4] = np.nan
M[12:14, 17] = np.nan


def asset(name: str) -> str:
    return f"projects/local-project/assets/{FOLDER}/{name}"


@pytest.fixture(scope="module", autouse=True)
def assets(engine) -> None:
    engine.store.put_image(engine.asset_id(f"{FOLDER}/utm"), image_of(U, UTM_T, crs=UTM, name="u"))
    engine.store.put_image(
        engine.asset_id(f"{FOLDER}/modis"), image_of(M, M_T, crs=MODIS_CRS, name="npp")
    )


def warped(src: np.ndarray, src_t, dst_t, shape, crs: str, method: Resampling) -> np.ndarray:
    """GDAL's answer (NaN where it writes no value)."""
    out = np.full(shape, np.nan)
    reproject(
        src,
        out,
        src_transform=Affine(*src_t),
        dst_transform=Affine(*dst_t),
        src_crs=crs,
        dst_crs=crs,
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=method,
    )
    return out


def keys(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel, a = -0.5, written out."""
    t = np.abs(t)
    return np.where(
        t <= 1,
        1.5 * t**3 - 2.5 * t**2 + 1,
        np.where(t < 2, -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2, 0.0),
    )


# --- nearest neighbour (the default) --------------------------------------------------------


def test_reduction_at_250_m_on_a_231_m_modis_band_reads_the_pixel_under_each_centre(engine):
    # scale=250: Earth Engine's grid is the band's projection at 250 m, same origin.
    k = 250.0 / M_CELL
    t250 = (M_CELL * k, 0.0, M_T[2], 0.0, -M_CELL * k, M_T[5])
    shape = (int(20 / k), int(24 / k))
    nearest = warped(M, M_T, t250, shape, MODIS_SINUSOIDAL_PROJ4, Resampling.nearest)
    # A rectangle in the sinusoidal CRS covering whole 250 m pixels 2..14 x 3..18.
    x0, x1 = t250[2] + 3 * 250, t250[2] + 19 * 250
    y1, y0 = t250[5] - 2 * 250, t250[5] - 15 * 250
    region = ee.Geometry.Rectangle([x0, y0, x1, y1], MODIS_CRS, False)
    img = ee.Image(asset("modis"))
    got = img.reduceRegion(
        ee.Reducer.mean().combine(ee.Reducer.count(), sharedInputs=True), region, scale=250
    ).getInfo()
    window = nearest[2:15, 3:19]
    assert got["npp_count"] == int(np.isfinite(window).sum())
    assert got["npp_mean"] == pytest.approx(float(np.nanmean(window)), rel=1e-12)
    # geemap's zonal statistics call reduceRegions the same way.
    fc = ee.FeatureCollection([ee.Feature(region, {"zone": 1})])
    zonal = img.reduceRegions(fc, ee.Reducer.sum(), scale=250).getInfo()
    assert zonal["features"][0]["properties"]["sum"] == pytest.approx(
        float(np.nansum(window)), rel=1e-12
    )


def test_compute_pixels_on_another_crs_takes_the_nearest_pixel(engine):
    # A lon/lat grid over the UTM band; the oracle maps centres with pyproj and floors.
    import pyproj

    t = (0.0004, 0.0, 15.00035, 0.0, -0.0004, 41.5499)
    shape = (9, 11)
    px = compute_pixels(ee.Image(asset("utm")), grid(t, shape))["u"]
    tf = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    cols, rows = np.meshgrid(np.arange(shape[1]) + 0.5, np.arange(shape[0]) + 0.5)
    x, y = tf.transform(t[2] + t[0] * cols, t[5] + t[4] * rows)
    c = np.floor((np.asarray(x) - UTM_T[2]) / 30.0).astype(int)
    r = np.floor((UTM_T[5] - np.asarray(y)) / 30.0).astype(int)
    inside = (r >= 0) & (r < U.shape[0]) & (c >= 0) & (c < U.shape[1])
    assert inside.sum() > 20  # the grid overlaps the band
    want = np.where(inside, U[np.clip(r, 0, 13), np.clip(c, 0, 15)], np.nan)
    assert_pixels_equal(px, want)


# --- bilinear and bicubic ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "method"), [("bilinear", Resampling.bilinear), ("bicubic", Resampling.cubic)]
)
def test_resample_matches_gdal_when_upsampling(engine, mode, method):
    # 10 m pixels offset 3 m and 7 m from the 30 m lattice: every pixel interpolates.
    t = (10.0, 0.0, UTM_T[2] + 3.0, 0.0, -10.0, UTM_T[5] - 7.0)
    shape = (40, 46)
    px = compute_pixels(ee.Image(asset("utm")).resample(mode), grid(t, shape, crs=UTM))["u"]
    want = warped(U, UTM_T, t, shape, UTM, method)
    # Compare where the whole kernel lies inside the band (GDAL falls back to bilinear at
    # the border for cubic): centres at least 2 native pixels from every edge.
    rows = (np.arange(shape[0]) + 0.5) * 10 + 7.0
    cols = (np.arange(shape[1]) + 0.5) * 10 + 3.0
    inner = ((rows > 60) & (rows < 14 * 30 - 60))[:, None] & ((cols > 60) & (cols < 16 * 30 - 60))
    assert inner.sum() > 500
    np.testing.assert_allclose(np.ma.getdata(px)[inner], want[inner], rtol=1e-9)
    assert not np.ma.getmaskarray(px)[inner].any()
    # Not nearest neighbour: the values differ from the native pixels under the centres.
    assert not np.allclose(np.ma.getdata(px)[inner], warped(U, UTM_T, t, shape, UTM, 0)[inner])


@pytest.mark.parametrize(("mode", "order"), [("bilinear", 1), ("bicubic", None)])
def test_resample_onto_another_crs_matches_an_independent_interpolation(engine, mode, order):
    import pyproj

    t = (0.0002, 0.0, 15.0008, 0.0, -0.0002, 41.5512)
    shape = (12, 22)
    px = compute_pixels(ee.Image(asset("utm")).resample(mode), grid(t, shape))["u"]
    tf = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    cols, rows = np.meshgrid(np.arange(shape[1]) + 0.5, np.arange(shape[0]) + 0.5)
    x, y = tf.transform(t[2] + t[0] * cols, t[5] + t[4] * rows)
    # Native pixel-centre coordinates (centre of pixel (j, i) at (j, i)).
    ci = (np.asarray(x) - UTM_T[2]) / 30.0 - 0.5
    rj = (UTM_T[5] - np.asarray(y)) / 30.0 - 0.5
    inner = (ci > 1.5) & (ci < 16 - 2.5) & (rj > 1.5) & (rj < 14 - 2.5)
    assert inner.sum() > 40
    if order == 1:
        want = scipy.ndimage.map_coordinates(U, [rj, ci], order=1)
    else:  # Keys' kernel over the 4 x 4 neighbours, pixel by pixel
        want = np.zeros(shape)
        for (a, b), _ in np.ndenumerate(want):
            i0, j0 = math.floor(ci[a, b]), math.floor(rj[a, b])
            s = 0.0
            for jj in range(j0 - 1, j0 + 3):
                for ii in range(i0 - 1, i0 + 3):
                    if 0 <= jj < 14 and 0 <= ii < 16:
                        s += keys(ci[a, b] - ii) * keys(rj[a, b] - jj) * U[jj, ii]
            want[a, b] = s
    np.testing.assert_allclose(np.ma.getdata(px)[inner], want[inner], rtol=1e-9)


def test_masked_neighbours_drop_out_and_the_weights_are_renormalized(engine, tmp_asset):
    # 3 x 3 one-metre pixels, the top-right one masked.
    v = np.array([[1.0, 2.0, np.nan], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    t = (1.0, 0.0, 0.0, 0.0, -1.0, 3.0)
    asset_id = tmp_asset("m")
    engine.store.put_image(asset_id, image_of(v, t, crs=UTM, name="v"))
    # One pixel of 0.5 m centred at (1.75, 2.25), i.e. native (col 1.75, row 0.75): in
    # pixel (row 0, col 1), between the centres of cols 1 | 2 (x weights 0.75 | 0.25) and
    # rows 0 | 1 (y weights 0.75 | 0.25). Pixel (0, 2) is masked and drops out:
    # (0.5625·2 + 0.1875·5 + 0.0625·6) / 0.8125 = 3.
    g = grid((0.5, 0.0, 1.5, 0.0, -0.5, 2.5), (1, 1), crs=UTM)
    px = compute_pixels(ee.Image(asset_id).resample("bilinear"), g)["v"]
    w = {(0, 1): 0.75 * 0.75, (1, 1): 0.75 * 0.25, (1, 2): 0.25 * 0.25}
    want = sum(wk * v[k] for k, wk in w.items()) / sum(w.values())
    assert_pixels_equal(px, np.array([[want]]))
    # A centre inside the masked pixel is masked, whatever its neighbours.
    g2 = grid((0.5, 0.0, 2.0, 0.0, -0.5, 3.0), (1, 1), crs=UTM)
    assert np.ma.getmaskarray(compute_pixels(ee.Image(asset_id).resample("bicubic"), g2)["v"])


def test_bilinear_reduction_export_and_reproject_agree_with_gdal(engine, tmp_path):
    t = (20.0, 0.0, UTM_T[2] + 65.0, 0.0, -20.0, UTM_T[5] - 65.0)
    shape = (14, 16)
    want = warped(U, UTM_T, t, shape, UTM, Resampling.bilinear)
    img = ee.Image(asset("utm")).resample("bilinear")
    # reduceRegion on that grid
    region = ee.Geometry.Rectangle(
        [t[2], t[5] - 20 * shape[0], t[2] + 20 * shape[1], t[5]], UTM, False
    )
    got = img.reduceRegion(ee.Reducer.sum(), region, crs=UTM, crsTransform=list(t)).getInfo()
    assert got["u"] == pytest.approx(float(want.sum()), rel=1e-9)
    # reproject, then pulled on its own grid
    px = compute_pixels(img.reproject(UTM, list(t)), grid(t, shape, crs=UTM))["u"]
    np.testing.assert_allclose(np.ma.getdata(px), want, rtol=1e-9)
    # an export at that grid (crs + crsTransform + dimensions)
    task = ee.batch.Export.image.toDrive(
        img,
        description="bilinear",
        folder="t_resampling",
        fileNamePrefix="b",
        crs=UTM,
        crsTransform=list(t),
        dimensions=f"{shape[1]}x{shape[0]}",
    )
    task.start()
    end = time.monotonic() + 30
    while task.status()["state"] not in ("COMPLETED", "FAILED") and time.monotonic() < end:
        time.sleep(0.05)
    assert task.status()["state"] == "COMPLETED", task.status().get("error_message")
    with rasterio.open(engine.store.root / "drive" / "t_resampling" / "b.tif") as src:
        np.testing.assert_allclose(src.read(1), want, rtol=1e-6)  # float32 in the file
        assert src.transform == Affine(*t)


def test_resample_refuses_composites_and_unknown_modes(engine):
    composite = ee.ImageCollection([ee.Image(asset("utm"))]).mean()
    with pytest.raises(ee.EEException, match="has no fixed projection"):
        compute_pixels(composite.resample("bilinear"), grid(UTM_T, (2, 2), crs=UTM))
    with pytest.raises(ee.EEException, match="Unknown resampling mode: 'cubic'"):
        ee.Image(asset("utm")).resample("cubic").getInfo()


def test_on_its_own_grid_a_resampled_band_is_unchanged(engine):
    px = compute_pixels(ee.Image(asset("utm")).resample("bicubic"), grid(UTM_T, U.shape, crs=UTM))
    assert_pixels_equal(px["u"], U)


# --- reduceResolution with any reducer ----------------------------------------------------------


def _blocks_image(engine, tmp_asset, v: np.ndarray) -> ee.Image:
    asset_id = tmp_asset("blocks")
    engine.store.put_image(
        asset_id, image_of(v, (1000.0, 0, 0.0, 0, -1000.0, 12000.0), crs=UTM, name="b")
    )
    return ee.Image(asset_id)


def _block_values() -> np.ndarray:
    v = np.round(np.random.default_rng(5).uniform(0, 10, (12, 18)), 1)
    v[0, 0] = np.nan
    v[6:9, 9:12] = np.nan  # a whole 3 x 3 block masked
    return v


def test_reduce_resolution_with_max_count_and_stddev_on_whole_blocks(engine, tmp_asset):
    v = _block_values()
    img = _blocks_image(engine, tmp_asset, v)
    t = [3000.0, 0, 0.0, 0, -3000.0, 12000.0]
    g = grid(t, (4, 6), crs=UTM)
    reducer = ee.Reducer.max().combine(ee.Reducer.count(), sharedInputs=True)
    reducer = reducer.combine(ee.Reducer.stdDev(), sharedInputs=True)
    out = img.reduceResolution(reducer, maxPixels=9).reproject(UTM, t)
    assert out.bandNames().getInfo() == ["b_max", "b_count", "b_stdDev"]
    px = compute_pixels(out, g)
    blocks = v.reshape(4, 3, 6, 3).transpose(0, 2, 1, 3).reshape(4, 6, 9)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want_max = np.nanmax(blocks, axis=2)
        want_std = np.nanstd(blocks, axis=2, ddof=0)
    count = np.isfinite(blocks).sum(axis=2).astype(float)
    count[count == 0] = np.nan  # an output with no valid input is masked
    assert_pixels_equal(px["b_max"], want_max)
    assert_pixels_equal(px["b_count"], count)
    assert_pixels_equal(px["b_stdDev"], want_std, rtol=1e-9, atol=1e-12)


def test_reduce_resolution_sum_weights_partial_pixels_and_min_takes_every_touching_pixel(
    engine, tmp_asset
):
    v = _block_values()
    img = _blocks_image(engine, tmp_asset, v)
    t = [2500.0, 0, 500.0, 0, -2500.0, 11500.0]  # neither aligned nor a whole multiple
    shape = (4, 6)
    px = compute_pixels(
        img.reduceResolution(ee.Reducer.sum()).reproject(UTM, t), grid(t, shape, crs=UTM)
    )["b"]
    low = compute_pixels(
        img.reduceResolution(ee.Reducer.min()).reproject(UTM, t), grid(t, shape, crs=UTM)
    )["b"]
    want_sum = np.full(shape, np.nan)
    want_min = np.full(shape, np.nan)
    for r in range(shape[0]):
        for c in range(shape[1]):
            x0, x1 = 500 + 2500 * c, 500 + 2500 * (c + 1)
            y1, y0 = 11500 - 2500 * r, 11500 - 2500 * (r + 1)
            total, found = 0.0, []
            for i in range(12):
                for j in range(18):
                    ox = max(0.0, min(x1, 1000 * (j + 1)) - max(x0, 1000 * j))
                    top = 12000 - 1000 * i
                    oy = max(0.0, min(y1, top) - max(y0, top - 1000))
                    if ox * oy > 0 and not np.isnan(v[i, j]):
                        total += v[i, j] * ox * oy / 2500.0**2  # weight: share of the output
                        found.append(v[i, j])
            if found:
                want_sum[r, c] = total
                want_min[r, c] = min(found)
    assert_pixels_equal(px, want_sum, rtol=1e-9)
    assert_pixels_equal(low, want_min)


def test_reduce_resolution_onto_another_crs_counts_each_input_pixel_once(engine, tmp_asset):
    # Uniform 7.0 with one masked pixel: max and min are 7 wherever an output meets data,
    # and the count of an output pixel is at most the input pixels that can meet it.
    v = np.full((30, 30), 7.0)
    v[10, 10] = np.nan
    asset_id = tmp_asset("u")
    engine.store.put_image(
        asset_id, image_of(v, (1000.0, 0, 500_000.0, 0, -1000.0, 4_600_000.0), crs=UTM, name="b")
    )
    img = ee.Image(asset_id)
    t = [0.03, 0, 15.01, 0, -0.03, 41.53]  # about 2.5 x 3.3 km lon/lat pixels
    g = grid(t, (5, 5))
    r = ee.Reducer.max().combine(ee.Reducer.count(), sharedInputs=True)
    px = compute_pixels(img.reduceResolution(r, maxPixels=64).reproject("EPSG:4326", t), g)
    got_max = px["b_max"]
    assert got_max.count() > 10
    np.testing.assert_array_equal(np.ma.compressed(got_max), 7.0)
    counts = np.ma.compressed(px["b_count"])
    # each output pixel is about 2.5 km x 3.3 km: it meets at most 4 x 5 input pixels.
    assert counts.max() <= 20 and counts.min() >= 1


# --- pyramids: stored bands read at a coarser scale ---------------------------------------------

BIG_T = (10.0, 0.0, 600_000.0, 0.0, -10.0, 4_700_000.0)


def _big() -> np.ndarray:
    v = np.random.default_rng(21).uniform(0, 100, (600, 520))
    v[100:104, 200:204] = np.nan  # one whole 4 x 4 block masked
    v[7, 9] = np.nan
    return v


def _level(v: np.ndarray, k: int) -> np.ndarray:
    """A mean pyramid level: NaN-mean of k x k blocks (edge blocks padded with NaN)."""
    h, w = -(-v.shape[0] // k), -(-v.shape[1] // k)
    padded = np.full((h * k, w * k), np.nan)
    padded[: v.shape[0], : v.shape[1]] = v
    blocks = padded.reshape(h, k, w, k)
    with np.errstate(all="ignore"):
        n = np.isfinite(blocks).sum(axis=(1, 3))
        s = np.nansum(blocks, axis=(1, 3))
    return np.where(n > 0, s / np.maximum(n, 1), np.nan)


@pytest.fixture(scope="module")
def big(engine) -> ee.Image:
    engine.store.put_image(
        engine.asset_id(f"{FOLDER}/big"), image_of(_big(), BIG_T, crs=UTM, name="v")
    )
    return ee.Image(asset("big"))


def test_a_large_stored_band_is_read_from_its_mean_pyramid_at_coarser_scales(big):
    v = _big()
    # 40 m: level 2 (4 x 4 block means), the level's own grid.
    t40 = (40.0, 0.0, BIG_T[2], 0.0, -40.0, BIG_T[5])
    px = compute_pixels(big, grid(t40, (150, 130), crs=UTM))["v"]
    assert_pixels_equal(px, _level(v, 4), rtol=1e-12)
    # 30 m: level 1 (2 x 2 block means, 20 m), then the level pixel under each centre:
    # the centre of 30 m pixel (r, c) is 20 m pixel (floor(1.5 r + 0.75), floor(1.5 c + 0.75)).
    t30 = (30.0, 0.0, BIG_T[2], 0.0, -30.0, BIG_T[5])
    px = compute_pixels(big, grid(t30, (200, 173), crs=UTM))["v"]
    lvl = _level(v, 2)
    r = np.floor(1.5 * np.arange(200) + 0.75).astype(int)
    c = np.floor(1.5 * np.arange(173) + 0.75).astype(int)
    assert_pixels_equal(px, lvl[np.ix_(r, c)], rtol=1e-12)
    # 15 m is finer than level 1: the native pixels, nearest neighbour.
    t15 = (15.0, 0.0, BIG_T[2], 0.0, -15.0, BIG_T[5])
    px = compute_pixels(big, grid(t15, (50, 50), crs=UTM))["v"]
    r = np.floor(1.5 * np.arange(50) + 0.75).astype(int)
    assert_pixels_equal(px, v[np.ix_(r, r)])


def test_a_reduction_at_a_coarse_scale_reads_the_pyramid(big):
    v = _big()
    region = ee.Geometry.Rectangle(
        [BIG_T[2], BIG_T[5] - 10 * 600, BIG_T[2] + 10 * 520, BIG_T[5]], UTM, False
    )
    got = big.reduceRegion(ee.Reducer.mean(), region, scale=80).getInfo()
    # 80 m would be level 3, but the pyramid stops at level 2 (600 x 520 → 150 x 130 fits
    # one 256 x 256 tile): 40 m block means, and the centre of 80 m pixel (r, c) lies in
    # level-2 pixel (2r + 1, 2c + 1).
    assert got["v"] == pytest.approx(float(np.nanmean(_level(v, 4)[1::2, 1::2])), rel=1e-12)
    # reduceResolution reads the native pixels instead: the mean of every valid pixel.
    native = (
        big.reduceResolution(ee.Reducer.mean(), maxPixels=64)
        .reduceRegion(ee.Reducer.mean(), region, scale=80)
        .getInfo()
    )
    blocks = v.reshape(75, 8, 65, 8)
    with np.errstate(all="ignore"):
        want = np.nanmean(np.nanmean(blocks, axis=(1, 3)))
    assert native["v"] == pytest.approx(float(want), rel=1e-12)


# --- xee at another grid ----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")
def test_xee_at_another_grid_gets_the_bilinear_pixels(engine):
    import xarray as xr

    t = (10.0, 0.0, UTM_T[2] + 3.0, 0.0, -10.0, UTM_T[5] - 7.0)
    shape = (40, 46)
    img = ee.Image(asset("utm")).resample("bilinear")
    ds = xr.open_dataset(
        ee.ImageCollection([img.set("system:time_start", 0)]),
        engine="ee",
        crs=UTM,
        crs_transform=t,
        shape_2d=(shape[1], shape[0]),
        getitem_kwargs={"max_retries": 0},
    ).load()
    got = ds["u"].isel(time=0).transpose("y", "x")
    if got["y"].values[0] < got["y"].values[-1]:
        got = got.isel(y=slice(None, None, -1))
    want = warped(U, UTM_T, t, shape, UTM, Resampling.bilinear)
    inner = np.zeros(shape, dtype=bool)
    inner[4:-4, 4:-4] = True  # away from the band's edges
    np.testing.assert_allclose(got.values[inner], want[inner], rtol=1e-6)  # float32 pull


def _block_stat(v: np.ndarray, k: int, stat) -> np.ndarray:
    """``stat`` over the unmasked pixels of each k x k block (NaN where none), by loops."""
    h, w = -(-v.shape[0] // k), -(-v.shape[1] // k)
    out = np.full((h, w), np.nan)
    for r in range(h):
        for c in range(w):
            block = v[r * k : (r + 1) * k, c * k : (c + 1) * k]
            vals = block[np.isfinite(block)]
            if vals.size:
                out[r, c] = stat(vals)
    return out


def _mode(vals: np.ndarray) -> float:
    uniq, counts = np.unique(vals, return_counts=True)
    return float(uniq[np.argmax(counts)])  # np.unique sorts: the smallest on ties


def test_pyramiding_policies_of_an_asset_export_decide_its_coarse_pixels(engine, tmp_asset):
    v = np.round(_big() / 25.0)  # few distinct values: the mode is meaningful
    src_id = tmp_asset("src")
    engine.store.put_image(
        src_id, image_of({"a": v, "b": v, "c": v, "d": v, "e": v}, BIG_T, crs=UTM)
    )
    dst_id = tmp_asset("dst")
    task = ee.batch.Export.image.toAsset(
        ee.Image(src_id),
        description="policies",
        assetId=dst_id,
        pyramidingPolicy={".default": "sample", "b": "min", "c": "max", "d": "mode", "e": "median"},
    )
    task.start()
    end = time.monotonic() + 60
    while task.status()["state"] not in ("COMPLETED", "FAILED"):
        assert time.monotonic() < end
        time.sleep(0.05)
    assert task.status()["state"] == "COMPLETED", task.status().get("error_message")
    policies = {b["id"]: b["pyramidingPolicy"] for b in ee.data.getAsset(dst_id)["bands"]}
    assert policies == {"a": "SAMPLE", "b": "MIN", "c": "MAX", "d": "MODE", "e": "MEDIAN"}
    t40 = (40.0, 0.0, BIG_T[2], 0.0, -40.0, BIG_T[5])
    px = compute_pixels(ee.Image(dst_id), grid(t40, (150, 130), crs=UTM))
    sample = v[::4, ::4]  # the upper-left pixel of each 4 x 4 block, with its mask
    assert_pixels_equal(px["a"], sample)
    assert_pixels_equal(px["b"], _block_stat(v, 4, np.min))
    assert_pixels_equal(px["c"], _block_stat(v, 4, np.max))
    assert_pixels_equal(px["d"], _block_stat(v, 4, _mode))
    assert_pixels_equal(px["e"], _block_stat(v, 4, np.median))
    bad = ee.batch.Export.image.toAsset(
        ee.Image(src_id),
        description="bad",
        assetId=tmp_asset("bad"),
        pyramidingPolicy={".default": "sum"},
    )
    bad.start()
    end = time.monotonic() + 30
    while bad.status()["state"] not in ("COMPLETED", "FAILED"):
        assert time.monotonic() < end
        time.sleep(0.05)
    assert bad.status()["state"] == "FAILED"
    assert "Invalid pyramiding policy 'SUM'" in bad.status()["error_message"]


def test_bilinear_at_a_coarse_scale_interpolates_the_pyramid_level(big):
    # 30 m from 10 m: level 1 (20 m block means), then bilinear between its pixel centres:
    # 30 m pixel (r, c) sits at level-1 centre coordinates (1.5 r + 0.25, 1.5 c + 0.25).
    lvl = _level(_big(), 2)
    t30 = (30.0, 0.0, BIG_T[2], 0.0, -30.0, BIG_T[5])
    shape = (120, 110)
    px = compute_pixels(big.resample("bilinear"), grid(t30, shape, crs=UTM))["v"]
    rr, cc = np.meshgrid(
        1.5 * np.arange(shape[0]) + 0.25, 1.5 * np.arange(shape[1]) + 0.25, indexing="ij"
    )
    want = scipy.ndimage.map_coordinates(np.nan_to_num(lvl), [rr, cc], order=1)
    # Compare where all four level pixels around the centre are valid.
    r0, c0 = np.floor(rr).astype(int), np.floor(cc).astype(int)
    ok = np.isfinite(lvl[r0, c0]) & np.isfinite(lvl[r0 + 1, c0]) & np.isfinite(lvl[r0, c0 + 1])
    ok &= np.isfinite(lvl[r0 + 1, c0 + 1])
    assert (~ok).sum() >= 4  # the masked block is in the window
    np.testing.assert_allclose(np.ma.getdata(px)[ok], want[ok], rtol=1e-12)


def test_reduce_resolution_best_effort_starts_from_a_pyramid_level(big):
    # 80 m from 10 m meets 8 x 8 = 64 input pixels: over maxPixels=16. bestEffort reads
    # the input at 20 m instead (pyramid level 1: 2 x 2 block means), 4 x 4 of them per
    # output pixel: the output is the mean of the valid level-1 pixels of each 4 x 4 block.
    t80 = (80.0, 0.0, BIG_T[2], 0.0, -80.0, BIG_T[5])
    g = grid(t80, (75, 65), crs=UTM)
    with pytest.raises(ee.EEException, match="Need 64, but only 16 allowed"):
        compute_pixels(big.reduceResolution(ee.Reducer.mean(), False, 16).reproject(UTM, t80), g)
    got = compute_pixels(big.reduceResolution(ee.Reducer.mean(), True, 16).reproject(UTM, t80), g)
    assert_pixels_equal(got["v"], _level(_level(_big(), 2), 4), rtol=1e-12)
    top = compute_pixels(big.reduceResolution(ee.Reducer.max(), True, 16).reproject(UTM, t80), g)
    assert_pixels_equal(top["v"], _block_stat(_level(_big(), 2), 4, np.max))
