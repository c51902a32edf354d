"""More Earth Engine guide examples for ``test_ee_examples.py``: arrays, regression, vectors
and sampling. Each is a guide's (or API reference page's) Python sample, adapted as the
module docstring of ``test_ee_examples.py`` describes; the source is in ``EXAMPLES``.

The stand-ins they need beyond the base set are stored by :func:`put_stand_ins`.
"""

from __future__ import annotations

import ee
import numpy as np
import pyproj
import pytest
from scipy import ndimage

from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of

NAN = np.nan
RNG = np.random.default_rng(2015)
YEAR = 365 * 86_400_000

# NASA/NEX-DCP30-like annual climate projections (pr_mean, tasmax_mean) on a 1/120 degree
# grid, 2006..2013 (system:time_start each 1 January).
NEX_T = (1 / 120, 0.0, -100.2, 0.0, -1 / 120, 40.5)
NEX_SHAPE = (4, 5)
NEX_YEARS = list(range(2006, 2014))
NEX_T0 = [int(np.datetime64(f"{y}-01-01", "ms").astype(np.int64)) for y in NEX_YEARS]
PR = [RNG.uniform(1e-5, 5e-5, NEX_SHAPE) for _ in NEX_YEARS]
TASMAX = [RNG.uniform(280, 300, NEX_SHAPE) + 0.1 * k for k in range(len(NEX_YEARS))]
# Three scenes with overlapping footprints (0.5 degree pixels) and CLOUD_COVER properties.
SCENE_T = [(0.5, 0.0, -124.0 + k, 0.0, -0.5, 46.0 - 0.5 * k) for k in range(3)]
CLOUD = [10.0, 20.0, 60.0]

_UTM = pyproj.Transformer.from_crs("EPSG:32610", "EPSG:4326", always_xy=True)
_TO_UTM = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32610", always_xy=True)
DEGREE_M = 111_319.49079327357  # Earth Engine's metres per degree of WGS84 (2πR/360, R=6378137)

# Landsat 8 Collection 2 Level 2 scenes of 2021 (UTM 10N, 30 m) around the sorting guide's
# point (-122.26032, 37.87187): 10 scenes of 6 x 6 pixels, QA_PIXEL bits 0-4 (fill, dilated
# cloud, cirrus, cloud, shadow) and QA_RADSAT saturation flags mask some pixels of each.
SORT_T = (30.0, 0.0, 564_960.0, 0.0, -30.0, 4_191_940.0)
SORT_SHAPE = (6, 6)
SORT_DAYS = [16 * k for k in range(10)]
SORT_SR = [
    {f"SR_B{i}": RNG.integers(7273, 30000, SORT_SHAPE).astype(float) for i in range(1, 8)}
    for _ in SORT_DAYS
]
SORT_ST = [RNG.integers(30000, 50000, SORT_SHAPE).astype(float) for _ in SORT_DAYS]
SORT_QA = [RNG.choice([21824.0, 21824.0, 21824.0, 22280.0, 23888.0], SORT_SHAPE) for _ in SORT_DAYS]
SORT_RADSAT = [RNG.choice([0.0] * 9 + [2.0], SORT_SHAPE) for _ in SORT_DAYS]

# Landsat 8 tasseled cap coefficients (Baig et al., 2014), as in the Arrays guide.
TC = [
    [0.3029, 0.2786, 0.4733, 0.5599, 0.508, 0.1872],
    [-0.2941, -0.243, -0.5424, 0.7276, 0.0713, -0.1608],
    [0.1511, 0.1973, 0.3283, 0.3407, -0.7117, -0.4559],
    [-0.8239, 0.0849, 0.4396, -0.058, 0.2013, -0.2773],
    [-0.3294, 0.0557, 0.1056, 0.1855, -0.4349, 0.8085],
    [0.1079, -0.9023, 0.4119, 0.0575, -0.0259, 0.0252],
]


