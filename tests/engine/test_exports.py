"""Export and ingestion operations of the local engine, driven with the real ``ee.batch``.

Every task is started by the unmodified client (``ee.batch.Export.*``,
``ee.data.startIngestion``); results are read back through the client (asset exports,
ingestions) or with rasterio / the csv module (Drive and Cloud Storage files). Expected
pixels are NumPy expressions of the input arrays.
"""

from __future__ import annotations

import csv
import json
import time
import uuid
from pathlib import Path

import ee
import numpy as np
import pytest
import rasterio

from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of

NAN = np.nan
A = np.array(
    [
        [1.5, -2.0, 0.0, 4.0, NAN],
        [3.0, NAN, 7.5, -1.0, 2.0],
        [0.0, 5.0, -3.5, 6.0, 8.0],
        [NAN, 2.5, 1.0, -4.0, 9.0],
    ]
)
TRANSFORM = (1.0, 0.0, 10.0, 0.0, -1.0, 50.0)
GRID = grid(TRANSFORM, A.shape)
DONE = ("COMPLETED", "FAILED", "CANCELLED")


def wait(task, timeout: float = 30.0) -> dict:
    """Poll ``task.status()`` until the task has finished."""
    end = time.monotonic() + timeout
    while True:
        status = task.status()
        if status["state"] in DONE:
            return status
        if time.monotonic() > end:
            raise AssertionError(f"task still {status['state']} after {timeout} s")
        time.sleep(0.05)


def wait_state(task, states, timeout: float = 10.0) -> dict:
    end = time.monotonic() + timeout
    while True:
        status = task.status()
        if status["state"] in states:
            return status
        if time.monotonic() > end:
            raise AssertionError(f"task still {status['state']}, expected one of {states}")
        time.sleep(0.02)


@pytest.fixture
def stored(engine, tmp_asset):
    """The image ``A`` (band ``npp``, property ``k``) stored in the test's folder."""
    asset = tmp_asset("src")
    engine.store.put_image(
        asset, image_of(A, TRANSFORM, name="npp"), {"k": 3, "system:time_start": 1577836800000}
    )
    return ee.Image(asset)


@pytest.fixture
def names():
    """Unique Drive folders / bucket prefixes for one test."""
    return f"t{uuid.uuid4().hex[:10]}"


# --- image → asset -----------------------------------------------------------------------


def test_image_to_asset_reads_back_with_values_masks_and_properties(engine, stored, tmp_asset):
    out = tmp_asset("doubled")
    # Arithmetic drops properties (as on Earth Engine), so they are set again.
    img = stored.multiply(2).set({"k": 3, "extra": "yes", "system:time_start": 1577836800000})
    task = ee.batch.Export.image.toAsset(img, description="to_asset", assetId=out)
    task.start()
    status = wait(task)
    assert status["state"] == "COMPLETED", status.get("error_message")
    assert status["destination_uris"] == [out]
    back = ee.Image(out)
    info = back.getInfo()
    assert [b["id"] for b in info["bands"]] == ["npp"]
    assert info["bands"][0]["crs_transform"] == list(TRANSFORM)
    assert info["bands"][0]["dimensions"] == [5, 4]
    props = info["properties"]
    assert props["k"] == 3 and props["extra"] == "yes"
    assert props["system:time_start"] == 1577836800000
    assert_pixels_equal(compute_pixels(back, GRID)["npp"], 2 * A)


def test_integer_bands_keep_type_and_mask_in_an_asset(engine, stored, tmp_asset):
    out = tmp_asset("ints")
    img = stored.gt(2).rename("hot").addBands(stored.multiply(10).toInt16().rename("n"))
    task = ee.batch.Export.image.toAsset(img, description="ints", assetId=out)
    task.start()
    assert wait(task)["state"] == "COMPLETED"
    info = ee.Image(out).getInfo()
    assert [b["data_type"]["precision"] for b in info["bands"]] == ["int", "int"]
    px = compute_pixels(ee.Image(out), GRID)
    assert_pixels_equal(px["hot"], np.where(np.isnan(A), NAN, (A > 2).astype(float)))
    assert_pixels_equal(px["n"], np.trunc(10 * A))


