"""Downloads and tables out of the local engine, through the unmodified ``ee`` client.

``Image.getDownloadURL`` (GeoTIFF, zipped GeoTIFF, one GeoTIFF per band, NPY),
``FeatureCollection.getDownloadURL`` (CSV, GeoJSON) and ``ee.data.computeFeatures`` (pages,
``PANDAS_DATAFRAME``). Files are fetched over loopback with ``urllib`` and no token, as a
browser or ``requests.get`` in geemap fetches them, and read with rasterio / NumPy / csv.
Every expected value is a slice or a mean of the stored NumPy array, taken here.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
import zipfile

import ee
import numpy as np
import pytest
import xarray as xr
from rasterio.io import MemoryFile

from gee_cscc.engine.limits import GOOGLE, Limits
from gee_cscc.engine.service.downloads import DOWNLOAD_BYTES, DOWNLOAD_SIDE, download_limits

# A 20 x 20 image on a 0.5-degree grid covering 100–110°E, 30–40°N; NaN = masked.
ORIGIN = (100.0, 40.0)
STEP = 0.5
SHAPE = (20, 20)
VALUES = np.arange(SHAPE[0] * SHAPE[1], dtype=float).reshape(SHAPE) * 0.3 - 10.0
VALUES[3, 4] = np.nan
VALUES[7, 3] = np.nan
#: 0.5° in metres: Earth Engine's nominal scale of a degree grid (equatorial metres per degree).
NATIVE_SCALE = STEP * 111319.49079327357


def fetch(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """``(status, headers, body)`` of a GET without the engine's token."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read()


def geotiff(payload: bytes) -> tuple[np.ndarray, tuple, str, tuple]:
    """``(bands array, transform, crs, band descriptions)`` of GeoTIFF bytes."""
    with MemoryFile(payload) as mem, mem.open() as src:
        return src.read(), tuple(src.transform)[:6], src.crs.to_string(), src.descriptions


@pytest.fixture
def image(engine, tmp_asset) -> ee.Image:
    asset = tmp_asset("img")
    xs = ORIGIN[0] + STEP * (np.arange(SHAPE[1]) + 0.5)
    ys = ORIGIN[1] - STEP * (np.arange(SHAPE[0]) + 0.5)
    da = xr.DataArray(
        np.stack([VALUES, VALUES * 2.0]),
        dims=("band", "y", "x"),
        coords={"band": ["a", "b"], "y": ys, "x": xs},
        attrs={"crs": "EPSG:4326"},
    )
    engine.store.put_image(asset, da)
    return ee.Image(asset)


# --- image downloads -----------------------------------------------------------------------------


def test_geotiff_is_the_stored_grid_north_up_with_band_names(image):
    status, headers, payload = fetch(image.getDownloadURL({"format": "GEO_TIFF"}))
    assert status == 200 and headers["Content-Type"] == "image/tiff"
    data, transform, crs, names = geotiff(payload)
    assert crs == "EPSG:4326" and names == ("a", "b")
    assert transform == (STEP, 0.0, ORIGIN[0], 0.0, -STEP, ORIGIN[1])  # north-up
    np.testing.assert_array_equal(data[0], VALUES)  # masked pixels NaN
    np.testing.assert_array_equal(data[1], VALUES * 2.0)


def test_crs_transform_and_dimensions_cut_the_window(image):
    url = image.getDownloadURL(
        {
            "format": "GEO_TIFF",
            "crs": "EPSG:4326",
            "crs_transform": [STEP, 0, 101.0, 0, -STEP, 37.0],
            "dimensions": [4, 3],
            "bands": ["b"],
        }
    )
    data, transform, _, names = geotiff(fetch(url)[2])
    # Row 6 starts at 40 - 6 * 0.5 = 37°N; column 2 at 100 + 2 * 0.5 = 101°E.
    assert names == ("b",) and transform == (STEP, 0.0, 101.0, 0.0, -STEP, 37.0)
    np.testing.assert_array_equal(data[0], VALUES[6:9, 2:6] * 2.0)


