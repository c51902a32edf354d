"""A full disk: the local engine checks free space before an export or an ingestion.

``shutil.disk_usage`` is replaced to report a nearly full disk (the check asks for the
uncompressed size plus 10 % and 16 MiB); the task fails with one message naming the
destination, and nothing is written.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections import namedtuple

import ee
import numpy as np
import pytest
import xarray as xr

DONE = ("COMPLETED", "FAILED", "CANCELLED")
Usage = namedtuple("Usage", "total used free")


def _wait(task, timeout: float = 30.0) -> dict:
    end = time.monotonic() + timeout
    while True:
        status = task.status()
        if status["state"] in DONE:
            return status
        assert time.monotonic() < end, status
        time.sleep(0.05)


@pytest.fixture
def stored(engine, tmp_asset):
    values = np.arange(12, dtype=np.float64).reshape(3, 4)
    da = xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"y": [42.5, 41.5, 40.5], "x": [10.5, 11.5, 12.5, 13.5]},
        attrs={"crs": "EPSG:4326"},
    )
    asset = tmp_asset("src")
    engine.store.put_image(asset, da)
    return ee.Image(asset)


@pytest.fixture
def full_disk(monkeypatch):
    """Every filesystem reports 1 MB free."""
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**12, 10**12, 10**6))


def test_an_export_to_drive_on_a_full_disk_fails_with_one_message(engine, stored, full_disk):
    folder = f"full-{uuid.uuid4().hex[:8]}"
    task = ee.batch.Export.image.toDrive(stored, description="full", folder=folder)
    task.start()
    status = _wait(task)
    assert status["state"] == "FAILED"
    # 12 px x 8 bytes = 96 B; with the margin: 96 * 1.1 + 16 MiB = 16,777,322 B.
    message = status["error_message"]
    head = (
        "Not enough disk space to write 'full.tif': it needs about 16.8 MB and 1.0 MB are free in "
    )
    assert message.startswith(head) and message.endswith(". Free some space and try again.")
    where = message[len(head) : -len(". Free some space and try again.")]
    assert str(engine.store.root) in where  # the folder (or its nearest existing parent)
    assert not (engine.store.root / "drive" / folder).exists() or not list(
        (engine.store.root / "drive" / folder).iterdir()
    )


def test_an_export_to_an_asset_on_a_full_disk_fails_and_stores_nothing(
    engine, stored, tmp_asset, full_disk
):
    out = tmp_asset("out")
    task = ee.batch.Export.image.toAsset(stored, description="full_asset", assetId=out)
    task.start()
    status = _wait(task)
    assert status["state"] == "FAILED"
    assert status["error_message"].startswith(f"Not enough disk space to write '{out}'")
    assert not engine.store.exists(out)


def test_a_table_export_on_a_full_disk_fails(engine, full_disk):
    folder = f"full-{uuid.uuid4().hex[:8]}"
    fc = ee.FeatureCollection([ee.Feature(None, {"a": 1})])
    task = ee.batch.Export.table.toDrive(fc, description="t", folder=folder, fileFormat="CSV")
    task.start()
    status = _wait(task)
    assert status["state"] == "FAILED"
    assert status["error_message"].startswith("Not enough disk space to write 't.csv'")


def test_with_room_the_same_export_completes(engine, stored):
    folder = f"room-{uuid.uuid4().hex[:8]}"
    task = ee.batch.Export.image.toDrive(stored, description="room", folder=folder)
    task.start()
    assert _wait(task)["state"] == "COMPLETED"
    assert (engine.store.root / "drive" / folder / "room.tif").is_file()