def put_stand_ins(store, ids, folder: str) -> None:
    """Store this module's stand-ins; their asset ids become attributes of ``ids``."""
    ids.nex = f"{folder}/nex_dcp30"
    if not store.exists(ids.nex):
        store.create(ids.nex, "IMAGE_COLLECTION")
    for k, year in enumerate(NEX_YEARS):
        data = image_of({"pr_mean": PR[k], "tasmax_mean": TASMAX[k]}, NEX_T)
        store.put_image(
            f"{ids.nex}/rcp85_{year}", data, {"system:time_start": NEX_T0[k], "scenario": "rcp85"}
        )
    ids.l8_sr_2021 = f"{folder}/l8_sr_2021"
    if not store.exists(ids.l8_sr_2021):
        store.create(ids.l8_sr_2021, "IMAGE_COLLECTION")
    t2021 = int(np.datetime64("2021-01-05", "ms").astype(np.int64))
    for k, day in enumerate(SORT_DAYS):
        bands = {**SORT_SR[k], "ST_B10": SORT_ST[k], "QA_PIXEL": SORT_QA[k]}
        bands["QA_RADSAT"] = SORT_RADSAT[k]
        data = image_of(bands, SORT_T, crs="EPSG:32610")
        store.put_image(
            f"{ids.l8_sr_2021}/LC08_044034_{k}",
            data,
            {"system:time_start": t2021 + day * 86_400_000},
        )
    ids.scenes = f"{folder}/scenes"
    if not store.exists(ids.scenes):
        store.create(ids.scenes, "IMAGE_COLLECTION")
    for k in range(3):
        data = image_of({"B4": np.full((4, 4), 0.1 * k)}, SCENE_T[k])
        store.put_image(f"{ids.scenes}/s{k}", data, {"CLOUD_COVER": CLOUD[k]})


def _base():
    import test_ee_examples

    return test_ee_examples


# --- arrays ------------------------------------------------------------------------------------


def ex_array_length_and_slice(ds):
    coefficients = ee.Array(TC)
    assert coefficients.length().getInfo() == [6, 6]
    greenness = coefficients.slice(axis=0, start=1, end=2, step=1)
    assert greenness.getInfo() == [TC[1]]


def ex_tasseled_cap(ds):
    b = _base()
    coefficients = ee.Array(TC)
    image = ee.Image(ds.l8_toa).select(["B2", "B3", "B4", "B5", "B6", "B7"])
    array_image_1d = image.toArray()
    array_image_2d = array_image_1d.toArray(1)
    components_image = (
        ee.Image(coefficients)
        .matrixMultiply(array_image_2d)
        .arrayProject([0])
        .arrayFlatten([["brightness", "greenness", "wetness", "fourth", "fifth", "sixth"]])
    )
    got = compute_pixels(components_image.select([0, 1, 2]), b.L8_GRID)
    x = np.stack([b.TOA[f"B{i}"] for i in range(2, 8)], axis=-1)  # NaN where B5 is masked
    want = x @ np.array(TC).T
    for k, name in enumerate(["brightness", "greenness", "wetness"]):
        assert_pixels_equal(got[name], want[..., k], rtol=1e-12, atol=1e-15)


def _sample_array(arr_img: ee.Image):
    point = ee.Geometry.Point([-121, 42])
    return arr_img.sample(point, 500).first().get("array")


def ex_array_flatten_1d(ds):
    array_img_1d = ee.Image([0, 1, 2]).toArray()
    assert _sample_array(array_img_1d).getInfo() == [0, 1, 2]
    band_names_1d = [["row0", "row1", "row2"]]
    img_from_1d_array = array_img_1d.arrayFlatten(band_names_1d)
    assert img_from_1d_array.bandNames().getInfo() == ["row0", "row1", "row2"]
    pixel = img_from_1d_array.sample(ee.Geometry.Point([-121, 42]), 500).first()
    assert pixel.toDictionary().getInfo() == {"row0": 0, "row1": 1, "row2": 2}


def ex_array_sort(ds):
    values = [0, 10, 6, 5, 4, 7, 11, 1, 2, 9, 8, 3]
    array_img_1d = ee.Image(values).toArray()
    assert _sample_array(array_img_1d.arraySort()).getInfo() == sorted(values)
    keys = [11, 0, 5, 3, 9, 1, 2, 8, 10, 4, 6, 7]
    sorted_by_keys = array_img_1d.arraySort(ee.Image(keys).toArray())
    assert _sample_array(sorted_by_keys).getInfo() == [values[i] for i in np.argsort(keys)]


