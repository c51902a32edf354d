"""``Image.reduceRegion`` / ``reduceRegions`` through the real ``ee`` client.

Expected values come from NumPy over the stored arrays, with region memberships computed
here with shapely: a pixel is in the region of an unweighted reducer when its centre is in
the polygon, and a weighted reducer weights it by the exact area of the polygon inside it.
"""

from __future__ import annotations

import math

import ee
import numpy as np
import pytest
import scipy.stats
import shapely
import xarray as xr

from gee_cscc.engine.raster import reduction

H, W = 9, 11
X0, Y0 = 20.0, 40.0  # top-left corner; 1-degree pixels
ONE_DEGREE_M = 2 * math.pi * 6378137.0 / 360.0  # Earth Engine's metres per degree

POLY = [[21.3, 38.6], [28.7, 37.2], [30.4, 33.1], [24.2, 31.7], [20.6, 34.9], [21.3, 38.6]]
RECT = [[22.0, 33.0], [25.0, 33.0], [25.0, 36.0], [22.0, 36.0], [22.0, 33.0]]
NATIVE = {"crs": "EPSG:4326", "crsTransform": [1, 0, X0, 0, -1, Y0]}
FAR = [[60.0, 10.0], [61.5, 10.0], [61.5, 11.5], [60.0, 10.0]]


def make_values() -> np.ndarray:
    rng = np.random.default_rng(3)
    v = rng.integers(-10, 30, size=(H, W)).astype(float)
    v[rng.random((H, W)) < 0.15] = np.nan
    return v


def make_zones() -> np.ndarray:
    z = np.ones((H, W))
    z[:, 4:] = 2.0
    z[5:, 7:] = 3.0
    return z


V = make_values()
Z = make_zones()


def dataarray(data: np.ndarray, bands: list[str] | None = None) -> xr.DataArray:
    coords = {"y": Y0 - 0.5 - np.arange(H), "x": X0 + 0.5 + np.arange(W)}
    if bands is None:
        return xr.DataArray(data, dims=("y", "x"), coords=coords, name="v")
    return xr.DataArray(data, dims=("band", "y", "x"), coords={"band": bands, **coords})


def table(*rings: list, geometry_type: str = "Polygon") -> dict:
    features = []
    for i, ring in enumerate(rings):
        coords = [ring] if geometry_type == "Polygon" else ring
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": geometry_type, "coordinates": coords},
                "properties": {"name": f"f{i}"},
            }
        )
    return {"type": "FeatureCollection", "features": features}


FOLDER = "t/test_reduce_region"  # this module's assets in the session engine


@pytest.fixture(scope="module", autouse=True)
def assets(engine) -> None:
    """The module's images and tables, in the session engine (see :func:`asset`)."""
    store = engine.store
    store.put_image(engine.asset_id(f"{FOLDER}/v"), dataarray(V))
    store.put_image(engine.asset_id(f"{FOLDER}/vz"), dataarray(np.stack([V, Z]), ["v", "zone"]))
    store.put_table(engine.asset_id(f"{FOLDER}/poly"), table(POLY))
    store.put_table(engine.asset_id(f"{FOLDER}/two"), table(POLY, RECT))
    store.put_table(engine.asset_id(f"{FOLDER}/far"), table(FAR))
    store.put_table(engine.asset_id(f"{FOLDER}/pt"), table([24.5, 36.5], geometry_type="Point"))


def asset(name: str) -> str:
    return f"projects/local-project/assets/{FOLDER}/{name}"


@pytest.fixture(scope="module")
def image(assets) -> ee.Image:
    return ee.Image(asset("v"))


@pytest.fixture(scope="module")
def poly(assets) -> ee.Feature:
    return ee.FeatureCollection(asset("poly")).first()


def membership(ring: list) -> tuple[np.ndarray, np.ndarray]:
    """(covered fraction, centre inside) of every pixel for a polygon."""
    shape = shapely.Polygon(ring)
    frac = np.zeros((H, W))
    centre = np.zeros((H, W), dtype=bool)
    for r in range(H):
        for c in range(W):
            box = shapely.box(X0 + c, Y0 - r - 1, X0 + c + 1, Y0 - r)
            frac[r, c] = box.intersection(shape).area / box.area
            centre[r, c] = shape.contains(shapely.Point(X0 + c + 0.5, Y0 - r - 0.5))
    return frac, centre


FRAC, CENTRE = membership(POLY)
OK = ~np.isnan(V)


