"""The local asset store: writing images, collections and tables, reading them back via ``ee``.

Round trips compare what the ``ee`` client reads (``computePixels`` on the native grid,
``getInfo``, ``ee.data.getAsset``) with the NumPy arrays that went in.
"""

from __future__ import annotations

import ee
import numpy as np
import pytest
import xarray as xr

from gee_cscc.engine import AssetStore, EEError, year_millis
from gee_cscc.engine.store.assets import AssetName
from gee_cscc.testing import (
    assert_pixels_equal,
    compute_pixels,
    edge_case_cube,
    grid,
    grid_of,
    local_engine,
    npp_cube,
)


def yx_array(values, *, x0=100.0, y0=40.0, size=0.5, ascending_y=False, crs=None, name="v"):
    """A (y, x) DataArray of pixel centres; ``ascending_y`` lists rows south to north."""
    h, w = values.shape
    xs = x0 + size * (np.arange(w) + 0.5)
    ys = y0 - size * (np.arange(h) + 0.5)
    data = np.asarray(values)
    if ascending_y:
        ys, data = ys[::-1], data[::-1]
    attrs = {"crs": crs} if crs else {}
    return xr.DataArray(data, dims=("y", "x"), coords={"y": ys, "x": xs}, name=name, attrs=attrs)


VALUES = np.array(
    [[1.0, 2.0, np.nan, 4.0], [-5.5, 6.0, 7.0, np.nan], [9.0, 0.0, 11.0, 12.25]],
)
NATIVE = grid((0.5, 0, 100.0, 0, -0.5, 40.0), VALUES.shape)


# --- images ----------------------------------------------------------------------------------


def test_put_image_round_trip(engine, tmp_asset):
    asset = tmp_asset("img")
    name = engine.store.put_image(asset, yx_array(VALUES, name="npp"), {"source": "test"})
    assert name == asset
    got = compute_pixels(ee.Image(asset), NATIVE)
    assert list(got) == ["npp"]
    assert_pixels_equal(got["npp"], VALUES)
    info = ee.Image(asset).getInfo()
    band = info["bands"][0]
    assert band["crs"] == "EPSG:4326"
    assert band["crs_transform"] == [0.5, 0.0, 100.0, 0.0, -0.5, 40.0]
    assert band["dimensions"] == [4, 3]
    assert band["data_type"]["precision"] == "double"
    assert info["id"] == asset
    assert info["properties"]["source"] == "test"
    assert info["properties"]["system:index"] == "img"


def test_stored_images_use_the_store_codec_and_round_trip(engine, tmp_asset):
    """The store writes ZSTD when GDAL can (read ~25 % faster than deflate), else deflate."""
    import rasterio

    from gee_cscc.engine.store.codec import store_compression

    big = np.arange(300 * 280, dtype=np.float64).reshape(300, 280) / 7.0
    big[5, 7] = np.nan
    asset = tmp_asset("codec")
    engine.store.put_image(asset, yx_array(big, size=0.1, name="npp"))
    path = engine.store.asset_dir(AssetName.parse(asset)) / "data.tif"
    with rasterio.open(path) as src:
        assert src.compression.name.lower() == store_compression()["compress"] == "zstd"
        assert src.block_shapes[0] == (256, 256)
    got = compute_pixels(ee.Image(asset), grid((0.1, 0, 100.0, 0, -0.1, 40.0), big.shape))
    assert_pixels_equal(got["npp"], big)


def test_store_codec_falls_back_to_deflate(monkeypatch):
    from rasterio import io as rasterio_io

    from gee_cscc.engine.store import codec

    class NoZstd:
        def __enter__(self):
            raise rasterio_io.RasterioIOError("ZSTD compression not supported")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(rasterio_io, "MemoryFile", NoZstd)
    codec._codec.cache_clear()
    try:
        assert codec.store_compression() == {"compress": "deflate"}
    finally:
        codec._codec.cache_clear()


_GDAL_CACHE_CHILD = """
import sys, threading
import rasterio
from rasterio.env import get_gdal_config
from gee_cscc.engine.store import codec

codec.bound_gdal_cache()
print(get_gdal_config("GDAL_CACHEMAX"))
# two writers on two threads, entering and leaving in turn: the cap stays the process's one
ready, done = threading.Event(), threading.Event()

def other():
    with codec.write_env():
        ready.set()
        done.wait(5)

t = threading.Thread(target=other)
t.start()
ready.wait(5)
with codec.write_env():
    pass
inside = get_gdal_config("GDAL_CACHEMAX")
done.set()
t.join()
print(inside, get_gdal_config("GDAL_CACHEMAX"))
"""