def ex_array_sort_top_ndvi_mean(ds):
    def prep_sr_l8(image):
        # Develop masks for unwanted pixels (fill, cloud, cloud shadow).
        qa_mask = image.select("QA_PIXEL").bitwiseAnd(int("11111", 2)).eq(0)
        saturation_mask = image.select("QA_RADSAT").eq(0)
        # Apply the scaling factors to the appropriate bands.
        optical_bands = image.select("SR_B.").multiply(0.0000275).add(-0.2)
        thermal_bands = image.select("ST_B.*").multiply(0.00341802).add(149.0)
        ndvi = optical_bands.normalizedDifference(["SR_B5", "SR_B4"]).rename("NDVI")
        return (
            image.addBands(optical_bands, None, True)
            .addBands(thermal_bands, None, True)
            .addBands(ndvi)
            .updateMask(qa_mask)
            .updateMask(saturation_mask)
        )

    roi = ee.Geometry.Point(-122.26032, 37.87187)
    collection = (
        ee.ImageCollection(ds.l8_sr_2021)
        .filterBounds(roi)
        .filterDate("2021", "2022")
        .map(prep_sr_l8)
        .select(["SR_B.*", "NDVI"])
    )
    array = collection.toArray()
    image_axis = 0
    band_axis = 1
    band_names = collection.first().bandNames()
    bands = array.arraySlice(band_axis, 0, band_names.length())
    indices = array.arraySlice(band_axis, -1)
    # Sort by descending NDVI.
    sorted_ = bands.arraySort(indices.multiply(-1))
    # Get the highest 20%.
    num_images = collection.size().multiply(0.2).int()
    highest_ndvi = sorted_.arraySlice(image_axis, 0, num_images)
    mean = highest_ndvi.arrayReduce(reducer=ee.Reducer.mean(), axes=[image_axis])
    mean_image = mean.arrayProject([band_axis]).arrayFlatten([band_names])
    got = compute_pixels(
        mean_image.select(["SR_B4", "NDVI"]), grid(SORT_T, SORT_SHAPE, "EPSG:32610")
    )
    # NumPy: per pixel, the clear scenes, the 2 (20 % of 10) with the highest NDVI, averaged
    clear = np.stack(
        [
            (q.astype(int) & 0b11111 == 0) & (s == 0)
            for q, s in zip(SORT_QA, SORT_RADSAT, strict=True)
        ]
    )
    red = np.stack([sr["SR_B4"] for sr in SORT_SR]) * 0.0000275 - 0.2
    nir = np.stack([sr["SR_B5"] for sr in SORT_SR]) * 0.0000275 - 0.2
    ndvi = ((nir - red) / (nir + red)).astype(np.float32).astype(float)
    want_red, want_ndvi = np.full(SORT_SHAPE, NAN), np.full(SORT_SHAPE, NAN)
    for r, c in np.ndindex(*SORT_SHAPE):
        ok = np.flatnonzero(clear[:, r, c])
        if ok.size:
            top = ok[np.argsort(-ndvi[ok, r, c], kind="stable")][:2]
            want_red[r, c] = red[top, r, c].mean()
            want_ndvi[r, c] = ndvi[top, r, c].mean()
    assert_pixels_equal(got["SR_B4"], want_red, rtol=1e-12)
    assert_pixels_equal(got["NDVI"], want_ndvi, rtol=1e-6)


# --- regression --------------------------------------------------------------------------------


def _create_time_band(image):
    # Scale milliseconds by a large constant to avoid very small slopes in the output.
    return image.addBands(image.metadata("system:time_start").divide(1e18))


def _create_constant_band(image):
    return ee.Image(1).addBands(image)


def _nex(ds) -> ee.ImageCollection:
    return (
        ee.ImageCollection(ds.nex)
        .filter(ee.Filter.eq("scenario", "rcp85"))
        .filterDate(ee.Date("2006-01-01"), ee.Date("2050-01-01"))
    )


def _lstsq(x: np.ndarray, ys: list[np.ndarray]) -> np.ndarray:
    """Per-pixel least squares of each y (time, h, w) on the columns of x (time, k)."""
    y = np.stack([np.stack(v).reshape(len(x), -1) for v in ys], axis=-1)  # (t, p, ny)
    return np.stack([np.linalg.lstsq(x, y[:, q, :], rcond=None)[0] for q in range(y.shape[1])])


