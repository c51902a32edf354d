"""``Image.reduceToVectors``, ``FeatureCollection.reduceToImage``, ``Image.sample``,
``Image.sampleRegions`` and ``ImageCollection.getRegion`` against hand-worked values and
NumPy/scipy (argument names and defaults: earthengine-api's algorithms.json; semantics: the
API reference pages ee-image-reducetovectors, ee-featurecollection-reducetoimage,
ee-image-sample, ee-image-sampleregions, ee-imagecollection-getregion)."""

from __future__ import annotations

import ee
import numpy as np
import pytest
from scipy import ndimage

from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of

pytestmark = pytest.mark.usefixtures("engine")

T = (0.5, 0.0, -123.0, 0.0, -0.5, 38.0)  # 0.5 degree pixels, west edge -123, north edge 38
GRID = grid(T, (3, 4))
# labels: 1 at (0,0) (0,1) (1,1) and, diagonally only, (2,0); 2 down the last column
Z = np.array([[1, 1, 0, 2], [0, 1, 0, 2], [1, 0, 0, 2]], dtype=float)
V = np.arange(12.0).reshape(3, 4)


@pytest.fixture
def img(engine, tmp_asset) -> ee.Image:
    asset = tmp_asset()
    v = V.copy()
    v[0, 3] = np.nan  # one masked value inside segment 2
    engine.store.put_image(asset, image_of({"z": Z, "v": v}, T), {"system:time_start": 86_400_000})
    return ee.Image(asset)


def _zones(img: ee.Image) -> ee.Image:
    z = img.select("z").toInt()
    return z.updateMask(z.neq(0))


def _centre(row: int, col: int) -> tuple[float, float]:
    return -123.0 + 0.5 * (col + 0.5), 38.0 - 0.5 * (row + 0.5)


def test_reduce_to_vectors_four_connected_mean(img):
    fc = (
        _zones(img)
        .addBands(img.select("v"))
        .reduceToVectors(reducer=ee.Reducer.mean(), eightConnected=False, labelProperty="zone")
    )
    got = [f["properties"] for f in fc.getInfo()["features"]]
    # segments: {(0,0),(0,1),(1,1)} → mean(0, 1, 5); {(2,0)} → 8; {(1,3),(2,3)} (0,3 masked v) → 9
    assert got == [{"zone": 1, "mean": 2.0}, {"zone": 1, "mean": 8.0}, {"zone": 2, "mean": 9.0}]
    # as many segments as scipy finds with 4-connectivity
    n1 = ndimage.label(Z == 1)[1] + ndimage.label(Z == 2)[1]
    assert len(got) == n1


def test_reduce_to_vectors_default_count_polygon_and_centroid(img):
    fc = _zones(img).reduceToVectors()  # countEvery, eightConnected, polygon, 'label'
    feats = fc.getInfo()["features"]
    assert [f["properties"] for f in feats] == [{"label": 1, "count": 4}, {"label": 2, "count": 3}]
    import shapely.geometry

    poly = shapely.geometry.shape(feats[1]["geometry"])
    assert poly.bounds == pytest.approx((-121.5, 36.5, -121.0, 38.0))
    assert poly.area == pytest.approx(0.75)  # three 0.5-degree pixels
    cents = _zones(img).reduceToVectors(geometryType="centroid").getInfo()["features"]
    pix = [(0, 0), (0, 1), (1, 1), (2, 0)]
    want = np.mean([_centre(r, c) for r, c in pix], axis=0)
    assert cents[0]["geometry"]["coordinates"] == pytest.approx(list(want))
    bb = _zones(img).reduceToVectors(geometryType="bb").getInfo()["features"][0]
    assert shapely.geometry.shape(bb["geometry"]).bounds == pytest.approx((-123, 36.5, -122, 38))


def test_reduce_to_vectors_errors(img):
    with pytest.raises(ee.EEException, match=r"First band \('z'\) of image must be integral"):
        img.reduceToVectors().getInfo()
    with pytest.raises(ee.EEException, match="Invalid geometryType 'hull'"):
        _zones(img).reduceToVectors(geometryType="hull").getInfo()


def test_reduce_to_image_sums_the_features_over_each_pixel():
    feats = ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Rectangle(-123, 37, -122, 38), {"p": 2}),
            ee.Feature(ee.Geometry.Rectangle(-122.5, 37, -121, 38), {"p": 5}),
            ee.Feature(ee.Geometry.Rectangle(-123, 36, -121, 37), {"q": 1}),  # no 'p': skipped
        ]
    )
    got = compute_pixels(feats.reduceToImage(properties=["p"], reducer=ee.Reducer.sum()), GRID)
    # centres: columns -122.75, -122.25, -121.75, -121.25; rows 37.75, 37.25, 36.75
    want = np.array([[2, 7, 5, 5], [2, 7, 5, 5], [np.nan] * 4])
    assert_pixels_equal(got["sum"], want)
    first = feats.reduceToImage(properties=["p"], reducer=ee.Reducer.first())
    assert_pixels_equal(compute_pixels(first, GRID)["first"][0], np.array([2.0, 2, 5, 5]))


def test_sample_every_pixel_and_drop_nulls(img):
    fc = img.sample(geometries=True)
    feats = fc.getInfo()["features"]
    assert len(feats) == 11  # 12 pixels, one with v masked
    assert feats[0]["properties"] == {"z": 1.0, "v": 0.0}
    assert feats[0]["geometry"]["coordinates"] == pytest.approx(list(_centre(0, 0)))
    assert img.sample(dropNulls=False).size().getInfo() == 12
    assert img.sample(numPixels=5, seed=3).size().getInfo() == 5
    region = ee.Geometry.Rectangle(-123, 37, -122, 38)
    vs = img.sample(region=region).aggregate_array("v").getInfo()
    assert vs == [0.0, 1.0, 4.0, 5.0]


def test_sample_regions_copies_properties(img):
    pts = ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Point(-122.3, 37.8), {"cls": 1, "name": "a"}),
            ee.Feature(ee.Geometry.Rectangle(-121.5, 36.5, -121, 38), {"cls": 2, "name": "b"}),
        ]
    )
    feats = img.sampleRegions(collection=pts, properties=["cls"]).getInfo()["features"]
    # the point falls in pixel (0, 1); the rectangle holds column 3, whose row 0 is masked
    assert [f["id"] for f in feats] == ["0_0", "1_0", "1_1"]
    assert [f["properties"] for f in feats] == [
        {"cls": 1, "z": 1.0, "v": 1.0},
        {"cls": 2, "z": 2.0, "v": 7.0},
        {"cls": 2, "z": 2.0, "v": 11.0},
    ]


def test_get_region_rows(img):
    col = ee.ImageCollection([img, img.set("system:time_start", 2 * 86_400_000)])
    rows = col.getRegion(ee.Geometry.Point(-121.2, 36.6), 55_659.75).getInfo()
    assert rows[0] == ["id", "longitude", "latitude", "time", "z", "v"]
    # 55,659.75 m is 0.5 degree: the work grid is EPSG:4326 at 0.5 degree from (0, 0), whose
    # pixel holding the point is centred at (-121.25, 36.75), pixel (2, 3) of the image
    assert [r[1:] for r in rows[1:]] == [
        [pytest.approx(-121.25), pytest.approx(36.75), 86_400_000, 2.0, 11.0],
        [pytest.approx(-121.25), pytest.approx(36.75), 2 * 86_400_000, 2.0, 11.0],
    ]