def test_polygon_cuts_pixels():
    """The test polygon really has partial pixels, some with the centre outside."""
    partial = (FRAC > 0) & (FRAC < 1)
    assert partial.sum() > 10
    assert (partial & ~CENTRE).any() and (partial & CENTRE).any()


def test_weighted_and_centre_membership(image, poly):
    reducer = (
        ee.Reducer.mean()
        .combine(ee.Reducer.mean().unweighted(), "unweighted_", True)
        .combine(ee.Reducer.sum(), "", True)
        .combine(ee.Reducer.count(), "", True)
        .combine(ee.Reducer.countEvery(), "every_", True)
    )
    got = image.reduceRegion(reducer, poly).getInfo()
    w = np.where(OK, FRAC, 0.0)
    vals = np.where(OK, V, 0.0)
    assert got["v_mean"] == pytest.approx((w * vals).sum() / w.sum(), rel=1e-12)
    assert got["v_sum"] == pytest.approx((w * vals).sum(), rel=1e-12)
    assert got["v_unweighted_mean"] == pytest.approx(V[CENTRE & OK].mean(), rel=1e-12)
    assert got["v_count"] == int((CENTRE & OK).sum())
    assert got["v_every_count"] == int(CENTRE.sum())
    assert isinstance(got["v_count"], int)


def test_weighted_linear_fit_and_histogram(engine, poly):
    lon = ee.Image.pixelLonLat().select("longitude")
    img = lon.addBands(ee.Image(asset("v")))
    # The first band (longitude) has no projection: give the grid, as on Earth Engine.
    got = img.reduceRegion(ee.Reducer.linearFit(), poly, **NATIVE).getInfo()
    xs = X0 + 0.5 + np.broadcast_to(np.arange(W), (H, W))
    keep = OK & (FRAC > 0)
    scale, offset = np.polyfit(xs[keep], V[keep], 1, w=np.sqrt(FRAC[keep]))
    assert got == {"scale": pytest.approx(scale, rel=1e-9), "offset": pytest.approx(offset)}
    hist = ee.Image(asset("v")).reduceRegion(ee.Reducer.frequencyHistogram(), poly).getInfo()
    expected: dict[str, float] = {}
    for value, weight in zip(V[keep], FRAC[keep], strict=True):
        key = str(int(value))
        expected[key] = expected.get(key, 0.0) + weight
    assert hist["v"] == pytest.approx(expected, rel=1e-12)


def test_unweighted_statistics_use_pixel_centres(image, poly):
    reducer = (
        ee.Reducer.median()
        .combine(ee.Reducer.max(), "", True)
        .combine(ee.Reducer.toList(), "", True)
        .combine(ee.Reducer.first(), "", True)
    )
    got = image.reduceRegion(reducer, poly).getInfo()
    inside = V[CENTRE]  # row-major order, NaN for masked pixels
    valid = inside[~np.isnan(inside)]
    assert got["v_median"] == np.median(valid)
    assert got["v_max"] == valid.max()
    assert got["v_list"] == valid.tolist()
    assert got["v_first"] == (None if np.isnan(inside[0]) else inside[0])


def test_default_region_is_the_footprint(image):
    got = image.reduceRegion(ee.Reducer.mean().combine(ee.Reducer.count(), "", True)).getInfo()
    assert got == {"v_mean": pytest.approx(np.nanmean(V), rel=1e-12), "v_count": int(OK.sum())}


def test_point_region_gives_the_pixel(engine, image):
    point = ee.FeatureCollection(asset("pt")).first()
    got = image.reduceRegion(ee.Reducer.mean().combine(ee.Reducer.count(), "", True), point)
    row, col = int(Y0 - 36.5), int(24.5 - X0)
    value = V[row, col]
    expected_count = 0 if np.isnan(value) else 1
    expected_mean = None if np.isnan(value) else value
    assert got.getInfo() == {"v_mean": expected_mean, "v_count": expected_count}


def test_empty_region(engine, image):
    far = ee.FeatureCollection(asset("far")).first()
    reducer = (
        ee.Reducer.mean()
        .combine(ee.Reducer.sum(), "", True)
        .combine(ee.Reducer.count(), "", True)
        .combine(ee.Reducer.max(), "", True)
        .combine(ee.Reducer.toList(), "", True)
    )
    got = image.reduceRegion(reducer, far).getInfo()
    assert got == {"v_mean": None, "v_sum": 0, "v_count": 0, "v_max": None, "v_list": []}