def ex_linear_fit_over_time(ds):
    collection = _nex(ds).map(_create_time_band)
    linear_fit = collection.select(["system:time_start", "pr_mean"]).reduce(ee.Reducer.linearFit())
    got = compute_pixels(linear_fit, grid(NEX_T, NEX_SHAPE))
    t = np.array(NEX_T0) / 1e18
    beta = _lstsq(np.column_stack([np.ones_like(t), t]), [PR])[..., 0]  # (p, 2)
    assert_pixels_equal(got["scale"], beta[:, 1].reshape(NEX_SHAPE), rtol=1e-6)
    assert_pixels_equal(got["offset"], beta[:, 0].reshape(NEX_SHAPE), rtol=1e-6)


def ex_linear_regression_two_dependents(ds):
    collection = (
        _nex(ds)
        .map(_create_time_band)
        .map(_create_constant_band)
        .select(["constant", "system:time_start", "pr_mean", "tasmax_mean"])
    )
    linear_regression = collection.reduce(ee.Reducer.linearRegression(numX=2, numY=2))
    coefficients = linear_regression.select("coefficients").arrayFlatten(
        [["constant", "time"], ["pr", "tasmax"]]
    )
    got = compute_pixels(coefficients, grid(NEX_T, NEX_SHAPE))
    t = np.array(NEX_T0) / 1e18
    beta = _lstsq(np.column_stack([np.ones_like(t), t]), [PR, TASMAX])  # (p, 2, 2)
    for i, xname in enumerate(["constant", "time"]):
        for j, (yname, y) in enumerate([("pr", PR), ("tasmax", TASMAX)]):
            want = beta[:, i, j].reshape(NEX_SHAPE)
            assert_pixels_equal(
                got[f"{xname}_{yname}"], want, rtol=1e-5, atol=1e-9 * np.abs(y).max()
            )