@pytest.mark.parametrize("env", [{}, {"GDAL_CACHEMAX": "300000000"}])
def test_the_engine_bounds_gdal_cache_once_for_the_process(env):
    import os
    import subprocess
    import sys

    from gee_cscc.engine.store.codec import GDAL_CACHE_MB

    environ = {k: v for k, v in os.environ.items() if k != "GDAL_CACHEMAX"}
    run = subprocess.run(
        [sys.executable, "-c", _GDAL_CACHE_CHILD],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    first, rest = run.stdout.strip().splitlines()
    want = int(env.get("GDAL_CACHEMAX", GDAL_CACHE_MB << 20))  # the user's own value is kept
    assert int(first) == want
    assert [int(v) for v in rest.split()] == [want, want]


def test_ascending_y_is_flipped_north_up(engine, tmp_asset):
    asset = tmp_asset()
    engine.store.put_image(asset, yx_array(VALUES, ascending_y=True))
    assert ee.Image(asset).getInfo()["bands"][0]["crs_transform"][4] == -0.5
    assert_pixels_equal(compute_pixels(ee.Image(asset), NATIVE)["v"], VALUES)


def test_multi_band_and_integer_image(engine, tmp_asset):
    ints = np.arange(12, dtype=np.int16).reshape(3, 4) - 6
    da = xr.concat(
        [yx_array(ints.astype(np.int16), name="a"), yx_array(ints[::-1].astype(np.int16))],
        dim="band",
    ).assign_coords(band=["a", "b"])
    asset = tmp_asset()
    engine.store.put_image(asset, da)
    info = ee.Image(asset).getInfo()
    assert [b["id"] for b in info["bands"]] == ["a", "b"]
    assert info["bands"][0]["data_type"] == {
        "type": "PixelType",
        "precision": "int",
        "min": -32768,
        "max": 32767,
    }
    arr = ee.data.computePixels(
        {"expression": ee.Image(asset), "fileFormat": "NUMPY_NDARRAY", "grid": NATIVE}
    )
    assert arr.dtype["a"] == np.int16
    np.testing.assert_array_equal(arr["a"], ints)
    np.testing.assert_array_equal(arr["b"], ints[::-1])


def test_crs_from_rioxarray_and_from_attrs(engine, tmp_asset):
    pytest.importorskip("rioxarray")
    metres = yx_array(VALUES, x0=500_000.0, y0=4_000_000.0, size=1000.0)
    asset = tmp_asset("utm")
    engine.store.put_image(asset, metres.rio.write_crs("EPSG:32650"))
    band = ee.Image(asset).getInfo()["bands"][0]
    assert band["crs"] == "EPSG:32650"
    assert band["crs_transform"] == [1000.0, 0.0, 500_000.0, 0.0, -1000.0, 4_000_000.0]
    g = grid(band["crs_transform"], VALUES.shape, "EPSG:32650")
    assert_pixels_equal(compute_pixels(ee.Image(asset), g)["v"], VALUES)
    other = tmp_asset("attrs")
    engine.store.put_image(other, yx_array(VALUES, x0=0, y0=0, size=1000.0, crs="EPSG:3857"))
    assert ee.Image(other).projection().getInfo()["crs"] == "EPSG:3857"


def test_lat_lon_dimension_names(engine, tmp_asset):
    da = yx_array(VALUES).rename({"y": "lat", "x": "lon"})
    asset = tmp_asset()
    engine.store.put_image(asset, da)
    assert_pixels_equal(compute_pixels(ee.Image(asset), NATIVE)["v"], VALUES)


def test_put_image_rejects_bad_arrays(engine, tmp_asset):
    with pytest.raises(EEError, match="'y' and 'x'"):
        engine.store.put_image(tmp_asset(), xr.DataArray(np.zeros((2, 2)), dims=("a", "b")))
    with pytest.raises(EEError, match="xarray DataArray"):
        engine.store.put_image(tmp_asset(), np.zeros((2, 2)))
    one_row = yx_array(np.zeros((1, 3)))
    with pytest.raises(EEError, match="transform"):
        engine.store.put_image(tmp_asset(), one_row)
    one_row.attrs["transform"] = (0.5, 0.0, 100.0, 0.0, -0.5, 40.0)
    asset = tmp_asset()
    engine.store.put_image(asset, one_row)
    assert ee.Image(asset).getInfo()["bands"][0]["dimensions"] == [3, 1]


def test_put_image_overwrite(engine, tmp_asset):
    asset = tmp_asset()
    engine.store.put_image(asset, yx_array(VALUES))
    engine.store.put_image(asset, yx_array(VALUES * 2))  # overwrite=True by default
    assert_pixels_equal(compute_pixels(ee.Image(asset), NATIVE)["v"], VALUES * 2)
    with pytest.raises(EEError, match="Cannot overwrite"):
        engine.store.put_image(asset, yx_array(VALUES), overwrite=False)


# --- collections -----------------------------------------------------------------------------


def test_put_collection_round_trip(engine, tmp_asset):
    cube = edge_case_cube(range(2001, 2006))
    asset = tmp_asset("npp")
    engine.store.put_collection(asset, cube, properties={"title": "NPP"})
    listing = ee.data.listAssets({"parent": asset})["assets"]
    assert [a["id"].rsplit("/", 1)[1] for a in listing] == ["2001", "2002", "2003", "2004", "2005"]
    g = grid_of(cube)
    for year in (2001, 2003, 2005):
        image = ee.Image(f"{asset}/{year}")
        info = image.getInfo()
        assert [b["id"] for b in info["bands"]] == ["npp"]
        assert info["properties"]["year"] == year
        assert info["properties"]["system:time_start"] == year_millis(year)
        assert_pixels_equal(compute_pixels(image, g)["npp"], cube.sel(year=year).values)
    meta = ee.data.getAsset(f"{asset}/2003")
    assert meta["startTime"] == "2003-01-01T00:00:00.000Z"
    assert meta["endTime"] == "2004-01-01T00:00:00.000Z"
    assert ee.data.getAsset(asset)["properties"] == {"title": "NPP"}


def test_collection_loads_through_ee(engine, tmp_asset):
    cube = npp_cube(range(2003, 2006))
    asset = tmp_asset()
    engine.store.put_collection(asset, cube)
    col = ee.ImageCollection(asset)
    assert col.size().getInfo() == 3
    info = col.getInfo()
    assert [f["properties"]["year"] for f in info["features"]] == [2003, 2004, 2005]


def test_put_collection_from_a_mapping_and_band_name(engine, tmp_asset):
    cube = npp_cube(range(2001, 2004))
    layers = {int(y): cube.sel(year=y, drop=True) for y in cube["year"].values[::-1]}
    asset = tmp_asset()
    engine.store.put_collection(asset, layers, band="b1")
    ids = [a["id"].rsplit("/", 1)[1] for a in ee.data.listAssets({"parent": asset})["assets"]]
    assert ids == ["2001", "2002", "2003"]
    assert ee.Image(f"{asset}/2002").bandNames().getInfo() == ["b1"]


def test_duplicate_years_are_an_error_naming_the_year(engine, tmp_asset):
    cube = npp_cube(range(2001, 2004))
    doubled = xr.concat([cube, cube.sel(year=[2002])], dim="year")
    with pytest.raises(EEError, match="Duplicate year 2002"):
        engine.store.put_collection(tmp_asset(), doubled)
    with pytest.raises(EEError, match="'year' dimension"):
        engine.store.put_collection(tmp_asset(), cube.rename(year="time"))


# --- tables ----------------------------------------------------------------------------------

TABLE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "a",
            "properties": {"name": "A", "code": 1},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[100, 38], [101, 38], [101, 39], [100, 39], [100, 38]]],
            },
        },
        {
            "type": "Feature",
            "properties": {"name": "B", "code": 2},
            "geometry": {"type": "Point", "coordinates": [101.5, 38.5]},
        },
    ],
}