def test_grouped_reduce_region(engine, poly):
    img = ee.Image(asset("vz"))
    got = img.reduceRegion(ee.Reducer.mean().unweighted().group(1, "zone")).getInfo()
    expected = [
        {"zone": int(z), "mean": pytest.approx(V[OK & (Z == z)].mean(), rel=1e-12)}
        for z in (1, 2, 3)
    ]
    assert got == {"groups": expected}
    assert all(isinstance(g["zone"], int) for g in got["groups"])
    weighted = img.reduceRegion(ee.Reducer.sum().group(1, "zone"), poly).getInfo()
    expected_sums = []
    for z in (1, 2, 3):
        sel = OK & (Z == z) & (FRAC > 0)
        if sel.any():
            expected_sums.append({"zone": z, "sum": pytest.approx((FRAC * V)[sel].sum())})
    assert weighted == {"groups": expected_sums}


def test_multi_band_outputs_and_repeat(engine, poly):
    img = ee.Image(asset("vz"))
    got = img.reduceRegion(ee.Reducer.minMax(), poly).getInfo()
    assert set(got) == {"v_min", "v_max", "zone_min", "zone_max"}
    assert got["zone_max"] == Z[CENTRE].max()
    means = img.reduceRegion(ee.Reducer.mean().unweighted().repeat(2), poly).getInfo()
    assert means == {
        "mean": [
            pytest.approx(V[CENTRE & OK].mean(), rel=1e-12),
            pytest.approx(Z[CENTRE & OK].mean(), rel=1e-12),
        ]
    }


def test_linear_regression(engine, poly):
    img = ee.Image.constant(1).addBands(ee.Image.pixelLonLat().select("latitude"))
    img = img.addBands(ee.Image(asset("v")))
    got = img.reduceRegion(ee.Reducer.linearRegression(2, 1), poly, **NATIVE).getInfo()
    keep = CENTRE & OK
    lat = np.broadcast_to((Y0 - 0.5 - np.arange(H))[:, None], (H, W))[keep]
    a = np.stack([np.ones(keep.sum()), lat], axis=1)
    beta, *_ = np.linalg.lstsq(a, V[keep], rcond=None)
    rms = np.sqrt(np.mean((V[keep] - a @ beta) ** 2))
    assert np.array(got["coefficients"]) == pytest.approx(beta[:, None], rel=1e-9)
    assert got["residuals"] == [pytest.approx(rms, rel=1e-9)]


def test_reduce_regions(engine):
    fc = ee.FeatureCollection(asset("two"))
    out = ee.Image(asset("v")).reduceRegions(fc, ee.Reducer.mean()).getInfo()
    props = [f["properties"] for f in out["features"]]
    frac_rect, _ = membership(RECT)
    for p, frac in zip(props, (FRAC, frac_rect), strict=True):
        w = np.where(OK, frac, 0.0)
        assert p["mean"] == pytest.approx((w * np.where(OK, V, 0)).sum() / w.sum(), rel=1e-12)
    assert [p["name"] for p in props] == ["f0", "f1"]
    two = ee.Image(asset("vz")).reduceRegions(fc, ee.Reducer.count()).getInfo()
    first = two["features"][0]["properties"]
    assert first["v"] == int((CENTRE & OK).sum()) and first["zone"] == int(CENTRE.sum())


def test_composite_needs_scale_or_crs_transform(engine, poly):
    composite = ee.ImageCollection([ee.Image(asset("v"))]).mean()
    with pytest.raises(ee.EEException) as err:
        composite.reduceRegion(ee.Reducer.mean(), poly).getInfo()
    assert str(err.value) == (
        "The default WGS84 projection is invalid for aggregations. "
        "Specify a scale or crs & crs_transform."
    )


def test_composite_with_scale_runs_in_wgs84(engine, poly):
    composite = ee.ImageCollection([ee.Image(asset("v"))]).mean()
    by_scale = composite.reduceRegion(ee.Reducer.count(), poly, scale=ONE_DEGREE_M).getInfo()
    by_grid = composite.reduceRegion(
        ee.Reducer.count(), poly, crs="EPSG:4326", crsTransform=[1, 0, X0, 0, -1, Y0]
    ).getInfo()
    assert by_scale == by_grid == {"v": int((CENTRE & OK).sum())}