def test_planar_region_and_dimensions_resample_nearest(image):
    region = ee.Geometry.Rectangle([101, 35, 103, 37], "EPSG:4326", False)
    url = image.getDownloadURL({"format": "GEO_TIFF", "region": region, "dimensions": [8, 8]})
    data, transform, _, _ = geotiff(fetch(url)[2])
    assert transform == (0.25, 0.0, 101.0, 0.0, -0.25, 37.0)
    expected = np.repeat(np.repeat(VALUES[6:10, 2:6], 2, axis=0), 2, axis=1)
    np.testing.assert_array_equal(data[0], expected)


def test_zipped_geotiff_is_one_file_named_by_name(image):
    url = image.getDownloadURL({"format": "ZIPPED_GEO_TIFF", "filePerBand": False, "name": "x"})
    status, headers, payload = fetch(url)
    assert status == 200 and headers["Content-Type"] == "application/zip"
    assert 'filename="x.zip"' in headers["Content-Disposition"]
    zf = zipfile.ZipFile(io.BytesIO(payload))
    assert zf.namelist() == ["x.tif"]
    data, _, _, names = geotiff(zf.read("x.tif"))
    assert names == ("a", "b")
    np.testing.assert_array_equal(data[1], VALUES * 2.0)


def test_file_per_band_keeps_each_bands_type(image):
    # getDownloadURL's default is one GeoTIFF per band, named after the asset's last segment.
    img = image.addBands(image.select("a").toInt16().rename("c"))
    zf = zipfile.ZipFile(io.BytesIO(fetch(img.getDownloadURL())[2]))
    assert zf.namelist() == ["img.a.tif", "img.b.tif", "img.c.tif"]
    with MemoryFile(zf.read("img.c.tif")) as mem, mem.open() as src:
        assert src.dtypes == ("int16",)
        c = src.read(1)
    # toInt16 truncates toward zero; masked pixels are 0 in an integer file.
    np.testing.assert_array_equal(c, np.where(np.isnan(VALUES), 0, np.trunc(VALUES)))
    a, _, _, _ = geotiff(zf.read("img.a.tif"))
    np.testing.assert_array_equal(a[0], VALUES)


def test_npy_is_a_structured_array(image):
    url = image.getDownloadURL({"format": "NPY"})
    arr = np.load(io.BytesIO(fetch(url)[2]))
    assert arr.dtype.names == ("a", "b") and arr.shape == SHAPE
    np.testing.assert_array_equal(arr["a"], np.nan_to_num(VALUES, nan=0.0))


def test_download_size_limits_are_earth_engines(engine):
    region = ee.Geometry.Rectangle([0, 0, 1, 1], "EPSG:4326", False)
    big = ee.Image.constant(1).toDouble()
    with pytest.raises(ee.EEException) as err:
        big.getDownloadURL({"format": "GEO_TIFF", "region": region, "dimensions": [2000, 2000]})
    # 2000 * 2000 pixels * (8 bytes + 1 byte of mask)
    assert str(err.value) == (
        "Total request size (36000000 bytes) must be less than or equal to 33554432 bytes."
    )
    with pytest.raises(ee.EEException, match=r"Pixel grid dimensions \(10001x1\) must be less"):
        big.getDownloadURL({"format": "NPY", "region": region, "dimensions": [10001, 1]})
    # Just under the limit is served.
    ok = ee.Image.constant(1).toByte()
    url = ok.getDownloadURL({"format": "NPY", "region": region, "dimensions": [100, 100]})
    arr = np.load(io.BytesIO(fetch(url)[2]))
    assert arr.shape == (100, 100) and (arr["constant"] == 1).all()