def test_put_table_round_trip(engine, tmp_asset):
    asset = tmp_asset("regions")
    engine.store.put_table(asset, TABLE, {"source": "hand"})
    meta = ee.data.getAsset(asset)
    assert meta["type"] == "TABLE"
    assert meta["featureCount"] == "2"
    fc = engine.store.load_table(asset)
    assert [f.properties["name"] for f in fc.features] == ["A", "B"]
    assert [f.properties["system:index"] for f in fc.features] == ["a", "1"]
    assert fc.features[0].geometry.shape.bounds == (100.0, 38.0, 101.0, 39.0)
    with pytest.raises(EEError, match="is not an Image"):
        engine.store.load_image(asset)


def test_table_loads_through_ee(engine, tmp_asset):
    asset = tmp_asset()
    engine.store.put_table(asset, TABLE["features"][0])  # a single Feature is accepted
    info = ee.FeatureCollection(asset).getInfo()
    assert info["type"] == "FeatureCollection"
    assert [f["properties"]["name"] for f in info["features"]] == ["A"]
    assert info["features"][0]["geometry"]["type"] == "Polygon"


def test_put_table_from_a_file(engine, tmp_asset, tmp_path):
    import json

    path = tmp_path / "t.geojson"
    path.write_text(json.dumps(TABLE))
    asset = tmp_asset()
    engine.store.put_table(asset, str(path))
    assert len(engine.store.load_table(asset).features) == 2
    with pytest.raises(EEError, match="GeoJSON file not found"):
        engine.store.put_table(tmp_asset(), str(tmp_path / "missing.geojson"))


# --- persistence ---------------------------------------------------------------------------