def test_existing_asset_is_not_overwritten_unless_asked(engine, stored, tmp_asset):
    out = tmp_asset("once")
    first = ee.batch.Export.image.toAsset(stored, description="first", assetId=out)
    first.start()
    assert wait(first)["state"] == "COMPLETED"
    again = ee.batch.Export.image.toAsset(stored.add(1), description="again", assetId=out)
    again.start()
    status = wait(again)
    assert status["state"] == "FAILED"
    assert status["error_message"] == f"Cannot overwrite asset '{out}'."
    assert_pixels_equal(compute_pixels(ee.Image(out), GRID)["npp"], A)
    forced = ee.batch.Export.image.toAsset(
        stored.add(1), description="forced", assetId=out, overwrite=True
    )
    forced.start()
    assert wait(forced)["state"] == "COMPLETED"
    assert_pixels_equal(compute_pixels(ee.Image(out), GRID)["npp"], A + 1)


def test_overwrite_never_replaces_an_asset_of_another_type(engine, stored, tmp_asset):
    coll = tmp_asset("coll")
    engine.store.create(coll, "IMAGE_COLLECTION")
    task = ee.batch.Export.image.toAsset(stored, description="x", assetId=coll, overwrite=True)
    task.start()
    status = wait(task)
    assert status["state"] == "FAILED"
    assert status["error_message"].startswith(f"Cannot overwrite asset '{coll}'")
    assert engine.store.meta(coll)["type"] == "IMAGE_COLLECTION"


def test_asset_export_into_a_folder_of_someone_else_is_denied(engine, stored, tmp_asset):
    folder = tmp_asset("private")
    engine.store.create(folder, "FOLDER")
    with engine.as_user("user:mallory@example.com"):
        task = ee.batch.Export.image.toAsset(stored, description="x", assetId=folder + "/x")
        task.start()
    status = wait(task)
    assert status["state"] == "FAILED"
    assert "mallory@example.com" in status["error_message"]
    assert not engine.store.exists(folder + "/x")


# --- image → files -------------------------------------------------------------------------


def read_tif(path: Path):
    with rasterio.open(path) as src:
        return src.read(), src.profile, src.tags(ns="IMAGE_STRUCTURE"), src.descriptions


def test_drive_geotiff_holds_the_computed_pixels(engine, stored, names):
    task = ee.batch.Export.image.toDrive(
        stored.multiply(3), description="drive", folder=names, fileNamePrefix="npp"
    )
    task.start()
    status = wait(task)
    assert status["state"] == "COMPLETED", status.get("error_message")
    path = engine.store.root / "drive" / names / "npp.tif"
    assert status["destination_uris"] == [path.resolve().as_uri()]
    data, profile, _, descriptions = read_tif(path)
    assert descriptions == ("npp",)
    assert profile["transform"] == rasterio.Affine(*TRANSFORM)
    assert profile["nodata"] is None  # masked pixels are written as 0, as Earth Engine does
    np.testing.assert_array_equal(data[0], np.where(np.isnan(A), 0.0, 3 * A))
    leftovers = [p for p in path.parent.iterdir() if p.name != "npp.tif"]
    assert leftovers == []


def test_drive_geotiff_with_nodata_and_an_explicit_grid(engine, stored, names):
    # crs + crsTransform + dimensions: a 3x2 window starting one pixel in, and no-data -9999.
    transform = [1.0, 0.0, 11.0, 0.0, -1.0, 49.0]
    task = ee.batch.Export.image.toDrive(
        stored,
        description="window",
        folder=names,
        fileNamePrefix="win",
        crs="EPSG:4326",
        crsTransform=transform,
        dimensions="3x2",
        formatOptions={"noData": -9999, "cloudOptimized": False},
    )
    task.start()
    status = wait(task)
    assert status["state"] == "COMPLETED", status.get("error_message")
    data, profile, _, _ = read_tif(engine.store.root / "drive" / names / "win.tif")
    assert profile["nodata"] == -9999
    assert (profile["width"], profile["height"]) == (3, 2)
    assert profile["transform"] == rasterio.Affine(*transform)
    np.testing.assert_array_equal(data[0], np.where(np.isnan(A[1:3, 1:4]), -9999, A[1:3, 1:4]))


