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
import numpy as np
import pyproj
import pytest
import xarray as xr
from scipy import ndimage

from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid

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
# NAIP (1 m, UTM 10N): R G B N, uint8.
NAIP_T = (1.0, 0.0, 560_000.0, 0.0, -1.0, 4_190_000.0)
NAIP = {b: RNG.integers(0, 256, (20, 20)).astype(float) for b in ("R", "G", "B", "N")}


def _array(bands: dict[str, np.ndarray], transform, crs: str) -> xr.DataArray:
    h, w = next(iter(bands.values())).shape
    a, _, c, _, e, f = transform
    return xr.DataArray(
        np.stack(list(bands.values())),
        dims=("band", "y", "x"),
        coords={
            "band": list(bands),
            "y": f + e * (np.arange(h) + 0.5),
            "x": c + a * (np.arange(w) + 0.5),
        },
        attrs={"crs": crs, "transform": tuple(transform)},
    )


@pytest.fixture(scope="module")
def ds(engine) -> SimpleNamespace:
    """The stand-ins in the store; attribute = the asset id used in place of the catalog id."""
    store = engine.store
    ids = SimpleNamespace(folder=FOLDER)
    t0 = 1395100800000  # 2014-03-18
    ids.l8_toa = f"{FOLDER}/LC08_044034_20140318"
    store.put_image(
        ids.l8_toa,
        _array(TOA, L8_T, "EPSG:32610"),
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
                f"{cid}/img{k}", _array(bands, tr, "EPSG:32610"), {"system:time_start": t}
            )
    ids.nl = f"{FOLDER}/F182012"
    store.put_image(ids.nl, _array({"stable_lights": NL}, NL_T, "EPSG:4326"))
    ids.naip = f"{FOLDER}/naip"
    store.put_image(ids.naip, _array(NAIP, NAIP_T, "EPSG:32610"))
    return ids


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


def _stat(x: np.ndarray, footprint: np.ndarray, fn) -> np.ndarray:
    r = footprint.shape[0] // 2
    padded = np.pad(x, r, constant_values=NAN)
    out = np.full(x.shape, NAN)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            win = padded[i : i + 2 * r + 1, j : j + 2 * r + 1][footprint]
            win = win[~np.isnan(win)]
            if win.size:
                out[i, j] = fn(win)
    return out


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
        x = _stat(x, fp, fn)
    assert_pixels_equal(compute_pixels(opened, L8_GRID)["B5"], x[4:-4, 4:-4])


def ex_reduce_neighborhood_texture(ds):
    naip = ee.Image(ds.naip)
    texture = naip.reduceNeighborhood(reducer=ee.Reducer.stdDev(), kernel=ee.Kernel.circle(7))
    dy, dx = np.mgrid[-7:8, -7:8]
    fp = np.hypot(dx, dy) <= 7
    got = compute_pixels(texture.select("N_stdDev"), grid(NAIP_T, (20, 20), "EPSG:32610"))
    assert_pixels_equal(got["N_stdDev"], _stat(NAIP["N"], fp, np.std), rtol=1e-9)


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
    assert image.bandNames().getInfo() == list(TOA)
    assert image.get("CLOUD_COVER").getInfo() == 12.5
    assert ee.Date(image.get("system:time_start")).format("YYYY-MM-dd").getInfo() == "2014-03-18"
    cloud = image.metadata("CLOUD_COVER")
    assert compute_pixels(cloud, L8_GRID)["CLOUD_COVER"][0, 0] == 12.5


def _sr(ds) -> ee.ImageCollection:
    return ee.ImageCollection(ds.l8_sr)


def ex_join_simple(ds):
    primary = _sr(ds).filterDate("2014-03-01", "2014-03-25")
    secondary = _sr(ds)
    join_filter = ee.Filter.equals(leftField="system:index", rightField="system:index")
    simple_join = ee.Join.simple()
    simple_joined = simple_join.apply(primary, secondary, join_filter)
    assert simple_joined.size().getInfo() == 1


def ex_join_save_all(ds):
    primary, secondary = _sr(ds), _sr(ds)
    max_diff_filter = ee.Filter.maxDifference(
        difference=20 * DAY, leftField="system:time_start", rightField="system:time_start"
    )
    save_all_join = ee.Join.saveAll(
        matchesKey="terra", ordering="system:time_start", ascending=True
    )
    landsat_modis = save_all_join.apply(primary, secondary, max_diff_filter)
    counts = landsat_modis.map(lambda im: im.set("n", ee.List(im.get("terra")).size()))
    # days 0, 16, 32: each matches itself and its neighbours within 20 days
    assert counts.aggregate_array("n").getInfo() == [2, 3, 2]