def test_store_persists_across_engine_restarts(engine, tmp_asset, tmp_path):
    cube = edge_case_cube(range(2001, 2005))
    folder = tmp_path / "store"
    with local_engine(folder) as first:
        first.store.put_collection("npp", cube)
        first.store.put_table("t", TABLE)
        first_url = first.url
    with local_engine(folder) as second:
        assert second.url != first_url
        image = ee.Image(second.asset_id("npp/2002"))
        assert_pixels_equal(compute_pixels(image, grid_of(cube))["npp"], cube.sel(year=2002).values)
        assert ee.data.getAsset(second.asset_id("t"))["type"] == "TABLE"
        names = [a["id"] for a in ee.data.listAssets({"parent": second.asset_id("npp")})["assets"]]
        assert names == [f"npp/{y}" for y in range(2001, 2005)]
    # local_engine points ee back at the session engine on exit.
    marker = tmp_asset("marker")
    engine.store.create(marker, "FOLDER")
    assert ee.data.getAsset(marker)["type"] == "FOLDER"


# --- asset ids -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asset_id", "project", "path", "client_id"),
    [
        (
            "projects/local-project/assets/x",
            "local-project",
            "x",
            "projects/local-project/assets/x",
        ),
        ("x", "local-project", "x", "projects/local-project/assets/x"),
        ("users/me/x", "earthengine-legacy", "users/me/x", "users/me/x"),
        (
            "projects/earthengine-legacy/assets/users/me/y",
            "earthengine-legacy",
            "users/me/y",
            "users/me/y",
        ),
        (
            "MODIS/061/MOD17A3HGF",
            "earthengine-public",
            "MODIS/061/MOD17A3HGF",
            "MODIS/061/MOD17A3HGF",
        ),
        ("projects/other-proj/assets/a/b", "other-proj", "a/b", "projects/other-proj/assets/a/b"),
    ],
)
def test_asset_id_forms(tmp_path, asset_id, project, path, client_id):
    store = AssetStore(tmp_path)
    name = store.resolve(asset_id)
    assert (name.project, name.path, name.id) == (project, path, client_id)
    store.put_image(asset_id, yx_array(VALUES))
    assert (tmp_path / "assets" / project / path / "data.tif").is_file()
    assert store.exists(name.name)


@pytest.mark.parametrize(
    "asset_id",
    ["users/tester/npp_id_forms", "MODIS/999/GEE_CSCC_TEST", "projects/local-project/assets/bare"],
)
def test_asset_ids_as_the_client_sends_them(engine, asset_id):
    # ee.Image sends the id as written; ee.data converts it to a projects/... name.
    engine.store.put_image(asset_id, yx_array(VALUES))
    try:
        assert_pixels_equal(compute_pixels(ee.Image(asset_id), NATIVE)["v"], VALUES)
        assert ee.data.getAsset(asset_id)["type"] == "IMAGE"
    finally:
        engine.store.delete(asset_id)


def test_bare_id_is_in_the_default_project(engine):
    engine.store.put_image("bare_store_test", yx_array(VALUES))
    try:
        full = engine.asset_id("bare_store_test")
        assert ee.data.getAsset(full)["name"] == full
        assert_pixels_equal(compute_pixels(ee.Image(full), NATIVE)["v"], VALUES)
    finally:
        engine.store.delete("bare_store_test")


@pytest.mark.parametrize(
    "asset_id",
    ["", "   ", "bad name", "projects/local-project/assets/a/../b", "a/b?c", "x/./y", "x/ü"],
)
def test_invalid_asset_ids(tmp_path, asset_id):
    store = AssetStore(tmp_path)
    with pytest.raises(EEError, match="Invalid asset id"):
        store.put_image(asset_id, yx_array(VALUES))
    assert not list((tmp_path / "assets").rglob("*.tif"))


@pytest.mark.parametrize(
    "root", ["projects/local-project/assets", "projects/local-project/assets/"]
)
def test_project_root_is_never_written_or_deleted(tmp_path, root):
    store = AssetStore(tmp_path)
    store.put_image("kept", yx_array(VALUES))
    with pytest.raises(EEError, match="project root"):
        store.put_image(root, yx_array(VALUES))
    with pytest.raises(EEError, match="project root"):
        store.put_collection(root, npp_cube(range(2001, 2004)))
    with pytest.raises(EEError, match="project root"):
        store.delete(root, recursive=True)
    assert store.exists("kept")


def test_invalid_asset_id_through_ee():
    with pytest.raises(ee.EEException, match="Invalid asset id"):
        ee.Image("projects/local-project/assets/bad name").getInfo()


def test_asset_name_parts():
    name = AssetName.parse("projects/local-project/assets/a/b/c")
    assert name.parent().name == "projects/local-project/assets/a/b"
    assert name.child("d").path == "a/b/c/d"
    assert AssetName.parse("projects/local-project/assets").path == ""