def ex_linear_regression_image_region(ds):
    b = _base()
    img = ee.Image(ds.l8_toa)
    img_subset = img.select(["B6", "B7", "B5"])
    img_constant = ee.Image(1).addBands(img_subset)
    linear_regression = img_constant.reduceRegion(
        reducer=ee.Reducer.linearRegression(numX=3, numY=1),
        # a rectangle on the stand-in (its top-left 10 x 10 pixels) for the guide's
        geometry=ee.Geometry.Rectangle(
            [560_000, 4_189_700, 560_300, 4_190_000], "EPSG:32610", False
        ),
        scale=30,
    )
    coef_list = ee.Array(linear_regression.get("coefficients")).toList()
    b0 = ee.List(coef_list.get(0)).get(0)
    b1 = ee.List(coef_list.get(1)).get(0)
    b2 = ee.List(coef_list.get(2)).get(0)
    # The first band (the constant) has no projection, so the reduction runs in EPSG:4326 at
    # 30 m (from the origin), each band sampled at the nearest pixel: the pixels of that grid
    # whose centre lies in the rectangle.
    step = 30 / DEGREE_M
    lon0, lat0 = _UTM.transform(560_000, 4_189_700)
    lon1, lat1 = _UTM.transform(560_300, 4_190_000)
    cols = np.arange(np.floor(min(lon0, lon1) / step) - 2, np.ceil(max(lon0, lon1) / step) + 2)
    rows = np.arange(np.floor(min(lat0, lat1) / step) - 2, np.ceil(max(lat0, lat1) / step) + 2)
    lon, lat = np.meshgrid((cols + 0.5) * step, (rows + 0.5) * step)
    x, y = _TO_UTM.transform(lon.ravel(), lat.ravel())
    inside = (x > 560_000) & (x < 560_300) & (y > 4_189_700) & (y < 4_190_000)
    r = ((4_190_000 - y[inside]) // 30).astype(int)
    c = ((x[inside] - 560_000) // 30).astype(int)
    y5, y6, y7 = (b.TOA[n][r, c] for n in ("B5", "B6", "B7"))
    ok = ~np.isnan(y5)
    x = np.column_stack([np.ones(ok.sum()), y6[ok], y7[ok]])
    want = np.linalg.lstsq(x, y5[ok], rcond=None)[0]
    got = [v.getInfo() for v in (b0, b1, b2)]
    np.testing.assert_allclose(got, want, rtol=1e-9)


# --- vectors --------------------------------------------------------------------------------------


def ex_reduce_to_vectors_zones(ds):
    b = _base()
    dataset = ee.Image(ds.nl)
    lights = dataset.select("stable_lights")
    zones = lights.gt(30).add(lights.gt(55)).add(lights.gt(62))
    zones = zones.updateMask(zones.neq(0))
    vectors = zones.addBands(lights).reduceToVectors(
        geometry=dataset.geometry(),  # the stand-in's footprint in place of the guide's region
        crs=lights.projection(),
        scale=1000,
        geometryType="polygon",
        eightConnected=False,
        labelProperty="zone",
        reducer=ee.Reducer.mean(),
    )
    got = sorted(
        (f["properties"]["zone"], f["properties"]["mean"]) for f in vectors.getInfo()["features"]
    )
    # the work grid: the lights' projection rescaled to 1000 m, same origin; nearest neighbour
    step = (1 / 120) * 1000 / ((1 / 120) * DEGREE_M)
    x0, y0 = -122.5, 37.9
    xmin, xmax, ymin, ymax = x0, x0 + 10 / 120, y0 - 10 / 120, y0
    cols = np.arange(int(np.floor((xmax - x0) / step)) + 1)
    rows = np.arange(int(np.floor((y0 - ymin) / step)) + 1)
    xs, ys = x0 + step * (cols + 0.5), y0 - step * (rows + 0.5)
    cols, xs = cols[(xs >= xmin) & (xs < xmax)], xs[(xs >= xmin) & (xs < xmax)]
    rows, ys = rows[(ys > ymin) & (ys <= ymax)], ys[(ys > ymin) & (ys <= ymax)]
    src = b.NL[np.floor((y0 - ys) * 120).astype(int)][:, np.floor((xs - x0) * 120).astype(int)]
    z = (src > 30).astype(int) + (src > 55) + (src > 62)
    want = []
    for value in (1, 2, 3):
        segs, n = ndimage.label(z == value)  # 4-connected
        want += [(value, src[segs == k].mean()) for k in range(1, n + 1)]
    assert len(got) == len(want)
    for (gz, gm), (wz, wm) in zip(got, sorted(want), strict=True):
        assert gz == wz and gm == pytest.approx(wm, rel=1e-12)


PLANTS = [(4.35, 50.85, 120.0), (4.36, 50.84, 30.5), (3.72, 51.05, 400.0), (5.57, 50.63, 7.25)]


def ex_reduce_to_image_sum(ds):
    fc = ee.FeatureCollection(
        [ee.Feature(ee.Geometry.Point(x, y), {"gwh_estimt": g}) for x, y, g in PLANTS]
    )
    image = fc.reduceToImage(properties=["gwh_estimt"], reducer=ee.Reducer.sum())
    t = (0.1, 0.0, 2.5, 0.0, -0.1, 51.5)  # 0.1 degree cells over Belgium
    got = compute_pixels(image, grid(t, (10, 35)))["sum"]
    want = np.zeros((10, 35))
    hit = np.zeros((10, 35), dtype=bool)
    for x, y, g in PLANTS:
        r, c = int((51.5 - y) / 0.1), int((x - 2.5) / 0.1)
        want[r, c] += g
        hit[r, c] = True
    assert_pixels_equal(got, np.where(hit, want, NAN), rtol=1e-12)


def ex_collection_reduce_to_image_cloud_cover(ds):
    col = ee.ImageCollection(ds.scenes)
    mean_cloud_cover = col.reduceToImage(properties=["CLOUD_COVER"], reducer=ee.Reducer.mean())
    t = (0.5, 0.0, -124.0, 0.0, -0.5, 46.0)
    got = compute_pixels(mean_cloud_cover, grid(t, (7, 7)))["mean"]
    total, count = np.zeros((7, 7)), np.zeros((7, 7))
    for k in range(3):  # scene k covers rows k..k+3 and columns 2k..2k+3
        total[k : k + 4, 2 * k : 2 * k + 4] += CLOUD[k]
        count[k : k + 4, 2 * k : 2 * k + 4] += 1
    with np.errstate(invalid="ignore"):
        assert_pixels_equal(got, np.where(count > 0, total / count, NAN), rtol=1e-12)


# --- sampling --------------------------------------------------------------------------------------


def _lonlat_of_pixel(row: int, col: int) -> tuple[float, float]:
    b = _base()
    a, _, c, _, e, f = b.L8_T
    return _UTM.transform(c + a * (col + 0.5), f + e * (row + 0.5))


def ex_get_region_time_series(ds):
    b = _base()
    lon, lat = _lonlat_of_pixel(5, 7)
    point = ee.Geometry.Point(lon, lat)
    info = ee.ImageCollection(ds.l8_sr).select("SR_B4").getRegion(point, 30).getInfo()
    assert info[0] == ["id", "longitude", "latitude", "time", "SR_B4"]
    # the work grid is EPSG:4326 at 30 m from (0, 0): the pixel holding the point
    step = 30 / DEGREE_M
    cx, cy = (np.floor(lon / step) + 0.5) * step, (np.floor(lat / step) + 0.5) * step
    x, y = _TO_UTM.transform(cx, cy)
    r, c = int((b.L8_T[5] - y) // 30), int((x - b.L8_T[2]) // 30)
    t0 = 1395100800000
    want = [[f"img{k}", t0 + d * b.DAY, b.SR[k]["SR_B4"][r, c]] for k, d in enumerate(b.SR_DAYS)]
    assert [[row[0], row[3], row[4]] for row in info[1:]] == want
    assert info[1][1:3] == [pytest.approx(cx, abs=1e-9), pytest.approx(cy, abs=1e-9)]


def ex_sample_regions_training(ds):
    b = _base()
    image = ee.Image(ds.l8_toa)
    bands = ["B2", "B3", "B4", "B5", "B6", "B7", "B10", "B11"]
    pixels = [((1, 2), 0), ((3, 4), 1), ((8, 9), 2)]  # (3, 4) is where B5 is masked
    points = ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Point(*_lonlat_of_pixel(r, c)), {"landcover": cls})
            for (r, c), cls in pixels
        ]
    )
    training = image.select(bands).sampleRegions(
        collection=points, properties=["landcover"], scale=30
    )
    got = [f["properties"] for f in training.getInfo()["features"]]
    want = [
        {"landcover": cls, **{n: b.TOA[n][r, c] for n in bands}}
        for (r, c), cls in pixels
        if not np.isnan(b.TOA["B5"][r, c])
    ]
    assert got == want


