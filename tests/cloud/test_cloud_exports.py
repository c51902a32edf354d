"""gee_cscc.cloud.exports: exports, the run manifest, polling, sharing and upload.

The client code uses only the public ``ee`` API; here it runs against the session's local
engine (the same endpoints as Google's). Polls are 0.05 s apart to keep the tests fast.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from types import SimpleNamespace

import ee
import numpy as np
import pytest
import rasterio
import xarray as xr

import gee_cscc
from gee_cscc import cloud as export
from gee_cscc.errors import ExportError, InputError
from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of

NAN = np.nan
A = np.array(
    [
        [1.0, 2.0, NAN, 4.0],
        [-1.0, 0.0, 3.5, NAN],
        [7.0, NAN, 2.0, 1.0],
    ]
)
TRANSFORM = (0.5, 0.0, 100.0, 0.0, -0.5, 40.0)
GRID = grid(TRANSFORM, A.shape)
POLL = 0.05


def quiet(statuses) -> None:
    """A progress callback that shows nothing."""


@pytest.fixture
def stored(engine, tmp_asset):
    asset = tmp_asset("src")
    engine.store.put_image(asset, image_of(A, TRANSFORM, name="npp"))
    return asset


def set_property(asset_id: str, key: str, value) -> None:
    ee.data.updateAsset(asset_id, {"properties": {key: value}}, [f'properties."{key}"'])


def operation_count() -> int:
    return len(ee.data.listOperations())


# --- pure helpers -----------------------------------------------------------------------------


def test_ingestion_manifest_matches_the_protocol_example():
    # shared/reference/ee-protocol.md §5, "Ingestion".
    manifest = export.ingestion_manifest(
        "projects/local-project/assets/tiny/coll/img_2020",
        "gs://my-bucket/npp_2020.tif",
        year=2020,
        band="npp",
    )
    assert manifest == {
        "name": "projects/local-project/assets/tiny/coll/img_2020",
        "tilesets": [{"sources": [{"uris": ["gs://my-bucket/npp_2020.tif"]}]}],
        "bands": [{"id": "npp", "tilesetBandIndex": 0}],
        "startTime": "2020-01-01T00:00:00Z",
        "endTime": "2021-01-01T00:00:00Z",
        "properties": {"year": 2020},
        "pyramidingPolicy": "MEAN",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "x/y", "uris": "gs://b/x.tif"}, "full asset id"),
        ({"name": "projects/local-project/assets/x", "uris": "/tmp/x.tif"}, "gs://"),
    ],
)
def test_ingestion_manifest_rejects_bad_ids_and_paths(kwargs, message):
    with pytest.raises(InputError, match=message):
        export.ingestion_manifest(**kwargs)


def test_ingestion_manifest_legacy_ids_and_missing_data():
    m = export.ingestion_manifest("users/me/npp/2001", ["gs://b/n_2001.tif"], missing_data=[-9999])
    assert m["name"] == "projects/earthengine-legacy/assets/users/me/npp/2001"
    assert m["missingData"] == {"values": [-9999.0]}
    assert "startTime" not in m and "properties" not in m


def test_destination_keys():
    assert (
        export.destination_key("asset", asset_id="projects/p/assets/x")
        == "asset:projects/p/assets/x"
    )
    assert export.destination_key("drive", folder="f", prefix="npp") == "drive:f/npp"
    assert export.destination_key("gcs", bucket="b", prefix="d/npp") == "gcs:b/d/npp"
    with pytest.raises(InputError, match="bucket"):
        export.destination_key("gcs", prefix="x")
    with pytest.raises(InputError, match="destination"):
        export.destination_key("ftp", prefix="x")


def test_provenance_is_strings_and_numbers():
    props = export.provenance({"years": [2000, 2018], "band": "npp"}, inputs=["a/b"], run="r1")
    assert props["gee_cscc_version"] == gee_cscc.__version__
    assert json.loads(props["gee_cscc_config"]) == {"band": "npp", "years": [2000, 2018]}
    assert json.loads(props["gee_cscc_inputs"]) == ["a/b"]
    assert props["run"] == "r1"
    assert all(isinstance(v, (str, int, float)) for v in props.values())


def test_task_manifest_round_trip_is_atomic(tmp_path):
    m = export.TaskManifest.in_dir(tmp_path / "out")
    task = SimpleNamespace(id="ABC", name="projects/p/operations/ABC", task_type="EXPORT_IMAGE")
    m.record("asset:x", task, destination="asset:x", description="d")
    m.update("asset:x", state="RUNNING")
    again = export.TaskManifest(tmp_path / "out" / "export_tasks.json")
    assert again.get("asset:x")["id"] == "ABC"
    assert again.get("asset:x")["state"] == "RUNNING"
    assert again.key_of("ABC") == "asset:x"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["export_tasks.json"]


def test_a_corrupt_manifest_is_an_export_error(tmp_path):
    path = tmp_path / "export_tasks.json"
    path.write_text("{not json")
    with pytest.raises(ExportError, match="task manifest"):
        export.TaskManifest(path)


# --- export + wait on the local engine -------------------------------------------------------


def test_export_image_to_an_asset_with_provenance(engine, stored, tmp_asset):
    out = tmp_asset("result")
    props = export.provenance({"band": "npp"}, inputs=[stored])
    task = export.export_image(
        ee.Image(stored).multiply(10),
        destination="asset",
        asset_id=out,
        crs="EPSG:4326",
        crs_transform=TRANSFORM,
        dimensions=(4, 3),
        properties=props,
    )
    statuses = export.wait_for_tasks([task], poll_seconds=POLL, progress=quiet)
    assert statuses[0]["state"] == "COMPLETED"
    info = ee.Image(out).getInfo()
    assert json.loads(info["properties"]["gee_cscc_inputs"]) == [stored]
    assert info["properties"]["gee_cscc_version"] == gee_cscc.__version__
    assert_pixels_equal(compute_pixels(ee.Image(out), GRID)["npp"], 10 * A)


def test_an_existing_asset_is_skipped_unless_overwrite(engine, stored, tmp_asset, caplog):
    out = tmp_asset("kept")
    first = export.export_image(ee.Image(stored), asset_id=out)
    export.wait_for_tasks([first], poll_seconds=POLL, progress=quiet)
    before = operation_count()
    with caplog.at_level("INFO", logger="gee_cscc.cloud.exports"):
        assert export.export_image(ee.Image(stored).add(1), asset_id=out) is None
    assert "skipped" in caplog.text
    assert operation_count() == before
    task = export.export_image(ee.Image(stored).add(1), asset_id=out, overwrite=True)
    export.wait_for_tasks([task], poll_seconds=POLL, progress=quiet)
    assert_pixels_equal(compute_pixels(ee.Image(out), GRID)["npp"], A + 1)


def test_export_image_to_drive_and_cloud_storage_files(engine, stored):
    folder = f"f{uuid.uuid4().hex[:8]}"
    to_drive = export.export_image(
        ee.Image(stored), destination="drive", folder=folder, prefix="npp", no_data=-9999
    )
    to_gcs = export.export_image(
        ee.Image(stored), destination="gcs", bucket=folder, prefix="dir/npp", no_data=-9999
    )
    export.wait_for_tasks([to_drive, to_gcs], poll_seconds=POLL, progress=quiet)
    for path in (
        engine.store.root / "drive" / folder / "npp.tif",
        engine.store.root / "gcs" / folder / "dir" / "npp.tif",
    ):
        with rasterio.open(path) as src:
            np.testing.assert_array_equal(src.read(1), np.where(np.isnan(A), -9999, A))
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_rerun_waits_on_a_running_task_instead_of_restarting(
    engine, stored, tmp_asset, tmp_path, gate
):
    out = tmp_asset("resumed")
    manifest = export.TaskManifest.in_dir(tmp_path)
    task = export.export_image(ee.Image(stored), asset_id=out, manifest=manifest)
    assert gate.entered.wait(10)
    # The first run is interrupted here; a new run reads the same manifest.
    before = operation_count()
    rerun = export.TaskManifest.in_dir(tmp_path)
    again = export.export_image(ee.Image(stored), asset_id=out, manifest=rerun)
    assert again is not None and again.id == task.id
    assert operation_count() == before
    gate.release.set()
    statuses = export.wait_for_tasks([again], poll_seconds=POLL, progress=quiet, manifest=rerun)
    assert statuses[0]["state"] == "COMPLETED"
    assert export.TaskManifest.in_dir(tmp_path).get(f"asset:{out}")["state"] == "COMPLETED"
    # A third run finds it done and starts nothing.
    assert export.export_image(ee.Image(stored), asset_id=out, manifest=rerun) is None
    assert operation_count() == before


def test_rerun_restarts_a_failed_task(engine, tmp_asset, tmp_path, stored):
    out = tmp_asset("retry")
    manifest = export.TaskManifest.in_dir(tmp_path)
    bad = export.export_image(ee.Image(tmp_asset("absent")), asset_id=out, manifest=manifest)
    with pytest.raises(ExportError):
        export.wait_for_tasks([bad], poll_seconds=POLL, progress=quiet, manifest=manifest)
    assert manifest.get(f"asset:{out}")["state"] == "FAILED"
    good = export.export_image(ee.Image(stored), asset_id=out, manifest=manifest)
    assert good.id != bad.id
    export.wait_for_tasks([good], poll_seconds=POLL, progress=quiet, manifest=manifest)
    assert manifest.get(f"asset:{out}")["id"] == good.id


def test_a_failed_task_raises_with_its_name_and_the_servers_message(engine, tmp_asset):
    missing = tmp_asset("nothing-here")
    task = export.export_image(ee.Image(missing), asset_id=tmp_asset(), description="npp_result")
    with pytest.raises(ExportError) as info:
        export.wait_for_tasks([task], poll_seconds=POLL, progress=quiet)
    text = str(info.value)
    assert "npp_result" in text and task.id in text
    assert f"Image.load: Image asset '{missing}' not found." in text


def test_progress_reports_every_poll(engine, stored, tmp_asset, gate):
    task = export.export_image(ee.Image(stored), asset_id=tmp_asset("p"))
    seen = []

    def progress(statuses):
        seen.append([s["state"] for s in statuses])
        if len(seen) == 2:
            gate.release.set()

    export.wait_for_tasks([task, None], poll_seconds=POLL, progress=progress)
    assert seen[0] in (["READY"], ["RUNNING"])
    assert seen[-1] == ["COMPLETED"]


def test_stderr_progress_line():
    stream = io.StringIO()
    show = export.StderrProgress(stream)
    show(
        [
            {"state": "COMPLETED"},
            {"state": "RUNNING", "progress": 0.5},
            {"state": "READY"},
        ]
    )
    assert stream.getvalue() == "exports: 1/3 done, 1 running (50%), 1 waiting\n"


def test_ctrl_c_offers_to_cancel_and_cancels(engine, stored, tmp_asset, gate):
    task = export.export_image(ee.Image(stored), asset_id=tmp_asset("stop"))
    asked = []

    def interrupt(statuses):
        raise KeyboardInterrupt

    def confirm(active):
        asked.append([t.id for t in active])
        return True

    with pytest.raises(KeyboardInterrupt):
        export.wait_for_tasks([task], poll_seconds=POLL, progress=interrupt, confirm=confirm)
    assert asked == [[task.id]]
    gate.release.set()
    with pytest.raises(ExportError, match="cancelled"):
        export.wait_for_tasks([task], poll_seconds=POLL, progress=quiet)
    assert not engine.store.exists(tmp_asset("stop"))


def test_ctrl_c_declined_leaves_tasks_running(engine, stored, tmp_asset, gate):
    task = export.export_image(ee.Image(stored), asset_id=tmp_asset("go-on"))

    def interrupt(statuses):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export.wait_for_tasks(
            [task], poll_seconds=POLL, progress=interrupt, confirm=lambda t: False
        )
    gate.release.set()
    assert (
        export.wait_for_tasks([task], poll_seconds=POLL, progress=quiet)[0]["state"] == "COMPLETED"
    )


def test_export_collection_writes_each_image_under_the_collection(engine, tmp_asset):
    src = tmp_asset("annual")
    cube = xr.concat(
        [image_of(A + k, TRANSFORM, name="npp") for k in range(3)], dim="year"
    ).assign_coords(year=[2001, 2002, 2003])
    engine.store.put_collection(src, cube)
    out = tmp_asset("copy")
    tasks = export.export_collection(
        ee.ImageCollection(src),
        out,
        crs="EPSG:4326",
        crs_transform=TRANSFORM,
        dimensions=(4, 3),
        properties={"run": "x"},
    )
    export.wait_for_tasks(tasks, poll_seconds=POLL, progress=quiet)
    assert engine.store.meta(out)["type"] == "IMAGE_COLLECTION"
    for k, year in enumerate((2001, 2002, 2003)):
        info = ee.Image(f"{out}/{year}").getInfo()
        assert info["properties"]["year"] == year and info["properties"]["run"] == "x"
        assert_pixels_equal(compute_pixels(ee.Image(f"{out}/{year}"), GRID)["npp"], A + k)


def test_export_table_to_drive_csv(engine, tmp_asset):
    table = tmp_asset("t")
    engine.store.put_table(
        table,
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": "0",
                    "geometry": None,
                    "properties": {"region": "A", "cscc": 1.5},
                }
            ],
        },
    )
    folder = f"f{uuid.uuid4().hex[:8]}"
    task = export.export_table(
        ee.FeatureCollection(table),
        destination="drive",
        folder=folder,
        prefix="tab",
        selectors=["region", "cscc"],
    )
    export.wait_for_tasks([task], poll_seconds=POLL, progress=quiet)
    text = (engine.store.root / "drive" / folder / "tab.csv").read_text()
    assert text.splitlines() == ["region,cscc", "A,1.5"]


# --- sharing -----------------------------------------------------------------------------------

BOB = "bob@example.com"
CAROL = "carol@example.com"


def test_a_collaborator_reads_a_shared_result_but_not_an_unshared_one(engine, tmp_asset):
    shared, private = tmp_asset("shared"), tmp_asset("private")
    engine.store.put_image(shared, image_of(A, TRANSFORM, name="npp"))
    engine.store.put_image(private, image_of(A, TRANSFORM, name="npp"))
    assert export.share_asset(shared, readers=[BOB]) == [shared]
    acl = export.show_acl(shared)
    assert acl["readers"] == [f"user:{BOB}"]
    assert acl["all_users_can_read"] is False  # public is never implied
    with engine.as_user(f"user:{BOB}"):
        assert ee.Image(shared).getInfo()["bands"][0]["id"] == "npp"
        with pytest.raises(ee.EEException, match="Permission denied.*private"):
            ee.Image(private).getInfo()
        with pytest.raises(ee.EEException, match="Permission denied"):
            set_property(shared, "x", 1)  # a reader may not write


def test_writers_may_write_and_readers_may_not(engine, tmp_asset):
    asset = tmp_asset("w")
    engine.store.put_image(asset, image_of(A, TRANSFORM, name="npp"))
    export.share_asset(asset, readers=[BOB], writers=[f"user:{CAROL}"])
    with engine.as_user(f"user:{CAROL}"):
        set_property(asset, "note", "by carol")
    with engine.as_user(f"user:{BOB}"):
        with pytest.raises(ee.EEException, match="Permission denied"):
            set_property(asset, "note", "by bob")
    assert engine.store.meta(asset)["properties"]["note"] == "by carol"
    # Sharing again changes nothing.
    assert export.share_asset(asset, readers=[BOB]) == []


def test_public_and_recursive_sharing(engine, tmp_asset):
    folder = tmp_asset("folder")
    engine.store.create(folder, "FOLDER")
    engine.store.put_image(folder + "/a", image_of(A, TRANSFORM, name="npp"))
    engine.store.create(folder + "/sub", "FOLDER")
    engine.store.put_image(folder + "/sub/b", image_of(A, TRANSFORM, name="npp"))
    changed = export.share_asset(folder, readers=[CAROL], recursive=True)
    assert set(changed) == {folder, folder + "/a", folder + "/sub", folder + "/sub/b"}
    assert export.show_acl(folder + "/sub/b")["readers"] == [f"user:{CAROL}"]
    export.share_asset(folder + "/a", public=True)
    assert export.show_acl(folder + "/a")["all_users_can_read"] is True
    with engine.as_user("user:anyone@example.net"):
        ee.Image(folder + "/a").getInfo()
    text = export.format_acl(folder + "/a", export.show_acl(folder + "/a"))
    assert "public read: yes" in text and f"user:{CAROL}" in text


def test_sharing_needs_someone_and_valid_members(engine, tmp_asset):
    with pytest.raises(InputError, match="Nothing to share"):
        export.share_asset(tmp_asset("x"))
    with pytest.raises(InputError, match="Invalid collaborator"):
        export.share_asset(tmp_asset("x"), readers=["not an email"])


# --- upload ----------------------------------------------------------------------------------


def write_tif(path: Path, values: np.ndarray, *, count: int = 1, nodata=-9999.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = values.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=h,
        width=w,
        count=count,
        dtype="float32",
        crs="EPSG:4326",
        transform=rasterio.Affine(*TRANSFORM),
        nodata=nodata,
    ) as dst:
        for i in range(1, count + 1):
            dst.write(np.where(np.isnan(values), nodata, values).astype("float32"), i)


@pytest.fixture
def annual_dir(tmp_path):
    folder = tmp_path / "annual"
    for k, year in enumerate((2019, 2020)):
        write_tif(folder / f"npp_{year}.tif", A * (k + 1))
    (folder / "notes.txt").write_text("not a raster")
    return folder


def test_upload_to_the_local_engine_store(engine, tmp_asset, annual_dir):
    coll = tmp_asset("uploaded")
    result = export.upload_annual_geotiffs(annual_dir, coll, engine=engine)
    assert result.tasks == [] and sorted(result.images) == [2019, 2020]
    for k, year in enumerate((2019, 2020)):
        info = ee.Image(f"{coll}/{year}").getInfo()
        assert info["bands"][0]["id"] == "npp"
        assert info["properties"]["year"] == year
        assert info["properties"]["system:time_start"] == int(
            np.datetime64(f"{year}-01-01", "ms").astype(np.int64)
        )
        assert_pixels_equal(compute_pixels(ee.Image(f"{coll}/{year}"), GRID)["npp"], A * (k + 1))
    again = export.upload_annual_geotiffs(annual_dir, coll, engine=engine)
    assert again.skipped == [2019, 2020] and again.images == {}


def test_upload_through_ingestion_from_cloud_storage(engine, tmp_asset, annual_dir):
    bucket = f"b{uuid.uuid4().hex[:8]}"
    for path in annual_dir.glob("*.tif"):
        target = engine.store.root / "gcs" / bucket / "npp" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    coll = tmp_asset("ingested")
    result = export.upload_annual_geotiffs(annual_dir, coll, gcs_prefix=f"gs://{bucket}/npp")
    assert len(result.tasks) == 2
    export.wait_for_tasks(result.tasks, poll_seconds=POLL, progress=quiet)
    assert ee.Image(f"{coll}/2020").getInfo()["properties"]["year"] == 2020
    assert_pixels_equal(compute_pixels(ee.Image(f"{coll}/2020"), GRID)["npp"], 2 * A)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "No \\*_YYYY.tif"),
        ({"a_2001.tif": 1, "b_2001.tif": 1}, "Two files for year 2001"),
        ({"a_2001.tif": 2}, "has 2 bands"),
    ],
)
def test_upload_rejects_bad_folders(engine, tmp_path, tmp_asset, files, message):
    for name, count in files.items():
        write_tif(tmp_path / name, A, count=count)
    with pytest.raises(InputError, match=message):
        export.upload_annual_geotiffs(tmp_path, tmp_asset("u"), engine=engine)


def test_upload_to_earth_engine_needs_a_gcs_prefix(annual_dir):
    with pytest.raises(InputError, match="gcs_prefix"):
        export.upload_annual_geotiffs(annual_dir, "projects/local-project/assets/x")
