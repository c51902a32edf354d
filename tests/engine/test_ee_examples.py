"""Earth Engine Python examples from Google's public guides, run against the local engine.

Each example is a short snippet of a developer guide (the source is in ``EXAMPLES``), adapted
only as far as running offline needs: the dataset is a small synthetic stand-in on the
dataset's native grid (same band names, pixel types and projection; asset ids under the
test's folder instead of the catalog id) and ``Map.addLayer``/``print`` become checks of the
result against NumPy. ``test_share_of_examples_that_run`` runs them all and reports the share
that runs; an example the engine cannot run must fail with Earth Engine's own
"<Algorithm> is not implemented by the local engine." (``UNSUPPORTED`` names them, with
the reason).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import ee
import ee_examples_arrays
import numpy as np
import pyproj
import pytest
from helpers import window_stat
from scipy import ndimage

from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of

pytestmark = pytest.mark.usefixtures("engine")

NAN = np.nan
FOLDER = "projects/local-project/assets/t/ee-examples"
DAY = 86_400_000
RNG = np.random.default_rng(2014)

# --- stand-ins ---------------------------------------------------------------------------------

# Landsat 8 (UTM zone 10N, 30 m), 12 x 12 pixels near San Francisco Bay.
L8_T = (30.0, 0.0, 560_000.0, 0.0, -30.0, 4_190_000.0)
L8_SHAPE = (12, 12)
L8_GRID = grid(L8_T, L8_SHAPE, "EPSG:32610")
TOA = {f"B{i}": np.round(RNG.uniform(0.02, 0.5, L8_SHAPE), 4) for i in range(1, 12)}
TOA["B5"][3, 4] = NAN  # one masked pixel
# Collection 2 Level 2: scaled integers and QA_PIXEL bits (3 cloud, 4 shadow).
SR_DAYS = [0, 16, 32]
SR = [
    {f"SR_B{i}": RNG.integers(7273, 30000, L8_SHAPE).astype(float) for i in range(1, 8)}
    for _ in SR_DAYS
]
QA = [RNG.choice([21824.0, 21952.0, 22280.0, 23888.0], L8_SHAPE) for _ in SR_DAYS]
# Sentinel-2 SR (UTM 10N, 10 m): B2 B3 B4 B8 and QA60 (bit 10 opaque cloud, 11 cirrus).
S2_T = (10.0, 0.0, 560_000.0, 0.0, -10.0, 4_190_000.0)
S2 = [
    {b: RNG.integers(0, 10000, (10, 10)).astype(float) for b in ("B2", "B3", "B4", "B8")}
    for _ in range(2)
]
QA60 = [RNG.choice([0.0, 1024.0, 2048.0, 3072.0], (10, 10)) for _ in range(2)]
# DMSP-OLS nighttime lights (30 arc-seconds, WGS84): stable_lights 0..63.
NL_T = (1 / 120, 0.0, -122.5, 0.0, -1 / 120, 37.9)
NL = RNG.integers(0, 64, (10, 10)).astype(float)
# NAIP (1 m, NAD83 UTM 10N) in the redwoods of the guide "Statistics of Image Neighborhoods".
NAIP_T = (1.0, 0.0, 416_100.0, 0.0, -1.0, 4_555_000.0)
NAIP_GRID = grid(NAIP_T, (20, 20), "EPSG:26910")
NAIP = {b: RNG.integers(1, 256, (20, 20)).astype(float) for b in ("R", "G", "B", "N")}
# Landsat 8 TOA scenes of path 44 row 34 at the guide's point (-122.09, 37.42), April-June 2014
# (20 x 20 pixels each): the joins guides' collection.
SCENES = ["20140403", "20140419", "20140505", "20140521", "20140606"]
SCENE_T = (30.0, 0.0, 580_200.0, 0.0, -30.0, 4_142_100.0)
SCENE_HOUR = 18 * 3_600_000 + 50 * 60_000  # 18:50 UTC overpass
# Daily MODIS-like (time_start..time_end one day) and GRIDMET-like (daily at 06:00) images.
DAILY_T = (0.5, 0.0, -123.0, 0.0, -0.5, 38.0)


@pytest.fixture(scope="module")
def ds(engine) -> SimpleNamespace:
    """The stand-ins in the store; attribute = the asset id used in place of the catalog id."""
    store = engine.store
    ids = SimpleNamespace(folder=FOLDER)
    t0 = 1395100800000  # 2014-03-18
    ids.l8_toa = f"{FOLDER}/LC08_044034_20140318"
    store.put_image(
        ids.l8_toa,
        image_of(TOA, L8_T, crs="EPSG:32610"),
        {"CLOUD_COVER": 12.5, "system:time_start": t0, "SPACECRAFT_ID": "LANDSAT_8"},
    )
    for name, n in (("l8_sr", len(SR_DAYS)), ("s2", len(S2))):
        cid = f"{FOLDER}/{name}"
        setattr(ids, name, cid)
        if not store.exists(cid):
            store.create(cid, "IMAGE_COLLECTION")
        for k in range(n):
            if name == "l8_sr":
                bands, tr, t = {**SR[k], "QA_PIXEL": QA[k]}, L8_T, t0 + SR_DAYS[k] * DAY
            else:
                bands, tr, t = {**S2[k], "QA60": QA60[k]}, S2_T, t0 + k * 5 * DAY
            store.put_image(
                f"{cid}/img{k}", image_of(bands, tr, crs="EPSG:32610"), {"system:time_start": t}
            )
    ids.nl = f"{FOLDER}/F182012"
    store.put_image(ids.nl, image_of({"stable_lights": NL}, NL_T, crs="EPSG:4326"))
    ids.naip = _collection(
        store, "naip", [("m_4112401_ne", image_of(NAIP, NAIP_T, crs="EPSG:26910"), 1341100800000)]
    )
    ids.toa = _collection(
        store,
        "toa",
        [
            (
                f"LC08_044034_{d}",
                image_of({"B1": np.full((20, 20), k + 0.5)}, SCENE_T, crs="EPSG:32610"),
                _millis(d) + SCENE_HOUR,
            )
            for k, d in enumerate(SCENES)
        ],
        time_end=True,
    )
    ids.modis = _collection(
        store,
        "mod09ga",
        [
            (
                f"2014_{k:03d}",
                image_of({"v": np.ones((2, 2))}, DAILY_T, crs="EPSG:4326"),
                _millis("20140301") + k * DAY,
            )
            for k in range(0, 120, 3)
        ],
        time_end=True,
        duration=DAY,
    )
    ids.gridmet = _collection(
        store,
        "gridmet",
        [
            (
                f"201403{k:02d}",
                image_of({"pr": np.ones((2, 2))}, DAILY_T, crs="EPSG:4326"),
                _millis("20140301") + 6 * 3_600_000 + k * 5 * DAY,
            )
            for k in range(0, 25)
        ],
    )
    ee_examples_arrays.put_stand_ins(store, ids, FOLDER)
    return ids


def _millis(yyyymmdd: str) -> int:
    return int(
        np.datetime64(f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}", "ms").astype(np.int64)
    )


def _collection(store, name: str, images, *, time_end: bool = False, duration: int = 0) -> str:
    cid = f"{FOLDER}/{name}"
    if not store.exists(cid):
        store.create(cid, "IMAGE_COLLECTION")
    for child, data, t in images:
        props = {"system:time_start": t}
        if time_end:
            props["system:time_end"] = t + duration
        store.put_image(f"{cid}/{child}", data, props)
    return cid


# --- the examples --------------------------------------------------------------------------------


def _toa(ds) -> ee.Image:
    return ee.Image(ds.l8_toa)


def ex_ndvi_hard_and_easy_way(ds):
    landsat = _toa(ds)
    ndvi_hard = (
        landsat.select("B5")
        .subtract(landsat.select("B4"))
        .divide(landsat.select("B5").add(landsat.select("B4")))
    )
    ndvi_easy = landsat.normalizedDifference(["B5", "B4"])
    expected = (TOA["B5"] - TOA["B4"]) / (TOA["B5"] + TOA["B4"])
    assert_pixels_equal(compute_pixels(ndvi_hard, L8_GRID)["B5"], expected, rtol=1e-12)
    assert_pixels_equal(compute_pixels(ndvi_easy, L8_GRID)["nd"], expected, rtol=1e-6)


def ex_expression_evi(ds):
    image = _toa(ds)
    evi = image.expression(
        "2.5 * ((NIR - RED) / (NIR + 6 * RED - 7.5 * BLUE + 1))",
        {"NIR": image.select("B5"), "RED": image.select("B4"), "BLUE": image.select("B2")},
    )
    nir, red, blue = TOA["B5"], TOA["B4"], TOA["B2"]
    expected = 2.5 * ((nir - red) / (nir + 6 * red - 7.5 * blue + 1))
    assert_pixels_equal(compute_pixels(evi, L8_GRID)["constant"], expected, rtol=1e-12)


def ex_expression_forms(ds):
    img = _toa(ds)
    nir, red = TOA["B5"], TOA["B4"]
    ndvi = (nir - red) / (nir + red)
    band_index_img = img.expression("(b(4) - b(3)) / (b(4) + b(3))").rename("NDVI")
    band_name_img = img.expression('(b("B5") - b("B4")) / (b("B5") + b("B4"))').rename("NDVI")
    named_vars_img = (
        ee.Image()
        .expression(
            expression="(NIR - Red) / (NIR + Red)",
            opt_map={"NIR": img.select("B5"), "Red": img.select("B4")},
        )
        .rename("NDVI")
    )
    named_vars_dot_img = (
        ee.Image()
        .expression(expression="(ls8.B5 - ls8.B4) / (ls8.B5 + ls8.B4)", opt_map={"ls8": img})
        .rename("NDVI")
    )
    for im in (band_index_img, band_name_img, named_vars_img, named_vars_dot_img):
        assert_pixels_equal(compute_pixels(im, L8_GRID)["NDVI"], ndvi, rtol=1e-12)
    js_math_img = ee.Image().expression(
        expression="c = sqrt(pow(a, 2) + pow(b, 2))",
        opt_map={"a": ee.Image(5), "b": img.select("B2")},
    )
    got = compute_pixels(js_math_img, L8_GRID)
    assert list(got) == ["c"]
    assert_pixels_equal(got["c"], np.hypot(5, TOA["B2"]), rtol=1e-12)


def ex_squared_difference(ds):
    a, b = _toa(ds), _toa(ds).multiply(0.5)
    diff = a.subtract(b)
    squared = diff.pow(2)
    got = compute_pixels(squared.select("B3"), L8_GRID)["B3"]
    assert_pixels_equal(got, (TOA["B3"] * 0.5) ** 2, rtol=1e-12)


def ex_relational_zones(ds):
    nl_2012 = ee.Image(ds.nl)
    lights = nl_2012.select("stable_lights")
    zones = lights.gt(30).add(lights.gt(55)).add(lights.gt(62))
    zones = zones.updateMask(zones.neq(0))
    z = (NL > 30).astype(float) + (NL > 55) + (NL > 62)
    got = compute_pixels(zones, grid(NL_T, NL.shape))["stable_lights"]
    assert_pixels_equal(got, np.where(z != 0, z, NAN))


def ex_relational_expression_zones(ds):
    nl_2012 = ee.Image(ds.nl)
    zones_exp = nl_2012.expression(
        "(b('stable_lights') > 62) ? 3 "
        ": (b('stable_lights') > 55) ? 2 "
        ": (b('stable_lights') > 30) ? 1 "
        ": 0"
    )
    z = np.where(NL > 62, 3, np.where(NL > 55, 2, np.where(NL > 30, 1, 0))).astype(float)
    got = compute_pixels(zones_exp, grid(NL_T, NL.shape))
    assert_pixels_equal(next(iter(got.values())), z)


def _correlate_valid(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    valid = ~np.isnan(x)
    total = ndimage.correlate(np.where(valid, x, 0.0), w, mode="constant")
    support = ndimage.correlate(valid.astype(float), (w != 0).astype(float), mode="constant")
    return np.where(support > 0, total, NAN)


def ex_convolve_boxcar(ds):
    image = _toa(ds)
    boxcar = ee.Kernel.square(radius=7, units="pixels", normalize=True)
    smooth = image.convolve(boxcar)
    got = compute_pixels(smooth.select("B5"), L8_GRID)["B5"]
    assert_pixels_equal(got, _correlate_valid(TOA["B5"], np.ones((15, 15)) / 225), rtol=1e-9)


def ex_convolve_laplacian(ds):
    image = _toa(ds)
    laplacian = ee.Kernel.laplacian8(normalize=False)
    edgy = image.convolve(laplacian)
    w = np.array([[1, 1, 1], [1, -8, 1], [1, 1, 1]], dtype=float)
    got = compute_pixels(edgy.select("B4"), L8_GRID)["B4"]
    assert_pixels_equal(got, _correlate_valid(TOA["B4"], w), rtol=1e-9, atol=1e-12)


def ex_fixed_kernel(ds):
    row = [1, 1, 1, 1, 1, 1, 1, 1, 1]
    center_row = [1, 1, 1, 1, 0, 1, 1, 1, 1]
    rows = [row, row, row, row, center_row, row, row, row, row]
    kernel = ee.Kernel.fixed(9, 9, rows, -4, -4, False)
    info = kernel.getInfo()
    assert (info["x"], info["y"]) == (4, 4) and info["weights"] == rows
    neighbours = _toa(ds).select("B3").convolve(kernel)
    got = compute_pixels(neighbours, L8_GRID)["B3"]
    assert_pixels_equal(got, _correlate_valid(TOA["B3"], np.array(rows, dtype=float)), rtol=1e-9)


def ex_morphological_opening(ds):
    image = _toa(ds).select(4).gt(0.2)
    kernel = ee.Kernel.circle(radius=1)
    opened = image.focalMin(kernel=kernel, iterations=2).focalMax(kernel=kernel, iterations=2)
    fp = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
    x = np.where(np.isnan(TOA["B5"]), NAN, (TOA["B5"] > 0.2).astype(float))
    # A focal operation gives a value wherever a neighbour is valid, so each iteration reaches
    # one pixel further beyond the image: compute on a grid grown by 4 pixels, then crop.
    x = np.pad(x, 4, constant_values=NAN)
    for fn in (np.min, np.min, np.max, np.max):
        x = window_stat(x, fp, fn)
    assert_pixels_equal(compute_pixels(opened, L8_GRID)["B5"], x[4:-4, 4:-4])


def ex_reduce_neighborhood_texture(ds):
    redwoods = ee.Geometry.Rectangle(-124.0665, 41.0739, -123.934, 41.2029)
    naip_collection = (
        ee.ImageCollection(ds.naip).filterBounds(redwoods).filterDate("2012-01-01", "2012-12-31")
    )
    naip = naip_collection.mosaic()
    naip_ndvi = naip.normalizedDifference(["N", "R"])
    texture = naip_ndvi.reduceNeighborhood(reducer=ee.Reducer.stdDev(), kernel=ee.Kernel.circle(7))
    dy, dx = np.mgrid[-7:8, -7:8]
    fp = np.hypot(dx, dy) <= 7
    ndvi = (NAIP["N"] - NAIP["R"]) / (NAIP["N"] + NAIP["R"])
    got = compute_pixels(texture, NAIP_GRID)
    assert list(got) == ["nd_stdDev"]
    assert_pixels_equal(got["nd_stdDev"], window_stat(ndvi, fp, np.std), rtol=1e-5, atol=1e-7)


def ex_relational_bare(ds):
    image = _toa(ds)
    ndvi = image.normalizedDifference(["B5", "B4"])
    ndwi = image.normalizedDifference(["B3", "B5"])
    bare = ndvi.lt(0.2).And(ndwi.lt(0))
    got = compute_pixels(bare.selfMask(), L8_GRID)["nd"]
    b5, b4, b3 = TOA["B5"], TOA["B4"], TOA["B3"]
    test = ((b5 - b4) / (b5 + b4) < 0.2) & ((b3 - b5) / (b3 + b5) < 0)
    assert_pixels_equal(got, np.where(test & ~np.isnan(b5), 1.0, NAN))


def ex_mask_s2_clouds(ds):
    def mask_s2_clouds(image):
        qa = image.select("QA60")
        cloud_bit_mask = 1 << 10
        cirrus_bit_mask = 1 << 11
        mask = qa.bitwiseAnd(cloud_bit_mask).eq(0).And(qa.bitwiseAnd(cirrus_bit_mask).eq(0))
        return image.updateMask(mask).divide(10000)

    dataset = ee.ImageCollection(ds.s2).filterDate("2014-03-01", "2014-04-30").map(mask_s2_clouds)
    first = dataset.first()
    got = compute_pixels(first.select("B4"), grid(S2_T, (10, 10), "EPSG:32610"))["B4"]
    clear = (QA60[0].astype(int) & (1 << 10) == 0) & (QA60[0].astype(int) & (1 << 11) == 0)
    assert_pixels_equal(got, np.where(clear, S2[0]["B4"] / 10000, NAN), rtol=1e-12)


def ex_landsat_c2_scale_and_mask(ds):
    def mask_l8sr(image):
        qa_mask = image.select("QA_PIXEL").bitwiseAnd(int("11111", 2)).eq(0)
        optical_bands = image.select("SR_B.").multiply(0.0000275).add(-0.2)
        return image.addBands(optical_bands, None, True).updateMask(qa_mask)

    collection = ee.ImageCollection(ds.l8_sr).map(mask_l8sr)
    got = compute_pixels(collection.first().select("SR_B4"), L8_GRID)["SR_B4"]
    clear = (QA[0].astype(int) & 0b11111) == 0
    assert_pixels_equal(got, np.where(clear, SR[0]["SR_B4"] * 0.0000275 - 0.2, NAN), rtol=1e-9)


def ex_map_add_ndvi(ds):
    def add_ndvi(image):
        ndvi = image.normalizedDifference(["SR_B5", "SR_B4"]).rename("NDVI")
        return image.addBands(ndvi)

    with_ndvi = ee.ImageCollection(ds.l8_sr).map(add_ndvi)
    assert with_ndvi.first().bandNames().getInfo()[-1] == "NDVI"
    got = compute_pixels(with_ndvi.first().select("NDVI"), L8_GRID)["NDVI"]
    nir, red = SR[0]["SR_B5"], SR[0]["SR_B4"]
    assert_pixels_equal(got, (nir - red) / (nir + red), rtol=1e-6)


def ex_collection_median(ds):
    median = ee.ImageCollection(ds.l8_sr).median()
    got = compute_pixels(median.select("SR_B3"), L8_GRID)["SR_B3"]
    assert_pixels_equal(got, np.median(np.stack([s["SR_B3"] for s in SR]), axis=0))


def ex_reduce_region_mean(ds):
    image = _toa(ds)
    region = ee.Geometry.Rectangle([560_000, 4_189_700, 560_300, 4_190_000], "EPSG:32610", False)
    mean_dict = image.reduceRegion(
        reducer=ee.Reducer.mean(), geometry=region, scale=30, maxPixels=1e9
    )
    got = mean_dict.getInfo()
    assert got["B2"] == pytest.approx(np.nanmean(TOA["B2"][:10, :10]), rel=1e-12)
    assert got["B5"] == pytest.approx(np.nanmean(TOA["B5"][:10, :10]), rel=1e-12)


def ex_image_metadata_info(ds):
    image = _toa(ds)
    band_names = image.bandNames()
    assert band_names.getInfo() == list(TOA)
    b1_scale = image.select("B1").projection().nominalScale()
    assert b1_scale.getInfo() == pytest.approx(30.0)
    properties = image.propertyNames()
    assert "CLOUD_COVER" in properties.getInfo()
    cloudiness = image.get("CLOUD_COVER")
    assert cloudiness.getInfo() == 12.5
    assert ee.Date(image.get("system:time_start")).format("YYYY-MM-dd").getInfo() == "2014-03-18"


def ex_metadata_band(ds):
    cloud = _toa(ds).metadata("CLOUD_COVER")
    assert_pixels_equal(compute_pixels(cloud, L8_GRID)["CLOUD_COVER"], np.full(L8_SHAPE, 12.5))


def _guide_collection(ds) -> ee.ImageCollection:
    return ee.ImageCollection(ds.toa).filterBounds(ee.Geometry.Point(-122.09, 37.42))


def _ids(coll) -> list[str]:
    return coll.aggregate_array("system:index").getInfo()


def ex_join_simple(ds):
    collection = _guide_collection(ds)
    april, may, june, july = "2014-04-01", "2014-05-01", "2014-06-01", "2014-07-01"
    primary = collection.filterDate(april, june)
    secondary = collection.filterDate(may, july)
    filter = ee.Filter.equals(leftField="system:index", rightField="system:index")  # noqa: A001
    simple_join = ee.Join.simple()
    simple_joined = simple_join.apply(primary, secondary, filter)
    assert _ids(simple_joined) == ["LC08_044034_20140505", "LC08_044034_20140521"]


def ex_join_inverted(ds):
    collection = _guide_collection(ds)
    april, may, june, july = "2014-04-01", "2014-05-01", "2014-06-01", "2014-07-01"
    primary = collection.filterDate(april, june)
    secondary = collection.filterDate(may, july)
    filter = ee.Filter.equals(leftField="system:index", rightField="system:index")  # noqa: A001
    inverted_join = ee.Join.inverted()
    inverted_joined = inverted_join.apply(primary, secondary, filter)
    # the guide prints the 20140403 and 20140419 scenes
    assert _ids(inverted_joined) == ["LC08_044034_20140403", "LC08_044034_20140419"]


def ex_join_save_all(ds):
    primary = (
        ee.ImageCollection(ds.toa)
        .filterDate("2014-04-01", "2014-06-01")
        .filterBounds(ee.Geometry.Point(-122.092, 37.42))
    )
    mod_secondary = ee.ImageCollection(ds.modis).filterDate("2014-03-01", "2014-07-01")
    two_days_millis = 2 * 24 * 60 * 60 * 1000
    time_filter = ee.Filter.Or(
        ee.Filter.maxDifference(
            difference=two_days_millis, leftField="system:time_start", rightField="system:time_end"
        ),
        ee.Filter.maxDifference(
            difference=two_days_millis, leftField="system:time_end", rightField="system:time_start"
        ),
    )
    save_all_join = ee.Join.saveAll(
        matchesKey="terra", ordering="system:time_start", ascending=True
    )
    landsat_modis = save_all_join.apply(primary, mod_secondary, time_filter)
    got = (
        landsat_modis.map(
            lambda im: im.set(
                "days", ee.List(im.get("terra")).map(lambda m: ee.Image(m).get("system:index"))
            )
        )
        .aggregate_array("days")
        .getInfo()
    )
    modis = [(f"2014_{k:03d}", _millis("20140301") + k * DAY) for k in range(0, 120, 3)]
    want = []
    for d in SCENES[:4]:
        t = _millis(d) + SCENE_HOUR
        want.append(
            [
                n
                for n, s0 in modis
                if abs(t - (s0 + DAY)) <= two_days_millis or abs(t - s0) <= two_days_millis
            ]
        )
    assert got == want


def ex_join_save_best(ds):
    primary = (
        ee.ImageCollection(ds.toa)
        .filterDate("2014-04-01", "2014-06-01")
        .filterBounds(ee.Geometry.Point(-122.092, 37.42))
    )
    gridmet = ee.ImageCollection(ds.gridmet)
    max_diff_filter = ee.Filter.maxDifference(
        difference=2 * 24 * 60 * 60 * 1000,
        leftField="system:time_start",
        rightField="system:time_start",
    )
    save_best_join = ee.Join.saveBest(matchKey="bestImage", measureKey="timeDiff")
    landsat_met = save_best_join.apply(primary, gridmet, max_diff_filter)
    got = landsat_met.map(
        lambda im: im.set(
            "best",
            ee.Image(im.get("bestImage")).get("system:index"),
            "dt",
            ee.Image(im.get("bestImage")).get("timeDiff"),
        )
    )
    met = [(f"201403{k:02d}", _millis("20140301") + 6 * 3_600_000 + k * 5 * DAY) for k in range(25)]
    want_best, want_dt = [], []
    for d in SCENES[:4]:
        t = _millis(d) + SCENE_HOUR
        cands = [(abs(t - m), n) for n, m in met if abs(t - m) <= 2 * DAY]
        if cands:
            dt, n = min(cands)
            want_best.append(n)
            want_dt.append(dt)
    assert got.aggregate_array("best").getInfo() == want_best
    assert got.aggregate_array("dt").getInfo() == want_dt


def ex_join_inner(ds):
    primary_features = ee.FeatureCollection(
        [
            ee.Feature(None, {"foo": 0, "label": "a"}),
            ee.Feature(None, {"foo": 1, "label": "b"}),
            ee.Feature(None, {"foo": 1, "label": "c"}),
            ee.Feature(None, {"foo": 2, "label": "d"}),
        ]
    )
    secondary_features = ee.FeatureCollection(
        [
            ee.Feature(None, {"bar": 1, "label": "e"}),
            ee.Feature(None, {"bar": 1, "label": "f"}),
            ee.Feature(None, {"bar": 2, "label": "g"}),
            ee.Feature(None, {"bar": 3, "label": "h"}),
        ]
    )
    toy_filter = ee.Filter.equals(leftField="foo", rightField="bar")
    inner_join = ee.Join.inner("primary", "secondary")
    toy_join = inner_join.apply(primary_features, secondary_features, toy_filter)
    pairs = [
        (
            f["properties"]["primary"]["properties"]["label"],
            f["properties"]["secondary"]["properties"]["label"],
        )
        for f in toy_join.getInfo()["features"]
    ]
    assert pairs == [("b", "e"), ("b", "f"), ("c", "e"), ("c", "f"), ("d", "g")]


PARK = [(-119.9, 37.5), (-119.2, 37.5), (-119.2, 38.2), (-119.9, 38.2), (-119.9, 37.5)]
PLANTS = [(-119.5, 37.8), (-120.5, 37.8), (-119.5, 39.3), (-121.5, 37.0)]


def _plants() -> ee.FeatureCollection:
    return ee.FeatureCollection(
        [ee.Feature(ee.Geometry.Point(x, y), {"i": i}) for i, (x, y) in enumerate(PLANTS)]
    )


def ex_join_spatial_within_distance(ds):
    primary = ee.FeatureCollection(
        [ee.Feature(ee.Geometry.Polygon([PARK], None, False), {"NAME": "Yosemite National Park"})]
    ).filter(ee.Filter.eq("NAME", "Yosemite National Park"))
    power_plants = _plants()
    dist_filter = ee.Filter.withinDistance(
        distance=100000, leftField=".geo", rightField=".geo", maxError=10
    )
    dist_save_all = ee.Join.saveAll(matchesKey="points", measureKey="distance")
    spatial_joined = dist_save_all.apply(primary, power_plants, dist_filter)
    points = spatial_joined.getInfo()["features"][0]["properties"]["points"]
    geod = pyproj.Geod(ellps="WGS84")
    # plant 1 is 0.6 degrees of longitude west of the park's edge at 37.8 N (same latitude)
    d1 = geod.inv(-120.5, 37.8, -119.9, 37.8)[2]
    assert [p["properties"]["i"] for p in points] == [0, 1]
    assert points[0]["properties"]["distance"] == 0
    assert points[1]["properties"]["distance"] == pytest.approx(d1, abs=5.0)


def ex_join_spatial_intersects(ds):
    states = ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Rectangle([-121, 36.5, -119, 38.5], None, False), {"NAME": "A"}),
            ee.Feature(ee.Geometry.Rectangle([-123, 36.5, -121, 38.5], None, False), {"NAME": "B"}),
        ]
    )
    power_plants = _plants()
    spatial_filter = ee.Filter.intersects(leftField=".geo", rightField=".geo", maxError=10)
    save_all_join = ee.Join.saveAll(matchesKey="power_plants")
    intersect_joined = save_all_join.apply(states, power_plants, spatial_filter)
    intersect_joined = intersect_joined.map(
        lambda state: state.set("n_power_plants", ee.List(state.get("power_plants")).size())
    )
    # A holds plants 0 and 1; B holds plant 3; plant 2 (39.3 N) is in neither
    assert intersect_joined.aggregate_array("n_power_plants").getInfo() == [2, 1]


def ex_grouping_with_neq_none(ds):
    census = ee.FeatureCollection(
        [
            ee.Feature(None, {"pop10": 10, "housing10": 4, "statefp10": "06"}),
            ee.Feature(None, {"pop10": 5, "housing10": 2, "statefp10": "06"}),
            ee.Feature(None, {"pop10": 7, "housing10": 3, "statefp10": "41"}),
            ee.Feature(None, {"housing10": 1, "statefp10": "41"}),
        ]
    )
    sums = census.filter(
        ee.Filter.And(ee.Filter.neq("pop10", None), ee.Filter.neq("housing10", None))
    ).reduceColumns(
        selectors=["pop10", "housing10", "statefp10"],
        reducer=ee.Reducer.sum().repeat(2).group(groupField=2, groupName="state-code"),
    )
    assert sums.getInfo()["groups"] == [
        {"state-code": "06", "sum": [15, 6]},
        {"state-code": "41", "sum": [7, 3]},
    ]


def ex_texture_entropy(ds):
    naip = ee.ImageCollection(ds.naip).mosaic()
    nir = naip.select("N")
    square = ee.Kernel.square(radius=4)
    entropy = nir.entropy(square)
    got = compute_pixels(entropy, NAIP_GRID)["N"]

    def h(win: np.ndarray) -> float:
        _, counts = np.unique(win, return_counts=True)
        p = counts / counts.sum()
        return float(-(p * np.log2(p)).sum())

    assert_pixels_equal(got, window_stat(NAIP["N"], np.ones((9, 9), dtype=bool), h), rtol=1e-12)


def ex_texture_glcm(ds):
    glcm = ee.ImageCollection(ds.naip).mosaic().select("N").glcmTexture(size=4)
    compute_pixels(glcm, NAIP_GRID)


def ex_canny_edges(ds):
    canny = ee.Algorithms.CannyEdgeDetector(image=_toa(ds).select("B5"), threshold=10, sigma=1)
    compute_pixels(canny, L8_GRID)


def ex_gradient(ds):
    xy_grad = _toa(ds).select("B8").gradient()
    compute_pixels(xy_grad, L8_GRID)


@dataclass(frozen=True)
class Example:
    name: str
    source: str
    run: Callable[[SimpleNamespace], None]


G = "https://developers.google.com/earth-engine/guides/"
EXAMPLES = [
    Example("NDVI the hard and easy way", G + "image_math", ex_ndvi_hard_and_easy_way),
    Example("expression EVI", G + "image_math", ex_expression_evi),
    Example(
        "expression forms: b(i), b('name'), variables, dot access, Math functions",
        "https://developers.google.com/earth-engine/apidocs/ee-image-expression",
        ex_expression_forms,
    ),
    Example("squared difference", G + "image_math", ex_squared_difference),
    Example("relational bare ground (And, selfMask)", G + "image_relational", ex_relational_bare),
    Example("relational zones", G + "image_relational", ex_relational_zones),
    Example("conditional expression zones", G + "image_relational", ex_relational_expression_zones),
    Example("boxcar convolution", G + "image_convolutions", ex_convolve_boxcar),
    Example("laplacian convolution", G + "image_convolutions", ex_convolve_laplacian),
    Example("fixed 9x9 kernel with a zero centre", G + "image_convolutions", ex_fixed_kernel),
    Example("morphological opening", G + "image_morph", ex_morphological_opening),
    Example(
        "NDVI texture (reduceNeighborhood)",
        G + "reducers_reduce_neighborhood",
        ex_reduce_neighborhood_texture,
    ),
    Example(
        "Sentinel-2 QA60 cloud mask",
        "https://developers.google.com/earth-engine/datasets/catalog/COPERNICUS_S2_SR_HARMONIZED",
        ex_mask_s2_clouds,
    ),
    Example(
        "Landsat C2 L2 scale and QA_PIXEL mask",
        "https://developers.google.com/earth-engine/datasets/catalog/LANDSAT_LC08_C02_T1_L2",
        ex_landsat_c2_scale_and_mask,
    ),
    Example("map: add an NDVI band", G + "ic_mapping", ex_map_add_ndvi),
    Example("collection median", G + "ic_reducing", ex_collection_median),
    Example("reduceRegion mean", G + "reducers_reduce_region", ex_reduce_region_mean),
    Example("image information and metadata", G + "image_info", ex_image_metadata_info),
    Example(
        "metadata property as a band",
        "https://developers.google.com/earth-engine/apidocs/ee-image-metadata",
        ex_metadata_band,
    ),
    Example("simple join", G + "joins_simple", ex_join_simple),
    Example("inverted join", G + "joins_inverted", ex_join_inverted),
    Example("saveAll join", G + "joins_save_all", ex_join_save_all),
    Example("saveBest join", G + "joins_save_best", ex_join_save_best),
    Example("inner join", G + "joins_inner", ex_join_inner),
    Example("spatial join: withinDistance", G + "joins_spatial", ex_join_spatial_within_distance),
    Example("spatial join: intersects", G + "joins_spatial", ex_join_spatial_intersects),
    Example("grouped reduction with neq(None)", G + "reducers_grouping", ex_grouping_with_neq_none),
    Example("texture entropy", G + "image_texture", ex_texture_entropy),
    Example("GLCM texture", G + "image_texture", ex_texture_glcm),
    Example("Canny edge detector", G + "image_edges", ex_canny_edges),
    Example("image gradient", G + "image_gradients", ex_gradient),
    *(Example(name, source, run) for name, source, run in ee_examples_arrays.EXAMPLES),
]

#: Examples the local engine does not run, the algorithm named in the error, and why.
UNSUPPORTED = {
    "GLCM texture": (
        "Image.glcmTexture",
        "Earth Engine's reference names the 18 metrics but not the co-occurrence matrix's "
        "symmetry and normalization, the logarithm's base or the window 'size' covers, so "
        "local values could not be made to match Google's",
    ),
    "Canny edge detector": (
        "CannyEdgeDetector",
        "the reference does not define the gradient operator, the non-maximum suppression or "
        "how 'threshold' applies (no hysteresis is documented)",
    ),
    "image gradient": (
        "Image.gradient",
        "the reference ('Calculates the x and y gradient') does not give the difference "
        "operator, its units (per pixel or per metre) or the edge handling",
    ),
}


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example(ds, example: Example):
    if example.name in UNSUPPORTED:
        algo = UNSUPPORTED[example.name][0]
        with pytest.raises(ee.EEException, match=f"^{algo} is not implemented by the local engine"):
            example.run(ds)
        return
    example.run(ds)


def test_share_of_examples_that_run(ds, capsys):
    ran, failed = [], []
    for example in EXAMPLES:
        try:
            example.run(ds)
            ran.append(example.name)
        except ee.EEException as err:
            failed.append((example.name, str(err)))
    share = len(ran) / len(EXAMPLES)
    with capsys.disabled():
        print(
            f"\nEarth Engine guide examples run by the local engine: {len(ran)}/{len(EXAMPLES)} = {share:.0%}"
        )
    assert [n for n, _ in failed] == list(UNSUPPORTED)
    for name, message in failed:
        assert message.startswith(f"{UNSUPPORTED[name][0]} is not implemented by the local engine")
    assert share >= 0.8