def test_cloud_storage_export_is_a_cloud_optimized_geotiff(engine, stored, names):
    task = ee.batch.Export.image.toCloudStorage(
        stored,
        description="gcs",
        bucket="bucket-" + names,
        fileNamePrefix="dir/npp",
        formatOptions={"cloudOptimized": True, "noData": -1},
    )
    task.start()
    assert wait(task)["state"] == "COMPLETED"
    path = engine.store.root / "gcs" / ("bucket-" + names) / "dir" / "npp.tif"
    data, profile, structure, _ = read_tif(path)
    assert structure.get("LAYOUT") == "COG"
    np.testing.assert_array_equal(data[0], np.where(np.isnan(A), -1, A))


def test_file_dimensions_split_the_export_into_named_files(engine, stored, names):
    # 300x260 pixels of 1/64 degree; files of 256x256 (a multiple of the shard size). The
    # bottom files (rows 256-259) lie south of the image: all masked, so skipped.
    step = 1 / 64
    task = ee.batch.Export.image.toDrive(
        stored,
        description="split",
        folder=names,
        fileNamePrefix="part",
        crs="EPSG:4326",
        crsTransform=[step, 0, 10, 0, -step, 50],
        dimensions="300x260",
        fileDimensions=[256, 256],
        skipEmptyTiles=True,
        formatOptions={"cloudOptimized": False},
    )
    task.start()
    status = wait(task)
    assert status["state"] == "COMPLETED", status.get("error_message")
    folder = engine.store.root / "drive" / names
    assert sorted(p.name for p in folder.iterdir()) == [
        "part-0000000000-0000000000.tif",
        "part-0000000000-0000000256.tif",
    ]
    assert len(status["destination_uris"]) == 2
    data, profile, _, _ = read_tif(folder / "part-0000000000-0000000256.tif")
    assert data.shape == (1, 256, 44)
    assert profile["transform"] == rasterio.Affine(step, 0.0, 14.0, 0.0, -step, 50.0)
    # Columns 256-299 lie in source column 4; each source row spans 64 output rows.
    column = np.repeat(np.where(np.isnan(A[:, 4]), 0.0, A[:, 4]), 64)
    np.testing.assert_array_equal(data[0], np.broadcast_to(column[:, None], (256, 44)))


def test_file_dimensions_must_be_multiples_of_the_shard_size(engine, stored, names):
    task = ee.batch.Export.image.toDrive(
        stored, description="bad_split", folder=names, fileDimensions=[3, 2]
    )
    task.start()
    status = wait(task)
    assert status["state"] == "FAILED"
    assert "multiples of shardSize (256)" in status["error_message"]


def test_mixed_integer_and_float_bands_fail_as_on_earth_engine(engine, stored, names):
    img = stored.addBands(stored.gt(0).rename("pos"))
    task = ee.batch.Export.image.toDrive(img, description="mixed", folder=names)
    task.start()
    status = wait(task)
    assert status["state"] == "FAILED"
    assert status["error_message"].startswith("Exported bands must have compatible data types")


# --- failures ------------------------------------------------------------------------------


def test_max_pixels_exceeded_fails_with_earth_engines_message(engine, stored, tmp_asset):
    task = ee.batch.Export.image.toAsset(
        stored, description="big", assetId=tmp_asset("big"), maxPixels=10
    )
    task.start()
    status = wait(task)
    assert status["state"] == "FAILED"
    assert status["error_message"] == (
        "Export too large: specified 20 pixels (max: 10). Specify higher maxPixels value if "
        "you intend to export a large area."
    )
    assert not engine.store.exists(tmp_asset("big"))


def test_unbounded_image_fails_with_a_clear_message(engine, tmp_asset):
    task = ee.batch.Export.image.toAsset(
        ee.Image.constant(1), description="unbounded", assetId=tmp_asset("u")
    )
    task.start()
    status = wait(task)
    assert status["state"] == "FAILED"
    assert status["error_message"].startswith("Unable to export unbounded image.")