G = "https://developers.google.com/earth-engine/guides/"
A = "https://developers.google.com/earth-engine/apidocs/"
EXAMPLES = [
    ("array length and slice", G + "arrays_array_images", ex_array_length_and_slice),
    ("tasseled cap with matrixMultiply", G + "arrays_array_images", ex_tasseled_cap),
    ("1-D array image flattened", A + "ee-image-arrayflatten", ex_array_flatten_1d),
    ("array image sort", A + "ee-image-arraysort", ex_array_sort),
    (
        "mean of the highest-NDVI 20 % (array sort, slice, reduce)",
        G + "arrays_sorting_reducing",
        ex_array_sort_top_ndvi_mean,
    ),
    ("linearFit over time", G + "reducers_regression", ex_linear_fit_over_time),
    (
        "linearRegression numX=2 numY=2 over a collection",
        G + "reducers_regression",
        ex_linear_regression_two_dependents,
    ),
    (
        "linearRegression over an image region",
        G + "reducers_regression",
        ex_linear_regression_image_region,
    ),
    ("reduceToVectors zones", G + "reducers_reduce_to_vectors", ex_reduce_to_vectors_zones),
    ("reduceToImage sum", A + "ee-featurecollection-reducetoimage", ex_reduce_to_image_sum),
    (
        "ImageCollection.reduceToImage mean cloud cover",
        A + "ee-imagecollection-reducetoimage",
        ex_collection_reduce_to_image_cloud_cover,
    ),
    ("getRegion time series", A + "ee-imagecollection-getregion", ex_get_region_time_series),
    ("sampleRegions training data", G + "classification", ex_sample_regions_training),
]