def test_best_effort_coarsens_only_images_without_a_projection(engine, poly, image):
    constant = ee.Image.constant(3).rename("c")
    got = constant.reduceRegion(
        ee.Reducer.count(), poly, scale=ONE_DEGREE_M, maxPixels=40, bestEffort=True
    ).getInfo()
    # 11 x 10 pixels at 1 degree is more than 40; at 2 degrees 6 x 5 = 30 pixels.
    shape = shapely.Polygon(POLY)
    xmin, ymin, xmax, ymax = shape.bounds
    count = 0
    for r in range(math.floor(ymin / 2), math.ceil(ymax / 2)):
        for c in range(math.floor(xmin / 2), math.ceil(xmax / 2)):
            count += shape.contains(shapely.Point(2 * c + 1, 2 * r + 1))
    assert got == {"c": count}
    # A fixed-projection band is coarsened too (read nearest neighbour at 2 degrees): the
    # 2-degree pixel (r, c) reads the native pixel under its centre, (2r + 1, 2c + 1).
    want = 0
    for r in range(math.floor(ymin / 2), math.ceil(ymax / 2)):
        for c in range(math.floor(xmin / 2), math.ceil(xmax / 2)):
            row, col = int(Y0 - (2 * r + 1)), int(2 * c + 1 - X0)
            inside = shape.contains(shapely.Point(2 * c + 1, 2 * r + 1))
            want += bool(inside and 0 <= row < H and 0 <= col < W and OK[row, col])
    got = image.reduceRegion(ee.Reducer.count(), poly, maxPixels=40, bestEffort=True).getInfo()
    assert got == {"v": want}


def test_max_pixels(image, poly):
    xmin, ymin, xmax, ymax = shapely.Polygon(POLY).bounds
    window = (math.ceil(xmax) - math.floor(xmin)) * (math.ceil(ymax) - math.floor(ymin))
    with pytest.raises(ee.EEException) as err:
        image.reduceRegion(ee.Reducer.mean(), poly, maxPixels=50).getInfo()
    assert str(err.value).startswith(
        f"Image.reduceRegion: Too many pixels in the region. Found {window}, but maxPixels "
        "allows only 50."
    )
    assert image.reduceRegion(ee.Reducer.count(), poly, maxPixels=window).getInfo() == {
        "v": int((CENTRE & OK).sum())
    }


def test_reduction_off_the_native_grid_reads_the_pixel_under_each_centre(image, poly):
    # Half-degree pixels from (20.5, 40): the centre of pixel (r, c) is at
    # (20.75 + c/2, 39.75 - r/2), in native pixel (floor(0.25 + r/2), floor(0.75 + c/2)).
    got = image.reduceRegion(
        ee.Reducer.sum(), poly, crs="EPSG:4326", crsTransform=[0.5, 0, 20.5, 0, -0.5, 40]
    ).getInfo()
    shape = shapely.Polygon(POLY)
    want = 0.0
    for r in range(2 * H):
        for c in range(2 * W):
            x, y = 20.75 + c / 2, 39.75 - r / 2
            row, col = math.floor(0.25 + r / 2), math.floor(0.75 + c / 2)
            if row < H and col < W and OK[row, col]:
                # sum is weighted: the polygon's share of each half-degree pixel
                cell = shapely.box(x - 0.25, y - 0.25, x + 0.25, y + 0.25)
                want += V[row, col] * shape.intersection(cell).area / 0.25
    assert got == {"v": pytest.approx(want, rel=1e-9)}


def test_whole_pixel_offset_and_native_scale_are_fine(image, poly):
    native = image.reduceRegion(ee.Reducer.mean(), poly).getInfo()
    shifted = image.reduceRegion(
        ee.Reducer.mean(), poly, crs="EPSG:4326", crsTransform=[1, 0, 17, 0, -1, 45]
    ).getInfo()
    by_scale = image.reduceRegion(ee.Reducer.mean(), poly, scale=ONE_DEGREE_M).getInfo()
    assert shifted == pytest.approx(native, rel=1e-12)
    assert by_scale == pytest.approx(native, rel=1e-12)


def test_tiled_region_reduction_equals_untiled(engine, poly, monkeypatch):
    img = ee.Image(asset("vz"))
    reducer = (
        ee.Reducer.mean()
        .combine(ee.Reducer.stdDev(), "", True)
        .combine(ee.Reducer.count(), "", True)
        .combine(ee.Reducer.median(), "", True)
        .combine(ee.Reducer.toList(), "", True)
        .combine(ee.Reducer.first(), "", True)
        .combine(ee.Reducer.last(), "", True)
        .combine(ee.Reducer.frequencyHistogram(), "", True)
    )
    whole = img.reduceRegion(reducer, poly).getInfo()
    grouped = img.reduceRegion(ee.Reducer.sum().group(1, "zone"), poly).getInfo()
    monkeypatch.setattr(reduction, "TILE", 4)  # a 10 x 11 window in 9 tiles, 5 partial
    tiled = img.reduceRegion(reducer, poly).getInfo()
    assert tiled.keys() == whole.keys()
    for key, value in whole.items():
        assert tiled[key] == pytest.approx(value, rel=1e-12), key
    assert img.reduceRegion(ee.Reducer.sum().group(1, "zone"), poly).getInfo() == grouped