def test_a_failing_expression_reports_the_servers_message(engine, tmp_asset):
    missing = tmp_asset("missing")
    task = ee.batch.Export.image.toAsset(ee.Image(missing), description="bad", assetId=tmp_asset())
    task.start()
    status = wait(task)
    assert status["state"] == "FAILED"
    assert status["error_message"] == f"Image.load: Image asset '{missing}' not found."


# --- operations: progress, listing, cancel ------------------------------------------------------


def test_operations_move_through_states_and_are_listed(engine, stored, tmp_asset, gate):
    task = ee.batch.Export.image.toAsset(stored, description="listed", assetId=tmp_asset("l"))
    task.start()
    assert gate.entered.wait(10)
    assert task.status()["state"] == "RUNNING"
    op = ee.data.getOperation(task.name)
    assert op["metadata"]["state"] == "RUNNING" and op["metadata"]["progress"] == 0.0
    listed = {t.id: t for t in ee.batch.Task.list()}
    assert task.id in listed
    gate.release.set()
    assert wait(task)["state"] == "COMPLETED"
    op = ee.data.getOperation(task.name)
    assert op["done"] and op["metadata"]["progress"] == 1.0
    assert ee.data.getOperation(task.name)["metadata"]["state"] == "SUCCEEDED"


def test_cancelled_export_leaves_nothing(engine, stored, tmp_asset, gate, names):
    out = tmp_asset("cancelled")
    to_asset = ee.batch.Export.image.toAsset(stored, description="c1", assetId=out)
    to_asset.start()
    assert gate.entered.wait(10)
    to_drive = ee.batch.Export.image.toDrive(stored, description="c2", folder=names)
    to_drive.start()
    to_asset.cancel()
    to_drive.cancel()
    assert to_asset.status()["state"] in ("CANCEL_REQUESTED", "CANCELLED")
    gate.release.set()
    assert wait(to_asset)["state"] == "CANCELLED"
    assert wait(to_drive)["state"] == "CANCELLED"
    assert not engine.store.exists(out)
    assert list((engine.store.root / "tmp").glob("export-*")) == []
    assert not (engine.store.root / "drive" / names).exists() or not any(
        (engine.store.root / "drive" / names).iterdir()
    )


def test_a_retried_start_with_the_same_request_id_starts_one_task(engine, stored, tmp_asset):
    task = ee.batch.Export.image.toAsset(stored, description="idem", assetId=tmp_asset("i"))
    request_id = ee.data.newTaskId()[0]
    config = dict(task.config)
    first = ee.data.exportImage(request_id, config)
    second = ee.data.exportImage(request_id, config)
    assert first["name"] == second["name"]


# --- tables ----------------------------------------------------------------------------------

TABLE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "f0",
            "geometry": {"type": "Point", "coordinates": [10.5, 49.5]},
            "properties": {"name": "a", "value": 1.5, "n": 2},
        },
        {
            "type": "Feature",
            "id": "f1",
            "geometry": None,
            "properties": {"name": "b,c", "value": -3.0},
        },
    ],
}


@pytest.fixture
def table(engine, tmp_asset):
    asset = tmp_asset("table")
    engine.store.put_table(asset, TABLE, {"source": "test"})
    return ee.FeatureCollection(asset)


def test_table_to_drive_csv_has_index_properties_and_geo(engine, table, names):
    task = ee.batch.Export.table.toDrive(table, description="csv", folder=names, fileNamePrefix="t")
    task.start()
    status = wait(task)
    assert status["state"] == "COMPLETED", status.get("error_message")
    text = (engine.store.root / "drive" / names / "t.csv").read_text()
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == ["system:index", "n", "name", "value", ".geo"]
    assert rows[1][:4] == ["f0", "2", "a", "1.5"]
    assert json.loads(rows[1][4])["coordinates"] == [10.5, 49.5]
    assert rows[2] == ["f1", "", "b,c", "-3.0", '{"type":"MultiPoint","coordinates":[]}']