def test_download_limits_scale_with_the_engines_limits():
    assert download_limits(GOOGLE) == (DOWNLOAD_BYTES, DOWNLOAD_SIDE) == (33554432, 10000)
    small = Limits().scaled(0.5)
    assert download_limits(small) == (DOWNLOAD_BYTES // 2, DOWNLOAD_SIDE // 2)


def test_unbounded_image_needs_a_region(engine):
    with pytest.raises(ee.EEException, match="unbounded.*give a region"):
        ee.Image.constant(1).getDownloadURL({"format": "GEO_TIFF"})


def test_download_ids_are_keys_but_creating_needs_the_token(engine, image):
    url = image.getDownloadURL({"format": "NPY"})
    # A browser on any page may fetch the file (the random id is the key) ...
    status, headers, _ = fetch(url, {"Origin": "https://example.org"})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    # ... a made-up id is not found ...
    status, _, body = fetch(url.replace(url.split("/")[-1].split(":")[0], "0" * 32))
    assert status == 404 and b"not found" in body
    # ... and creating an id needs the token, from a loopback origin.
    req = urllib.request.Request(
        f"{engine.url}/v1/projects/{engine.project}/thumbnails",
        data=json.dumps({"fileFormat": "NPY", "expression": {}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    assert post_status(req) == 401
    req.add_header("Authorization", f"Bearer {engine.token}")
    req.add_header("Origin", "https://example.org")
    assert post_status(req) == 403


def post_status(req: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        with err:
            return err.code


# --- tables ---------------------------------------------------------------------------------------


def zones() -> ee.FeatureCollection:
    """Two pixel-aligned zones: rows 2–5 × columns 2–5 and rows 10–13 × columns 12–19."""
    return ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Rectangle([101, 37, 103, 39], "EPSG:4326", False), {"id": 1}),
            ee.Feature(ee.Geometry.Rectangle([106, 33, 110, 35], "EPSG:4326", False), {"id": 2}),
        ]
    )


EXPECTED_MEANS = [np.nanmean(VALUES[2:6, 2:6]), np.nanmean(VALUES[10:14, 12:20])]


def test_reduce_regions_as_csv_matches_numpy(image):
    stats = image.select("a").reduceRegions(zones(), ee.Reducer.mean(), scale=NATIVE_SCALE)
    url = stats.getDownloadURL("csv", ["id", "mean"], "zonal")
    status, headers, payload = fetch(url)
    assert status == 200 and 'filename="zonal.csv"' in headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(payload.decode())))
    assert rows[0] == ["id", "mean"]  # the selectors, in their order
    assert [int(r[0]) for r in rows[1:]] == [1, 2]
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], EXPECTED_MEANS, rtol=1e-12)


def test_csv_without_selectors_has_index_properties_and_geo(engine):
    fc = ee.FeatureCollection(
        [ee.Feature(ee.Geometry.Point([101, 39]), {"n": 1, "s": "x"}), ee.Feature(None, {"n": 2})]
    )
    payload = fetch(fc.getDownloadURL())[2].decode()
    rows = list(csv.reader(io.StringIO(payload)))
    assert rows[0] == ["system:index", "n", "s", ".geo"]
    assert rows[1][:3] == ["0", "1", "x"]
    assert json.loads(rows[1][3]) == {"type": "Point", "coordinates": [101.0, 39.0]}
    assert rows[2][:3] == ["1", "2", ""]


def test_geojson_download(engine):
    fc = zones()
    for filetype in ("geojson", "json"):
        status, headers, payload = fetch(fc.getDownloadURL(filetype))
        assert status == 200 and 'filename="table.geojson"' in headers["Content-Disposition"]
        gj = json.loads(payload)
        assert gj["type"] == "FeatureCollection"
        assert [f["properties"] for f in gj["features"]] == [{"id": 1}, {"id": 2}]
        ring = gj["features"][0]["geometry"]["coordinates"][0]
        assert sorted({tuple(p) for p in ring}) == [(101, 37), (101, 39), (103, 37), (103, 39)]


def test_unsupported_table_format_is_named(engine):
    with pytest.raises(ee.EEException, match="fileFormat SHP is not implemented by the local"):
        zones().getDownloadURL("shp")


KML = "{http://www.opengis.net/kml/2.2}"


def test_kml_and_kmz_downloads(engine):
    import xml.etree.ElementTree as ET

    fc = ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Point([101.5, 39.25]), {"n": 1, "s": "x"}),
            ee.Feature(ee.Geometry.Rectangle([101, 37, 103, 39], "EPSG:4326", False), {"n": 2}),
        ]
    )
    status, headers, kml = fetch(fc.getDownloadURL("kml", filename="z"))
    assert status == 200 and 'filename="z.kml"' in headers["Content-Disposition"]
    marks = ET.fromstring(kml).findall(f"{KML}Document/{KML}Placemark")
    assert [m.find(f"{KML}name").text for m in marks] == ["0", "1"]
    data = {
        d.get("name"): d.find(f"{KML}value").text
        for d in marks[0].findall(f"{KML}ExtendedData/{KML}Data")
    }
    assert data == {"n": "1", "s": "x"}
    assert marks[0].find(f"{KML}Point/{KML}coordinates").text == "101.5,39.25"
    ring = marks[1].find(f"{KML}Polygon/{KML}outerBoundaryIs/{KML}LinearRing/{KML}coordinates")
    points = {tuple(map(float, p.split(","))) for p in ring.text.split()}
    assert points == {(101, 37), (101, 39), (103, 37), (103, 39)}
    status, headers, kmz = fetch(fc.getDownloadURL("kmz", filename="z"))
    assert headers["Content-Type"] == "application/vnd.google-earth.kmz"
    assert zipfile.ZipFile(io.BytesIO(kmz)).read("doc.kml") == kml