def test_tile_scale_gives_the_same_sums_in_the_same_tiles(engine, monkeypatch):
    """``tileScale`` only shrinks tiles on Earth Engine (a per-tile memory limit); here the
    window is walked in the same tiles whatever it is, with the NumPy sums."""
    img = ee.Image(asset("vz"))
    reducer = ee.Reducer.sum().group(1, "zone")
    expected = {
        "groups": [
            {"zone": z, "sum": pytest.approx(V[OK & (Z == z)].sum(), rel=1e-12)} for z in (1, 2, 3)
        ]
    }
    monkeypatch.setattr(reduction, "TILE", 4)  # the 9 x 11 image in 9 tiles
    walked: list[tuple[int, int]] = []
    from gee_cscc.engine.raster.grid import Grid

    tiles = Grid.tiles

    def counted(grid, size, width=None):
        for item in tiles(grid, size, width):
            walked.append(item[2].shape)
            yield item

    monkeypatch.setattr(Grid, "tiles", counted)
    by_scale = {}
    for scale in (1, 4, 16):
        walked.clear()
        got = img.reduceRegion(reducer, None, None, **NATIVE, tileScale=scale).getInfo()
        assert got == expected
        by_scale[scale] = list(walked)
    # tiles 4 rows high and WIDE x 4 columns wide: ceil(9 / 4) x ceil(11 / (4 * WIDE))
    assert len(by_scale[1]) == 3 * -(-11 // (4 * reduction.WIDE))
    assert by_scale[4] == by_scale[16] == by_scale[1]


def test_rank_and_correlation_reducers_over_a_region(engine, poly):
    """Region (single column) paths of kendall, spearman, pearson and sensSlope vs SciPy."""
    img = ee.Image.pixelLonLat().select("latitude").addBands(ee.Image(asset("v")))
    reducer = (
        ee.Reducer.kendallsCorrelation(2)
        .combine(ee.Reducer.spearmansCorrelation(), "s_", True)
        .combine(ee.Reducer.pearsonsCorrelation(), "r_", True)
        .combine(ee.Reducer.sensSlope(), "", True)
    )
    got = img.reduceRegion(reducer, poly, **NATIVE).getInfo()
    keep = CENTRE & OK
    lat = np.broadcast_to((Y0 - 0.5 - np.arange(H))[:, None], (H, W))[keep]
    y = V[keep]
    kendall = scipy.stats.kendalltau(lat, y, method="asymptotic")
    pearson = scipy.stats.pearsonr(lat, y)
    slopes = [
        (y[j] - y[i]) / (lat[j] - lat[i])
        for i in range(y.size)
        for j in range(i + 1, y.size)
        if lat[j] != lat[i]
    ]
    slope = float(np.median(slopes))
    assert got == {
        "tau": pytest.approx(kendall.statistic, rel=1e-12),
        "p-value": pytest.approx(kendall.pvalue, rel=1e-9),
        "s_correlation": pytest.approx(scipy.stats.spearmanr(lat, y).statistic, rel=1e-12),
        "r_correlation": pytest.approx(pearson.statistic, rel=1e-9),
        "r_p-value": pytest.approx(pearson.pvalue, rel=1e-7),
        "slope": pytest.approx(slope, rel=1e-12),
        "offset": pytest.approx(float(np.median(y - slope * lat)), rel=1e-12),
    }


def test_grouped_reduce_regions(engine):
    """reduceRegions with a grouped reducer: per feature, per zone, pixel-centre counts."""
    fc = ee.FeatureCollection(asset("two"))
    reducer = ee.Reducer.count().group(groupField=1, groupName="zone")
    out = ee.Image(asset("vz")).reduceRegions(fc, reducer).getInfo()
    _, centre_rect = membership(RECT)
    for feature, centre in zip(out["features"], (CENTRE, centre_rect), strict=True):
        expected = [
            {"zone": int(z), "count": int((centre & OK & (Z == z)).sum())}
            for z in np.unique(Z[centre & OK])
        ]
        assert feature["properties"]["groups"] == expected