def test_table_selectors_choose_and_order_columns(engine, table, names):
    task = ee.batch.Export.table.toCloudStorage(
        table,
        description="sel",
        bucket="b-" + names,
        fileNamePrefix="t",
        selectors=["value", "name"],
    )
    task.start()
    assert wait(task)["state"] == "COMPLETED"
    text = (engine.store.root / "gcs" / ("b-" + names) / "t.csv").read_text()
    assert text.splitlines() == ["value,name", "1.5,a", '-3.0,"b,c"']


def test_table_to_geojson_and_to_a_table_asset(engine, table, names, tmp_asset):
    gj = ee.batch.Export.table.toDrive(
        table, description="gj", folder=names, fileNamePrefix="t", fileFormat="GeoJSON"
    )
    gj.start()
    status = wait(gj)
    assert status["state"] == "COMPLETED", status.get("error_message")
    data = json.loads((engine.store.root / "drive" / names / "t.geojson").read_text())
    assert [f["id"] for f in data["features"]] == ["f0", "f1"]
    assert data["features"][0]["properties"] == {"name": "a", "value": 1.5, "n": 2}
    assert data["features"][1]["geometry"] is None
    out = tmp_asset("copy")
    to_asset = ee.batch.Export.table.toAsset(table, description="tab", assetId=out)
    to_asset.start()
    status = wait(to_asset)
    assert status["state"] == "COMPLETED", status.get("error_message")
    info = ee.FeatureCollection(out).getInfo()
    assert [f["properties"]["name"] for f in info["features"]] == ["a", "b,c"]
    assert info["properties"]["source"] == "test"


# --- ingestion -------------------------------------------------------------------------------


def write_tif(path: Path, values: np.ndarray, nodata=None, dtype="float32") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = values.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=h,
        width=w,
        count=1,
        dtype=dtype,
        crs="EPSG:4326",
        transform=rasterio.Affine(*TRANSFORM),
        nodata=nodata,
    ) as dst:
        dst.write(values.astype(dtype), 1)


def test_image_ingestion_from_a_gs_uri(engine, tmp_asset, names):
    raw = np.where(np.isnan(A), -9999, A * 2)
    write_tif(engine.store.root / "gcs" / names / "in" / "npp_2020.tif", raw, nodata=-9999)
    name = tmp_asset("ingested")
    manifest = {
        "name": name,
        "tilesets": [{"sources": [{"uris": [f"gs://{names}/in/npp_2020.tif"]}]}],
        "bands": [{"id": "npp", "tilesetBandIndex": 0}],
        "startTime": "2020-01-01T00:00:00Z",
        "endTime": "2021-01-01T00:00:00Z",
        "properties": {"year": 2020},
        "pyramidingPolicy": "MEAN",
    }
    reply = ee.data.startIngestion(ee.data.newTaskId()[0], manifest, True)
    op = _wait_operation(reply["name"])
    assert op["metadata"]["state"] == "SUCCEEDED", op
    info = ee.Image(name).getInfo()
    assert info["properties"]["year"] == 2020
    assert info["properties"]["system:time_start"] == 1577836800000
    assert info["properties"]["system:time_end"] == 1609459200000
    assert_pixels_equal(compute_pixels(ee.Image(name), GRID)["npp"], 2 * A, rtol=1e-6)


def test_ingestion_missing_data_values_mask_pixels(engine, tmp_asset, names):
    raw = np.where(A < 0, 0.0, A)  # 0 marks missing; the file itself has no nodata value
    raw = np.where(np.isnan(raw), 0.0, raw)
    write_tif(engine.store.root / "gcs" / names / "m.tif", raw, dtype="float64")
    name = tmp_asset("masked")
    manifest = {
        "name": name,
        "tilesets": [{"id": "t", "sources": [{"uris": [f"gs://{names}/m.tif"]}]}],
        "bands": [{"id": "v", "tilesetId": "t", "tilesetBandIndex": 0}],
        "missingData": {"values": [0]},
    }
    reply = ee.data.startIngestion(ee.data.newTaskId()[0], manifest)
    assert _wait_operation(reply["name"])["metadata"]["state"] == "SUCCEEDED"
    expected = np.where(np.isnan(A) | (A <= 0), NAN, A)
    assert_pixels_equal(compute_pixels(ee.Image(name), GRID)["v"], expected)


