"""``cloud.assets.ensure_folder`` when another run creates the same folder at the same time.

Found by two `gee-cscc run --mode batch` into one OUT at once (one configuration: one export
root): one of them stopped with "Cannot create the asset folder …: Cannot overwrite asset".
"""

from __future__ import annotations

import ee
import pytest

from gee_cscc.cloud import assets
from gee_cscc.errors import ExportError


def test_a_folder_made_meanwhile_by_another_run_is_taken(engine, tmp_asset, monkeypatch):
    """The other run creates the folder (and its parent) after this run's look-ups and
    before its creation: Earth Engine refuses the creation, and the folder is taken."""
    folder = tmp_asset("root") + "/tables"
    real = ee.data.createAsset
    raced = []

    def other_run_first(value, path=None, *args, **kwargs):
        if not raced:
            raced.append(path)
            real(value, path, *args, **kwargs)  # the other run's creation
        return real(value, path, *args, **kwargs)  # this run's: refused

    monkeypatch.setattr(ee.data, "createAsset", other_run_first)
    assets.ensure_folder(folder)
    assert raced  # the race happened (on the parent, created first)
    assert ee.data.getAsset(folder)["type"] == "FOLDER"
    assert ee.data.getAsset(folder.rsplit("/", 1)[0])["type"] == "FOLDER"


def test_other_failures_and_an_asset_of_another_type_are_errors(engine, tmp_asset, monkeypatch):
    image = tmp_asset("img")
    ee.data.create_assets([image], "IMAGE_COLLECTION", True)
    with pytest.raises(ExportError, match="an asset of type IMAGE_COLLECTION has that id"):
        assets.ensure_folder(image)

    def refused(ids, kind, parents):
        raise ee.EEException("Permission denied.")

    monkeypatch.setattr(ee.data, "create_assets", refused)
    with pytest.raises(ExportError, match="Cannot create the asset folder .*Permission denied"):
        assets.ensure_folder(tmp_asset("other"))


def test_a_collection_made_meanwhile_by_another_run_is_taken(engine, tmp_asset, monkeypatch):
    collection = tmp_asset("root") + "/pcs"
    real = ee.data.createAsset
    raced = []

    def other_run_first(value, path=None, *args, **kwargs):
        if not raced and value.get("type") == "IMAGE_COLLECTION":
            raced.append(path)
            real(value, path, *args, **kwargs)
        return real(value, path, *args, **kwargs)

    monkeypatch.setattr(ee.data, "createAsset", other_run_first)
    assets.create_collection(collection, {"gee_cscc_run_hash": "abc"})
    assert raced
    info = ee.data.getAsset(collection)
    assert info["type"] == "IMAGE_COLLECTION"
    assert info["properties"]["gee_cscc_run_hash"] == "abc"


class _FailedTask:
    """A task that Earth Engine failed because its asset appeared meanwhile."""

    id = "T1"
    name = None

    def status(self):
        return {
            "id": self.id,
            "state": "FAILED",
            "description": "cscc_x_result",
            "error_message": "Cannot overwrite asset 'x'.",
        }


@pytest.mark.parametrize(("asset_hash", "counts"), [("abc", True), ("other", False)])
def test_a_task_that_lost_the_race_to_its_twin_counts_as_completed(
    engine, tmp_asset, tmp_path, asset_hash, counts
):
    """Two runs of one configuration at once export the same asset; the later task fails
    with "Cannot overwrite asset". When the asset holds this run's hash it is what this
    task would have written: completed. An asset of another run is still a failure."""
    from gee_cscc.cloud.tasks import RUN_HASH_PROPERTY, TaskManifest, wait_for_tasks

    target = tmp_asset("result")
    assets.create_collection(target, {RUN_HASH_PROPERTY: asset_hash})
    manifest = TaskManifest(tmp_path / "export_tasks.json")
    manifest.run_hash = "abc"
    task = _FailedTask()
    manifest.record(f"asset:{target}", task, destination="asset", description="cscc_x_result")

    def wait():
        return wait_for_tasks([task], poll_seconds=0, progress=lambda s: None, manifest=manifest)

    if counts:
        assert [s["state"] for s in wait()] == ["COMPLETED"]
        assert manifest.get(f"asset:{target}")["state"] == "COMPLETED"
    else:
        with pytest.raises(ExportError, match="Cannot overwrite asset"):
            wait()