def test_table_download_url_needs_no_token_but_a_real_id(engine):
    url = zones().getDownloadURL("csv")
    assert fetch(url)[0] == 200
    assert fetch(url.replace(url.split("/")[-1].split(":")[0], "f" * 32))[0] == 404


def test_compute_features_pages(engine):
    fc = ee.FeatureCollection([ee.Feature(None, {"k": i}) for i in range(5)])
    pages, token = [], None
    while True:
        params = {"expression": fc, "pageSize": 2}
        if token:
            params["pageToken"] = token
        page = ee.data.computeFeatures(params)
        assert page["type"] == "FeatureCollection"
        pages.append([f["properties"]["k"] for f in page["features"]])
        token = page.get("nextPageToken")
        if token is None:
            break
    assert pages == [[0, 1], [2, 3], [4]]


def test_compute_features_as_dataframe_matches_numpy(image):
    stats = image.select("a").reduceRegions(zones(), ee.Reducer.mean(), scale=NATIVE_SCALE)
    df = ee.data.computeFeatures(
        {"expression": stats, "fileFormat": "PANDAS_DATAFRAME", "pageSize": 1}
    )
    assert list(df["id"]) == [1, 2]
    np.testing.assert_allclose(df["mean"], EXPECTED_MEANS, rtol=1e-12)
    geo = df["geo"][0]
    assert geo["type"] == "Polygon" and "geodesic" not in geo


def test_compute_features_of_images_is_refused(image):
    with pytest.raises(ee.EEException, match="not Features"):
        ee.data.computeFeatures({"expression": ee.ImageCollection([image])})


def test_element_geometry_of_a_collections_first_element(engine):
    # geemap.ee_to_gdf asks ee_object.first().geometry(): an Element.geometry call.
    info = zones().first().geometry().getInfo()
    assert info["type"] == "Polygon"
    assert {tuple(p) for p in info["coordinates"][0]} == {
        (101, 37),
        (101, 39),
        (103, 37),
        (103, 39),
    }


def test_band_level_dimensions_give_each_file_its_own_grid(image):
    region = ee.Geometry.Rectangle([100, 30, 110, 40], "EPSG:4326", False)
    url = image.getDownloadURL(
        {
            "format": "ZIPPED_GEO_TIFF_PER_BAND",
            "region": region,
            "bands": [{"id": "a"}, {"id": "b", "dimensions": [4, 4]}],
            "name": "pb",
        }
    )
    zf = zipfile.ZipFile(io.BytesIO(fetch(url)[2]))
    a, ta, _, _ = geotiff(zf.read("pb.a.tif"))
    b, tb, _, _ = geotiff(zf.read("pb.b.tif"))
    assert a.shape == (1, 20, 20) and ta == (STEP, 0.0, 100.0, 0.0, -STEP, 40.0)
    np.testing.assert_array_equal(a[0], VALUES)
    # 2.5° cells: their centres (101.25°E …, 38.75°N …) fall in native rows/columns 2, 7, 12, 17.
    assert b.shape == (1, 4, 4) and tb == (2.5, 0.0, 100.0, 0.0, -2.5, 40.0)
    np.testing.assert_array_equal(b[0], VALUES[2::5, 2::5] * 2.0)


def test_only_a_get_of_a_download_url_goes_without_the_token(engine):
    url = zones().getDownloadURL("csv")
    req = urllib.request.Request(
        url, data=b"{}", headers={"Content-Type": "application/json"}, method="POST"
    )
    assert post_status(req) == 401
    compute = urllib.request.Request(
        f"{engine.url}/v1/projects/{engine.project}/table:computeFeatures",
        data=json.dumps({"expression": {}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    assert post_status(compute) == 401