def test_ingestion_of_a_missing_object_fails_with_its_uri(engine, tmp_asset, names):
    manifest = {
        "name": tmp_asset("nothing"),
        "tilesets": [{"sources": [{"uris": [f"gs://{names}/absent.tif"]}]}],
    }
    reply = ee.data.startIngestion(ee.data.newTaskId()[0], manifest)
    op = _wait_operation(reply["name"])
    assert op["metadata"]["state"] == "FAILED"
    assert f"gs://{names}/absent.tif" in op["error"]["message"]


def test_table_ingestion_of_a_csv(engine, tmp_asset, names):
    path = engine.store.root / "gcs" / names / "pts.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("id,lon,lat,v\na,10.5,49.5,1\nb,11.5,48.5,2.5\n")
    name = tmp_asset("pts")
    reply = ee.data.startTableIngestion(
        ee.data.newTaskId()[0],
        {
            "name": name,
            "sources": [{"uris": [f"gs://{names}/pts.csv"], "xColumn": "lon", "yColumn": "lat"}],
        },
    )
    assert _wait_operation(reply["name"])["metadata"]["state"] == "SUCCEEDED"
    meta = engine.store.meta(name)
    assert meta["type"] == "TABLE" and meta["featureCount"] == 2
    gj = json.loads(
        (engine.store.asset_dir(engine.store.resolve(name)) / "data.geojson").read_text()
    )
    assert gj["features"][1]["geometry"] == {"type": "Point", "coordinates": [11.5, 48.5]}
    assert gj["features"][1]["properties"] == {"id": "b", "v": 2.5}


def _wait_operation(name: str, timeout: float = 30.0) -> dict:
    end = time.monotonic() + timeout
    while True:
        op = ee.data.getOperation(name)
        if op.get("done"):
            return op
        if time.monotonic() > end:
            raise AssertionError(f"operation {name} not done after {timeout} s")
        time.sleep(0.05)


def test_region_and_scale_export(engine, stored, names):
    from gee_cscc.engine.raster.grid import METERS_PER_DEGREE

    task = ee.batch.Export.image.toDrive(
        stored,
        description="region",
        folder=names,
        fileNamePrefix="r",
        region=ee.Geometry.Rectangle([11, 46, 14, 49], None, False),
        scale=METERS_PER_DEGREE,
        crs="EPSG:4326",
        formatOptions={"noData": -9999, "cloudOptimized": False},
    )
    task.start()
    status = wait(task)
    assert status["state"] == "COMPLETED", status.get("error_message")
    data, profile, _, _ = read_tif(engine.store.root / "drive" / names / "r.tif")
    assert profile["transform"] == rasterio.Affine(1.0, 0.0, 11.0, 0.0, -1.0, 49.0)
    np.testing.assert_array_equal(data[0], np.where(np.isnan(A[1:4, 1:4]), -9999, A[1:4, 1:4]))


def test_region_with_crs_transform_export(engine, stored, names):
    # region + crs + crsTransform: the client sends Image.clip(Image.reproject(...), region).
    task = ee.batch.Export.image.toDrive(
        stored,
        description="clip",
        folder=names,
        fileNamePrefix="c",
        region=ee.Geometry.Rectangle([11, 46, 14, 49], None, False),
        crs="EPSG:4326",
        crsTransform=[1, 0, 10, 0, -1, 50],
        formatOptions={"noData": -9999, "cloudOptimized": False},
    )
    task.start()
    status = wait(task)
    assert status["state"] == "COMPLETED", status.get("error_message")
    data, profile, _, _ = read_tif(engine.store.root / "drive" / names / "c.tif")
    assert profile["transform"] == rasterio.Affine(1.0, 0.0, 11.0, 0.0, -1.0, 49.0)
    np.testing.assert_array_equal(data[0], np.where(np.isnan(A[1:4, 1:4]), -9999, A[1:4, 1:4]))