def ex_join_save_best(ds):
    primary = _sr(ds).filterDate("2014-03-20", "2014-05-01")
    secondary = _sr(ds).filterDate("2014-03-01", "2014-03-20")
    max_diff_filter = ee.Filter.maxDifference(
        difference=30 * DAY, leftField="system:time_start", rightField="system:time_start"
    )
    save_best_join = ee.Join.saveBest(matchKey="bestImage", measureKey="timeDiff")
    landsat_modis = save_best_join.apply(primary, secondary, max_diff_filter)
    best = ee.Image(landsat_modis.first().get("bestImage"))
    assert best.get("timeDiff").getInfo() == 16 * DAY  # day 16 -> day 0 (day 32 is too far)


def ex_join_inner(ds):
    primary, secondary = _sr(ds), ee.ImageCollection(ds.s2)
    to_join = ee.Filter.maxDifference(
        difference=2 * DAY, leftField="system:time_start", rightField="system:time_start"
    )
    inner_join = ee.Join.inner()
    inner_joined = inner_join.apply(primary, secondary, to_join)
    joined = inner_joined.map(lambda f: ee.Image.cat(f.get("primary"), f.get("secondary")))
    assert inner_joined.size().getInfo() == 1  # day 0 with S2 day 0 (S2 day 5 is too far)
    assert "QA60" in ee.Image(joined.first()).bandNames().getInfo()


def ex_join_spatial(ds):
    plants = ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Point(-122.3, 37.8), {"name": "p"}),
            ee.Feature(ee.Geometry.Point(-121.0, 36.0), {"name": "q"}),
        ]
    )
    parks = ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Point(x, y), {"park": i})
            for i, (x, y) in enumerate([(-122.0, 37.9), (-120.5, 36.3), (-118.0, 34.0)])
        ]
    )
    dist_filter = ee.Filter.withinDistance(
        distance=100000, leftField=".geo", rightField=".geo", maxError=10
    )
    dist_save_all = ee.Join.saveAll(matchesKey="points", measureKey="distance")
    spatial_joined = dist_save_all.apply(plants, parks, dist_filter).getInfo()["features"]
    geod = pyproj.Geod(ellps="WGS84")
    d = geod.inv(-122.3, 37.8, -122.0, 37.9)[2]
    first = spatial_joined[0]["properties"]["points"]
    assert [p["properties"]["park"] for p in first] == [0]
    assert first[0]["properties"]["distance"] == pytest.approx(d, rel=1e-6)


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
    nir = ee.Image(ds.naip).select("N")
    square = ee.Kernel.square(radius=4)
    entropy = nir.entropy(square)
    compute_pixels(entropy, grid(NAIP_T, (20, 20), "EPSG:32610"))


def ex_texture_glcm(ds):
    glcm = ee.Image(ds.naip).select("N").glcmTexture(size=4)
    compute_pixels(glcm, grid(NAIP_T, (20, 20), "EPSG:32610"))


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
    Example("ndvi the hard and easy way", G + "image_math", ex_ndvi_hard_and_easy_way),
    Example("expression EVI", G + "image_math", ex_expression_evi),
    Example("squared difference", G + "image_math", ex_squared_difference),
    Example("relational zones", G + "image_relational", ex_relational_zones),
    Example("conditional expression zones", G + "image_relational", ex_relational_expression_zones),
    Example("boxcar convolution", G + "image_convolutions", ex_convolve_boxcar),
    Example("laplacian convolution", G + "image_convolutions", ex_convolve_laplacian),
    Example("morphological opening", G + "image_morph", ex_morphological_opening),
    Example(
        "neighbourhood std-dev texture",
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
    Example("image metadata", G + "image_info", ex_image_metadata_info),
    Example("simple join", G + "joins_simple", ex_join_simple),
    Example("saveAll join", G + "joins_save_all", ex_join_save_all),
    Example("saveBest join", G + "joins_save_best", ex_join_save_best),
    Example("inner join", G + "joins_inner", ex_join_inner),
    Example("spatial join", G + "joins_spatial", ex_join_spatial),
    Example("grouped reduction with neq(None)", G + "reducers_grouping", ex_grouping_with_neq_none),
    Example("texture entropy", G + "image_texture", ex_texture_entropy),
    Example("GLCM texture", G + "image_texture", ex_texture_glcm),
    Example("Canny edge detector", G + "image_edges", ex_canny_edges),
    Example("image gradient", G + "image_gradients", ex_gradient),
]

#: Examples the local engine does not run, the algorithm named in the error, and why.
UNSUPPORTED = {
    "texture entropy": ("Image.entropy", "texture statistics are out of scope for now"),
    "GLCM texture": ("Image.glcmTexture", "grey-level co-occurrence textures are out of scope"),
    "Canny edge detector": ("CannyEdgeDetector", "edge detection is out of scope"),
    "image gradient": ("Image.gradient", "gradients are out of scope"),
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
