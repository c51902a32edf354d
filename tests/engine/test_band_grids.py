"""Bands with their own grids inside one image (per-band projection), through the ``ee`` client.

A Sentinel-2-like image: bands ``B2``/``B3`` on a 10 m grid and ``B11`` on a 30 m grid with
the same corner, stored as one asset (``store.put_image_grids``), built with ``addBands`` /
``ee.Image.cat``, or ingested from two GeoTIFF tilesets. Expected values are worked by hand:
a 10 m pixel ``(r, c)`` lies in 30 m pixel ``(r // 3, c // 3)``; the centre of 30 m pixel
``(r, c)`` lies in 10 m pixel ``(3r + 1, 3c + 1)``.
"""

from __future__ import annotations

import time
import uuid

import ee
import numpy as np
import pytest
import rasterio
from affine import Affine

from gee_cscc.testing import assert_pixels_equal, compute_pixels, grid, image_of

CRS = "EPSG:32633"
X0, Y0 = 500_000.0, 4_600_000.0
T10 = (10.0, 0.0, X0, 0.0, -10.0, Y0)
T30 = (30.0, 0.0, X0, 0.0, -30.0, Y0)
B2 = np.arange(36.0).reshape(6, 6)
B3 = 100.0 + B2
B11 = np.array([[1000.0, 2000.0], [3000.0, np.nan]])
FOLDER = "t/test_band_grids"
MIXED = (
    "Image.projection: The bands of the specified image contains different projections. "
    "Use Image.select to pick a single band."
)


def asset(name: str) -> str:
    return f"projects/local-project/assets/{FOLDER}/{name}"


@pytest.fixture(scope="module", autouse=True)
def assets(engine) -> None:
    ten = image_of({"B2": B2, "B3": B3}, T10, crs=CRS)
    thirty = image_of(B11, T30, crs=CRS, name="B11")
    engine.store.put_image_grids(engine.asset_id(f"{FOLDER}/s2"), [ten, thirty], {"k": 1})
    engine.store.put_image(engine.asset_id(f"{FOLDER}/b11"), thirty)
    engine.store.put_image(engine.asset_id(f"{FOLDER}/ten"), ten)


def coarse(a: np.ndarray) -> np.ndarray:
    """A 30 m band on the 10 m grid (each value 3 x 3 times)."""
    return np.repeat(np.repeat(a, 3, axis=0), 3, axis=1)


def test_stored_image_reports_each_bands_grid(engine):
    img = ee.Image(asset("s2"))
    bands = {b["id"]: b for b in img.getInfo()["bands"]}
    assert bands["B2"]["crs_transform"] == list(T10) and bands["B2"]["dimensions"] == [6, 6]
    assert bands["B11"]["crs_transform"] == list(T30) and bands["B11"]["dimensions"] == [2, 2]
    assert all(b["crs"] == CRS for b in bands.values())
    rest = {b["id"]: b["grid"] for b in ee.data.getAsset(asset("s2"))["bands"]}
    assert rest["B11"]["affineTransform"]["scaleX"] == 30.0
    assert rest["B2"]["dimensions"] == {"width": 6, "height": 6}
    assert img.get("k").getInfo() == 1
    assert img.bandTypes().getInfo()["B11"]["precision"] == "double"


@pytest.mark.parametrize(
    "build",
    [
        lambda: ee.Image(asset("s2")),
        lambda: ee.Image(asset("ten")).addBands(ee.Image(asset("b11"))),
        lambda: ee.Image.cat([ee.Image(asset("ten")), ee.Image(asset("b11"))]),
    ],
    ids=["stored", "addBands", "cat"],
)
def test_projection_of_a_mixed_image_is_earth_engines_error(engine, build):
    img = build()
    with pytest.raises(ee.EEException) as err:
        img.projection().getInfo()
    assert str(err.value) == MIXED
    assert img.select("B11").projection().getInfo()["transform"] == list(T30)
    assert img.select(["B2", "B3"]).projection().getInfo()["transform"] == list(T10)
    assert img.select("B11").projection().nominalScale().getInfo() == 30.0


def test_band_math_across_grids_runs_on_the_requested_grid(engine):
    img = ee.Image(asset("s2"))
    total = img.select("B2").add(img.select("B11"))
    # On the 10 m grid: each 10 m pixel adds the 30 m pixel it lies in.
    px10 = compute_pixels(total, grid(T10, (6, 6), crs=CRS))["B2"]
    assert_pixels_equal(px10, B2 + coarse(B11))
    # On the 30 m grid: each 30 m pixel adds the 10 m pixel under its centre.
    px30 = compute_pixels(total, grid(T30, (2, 2), crs=CRS))["B2"]
    assert_pixels_equal(px30, B2[1::3, 1::3] + B11)
    # The output keeps the first input's projection.
    assert total.projection().getInfo()["transform"] == list(T10)


def test_computing_a_mixed_image_resamples_each_band_onto_the_grid(engine):
    img = ee.Image.cat([ee.Image(asset("ten")), ee.Image(asset("b11"))])
    px = compute_pixels(img, grid(T10, (6, 6), crs=CRS))
    assert_pixels_equal(px["B3"], B3)
    assert_pixels_equal(px["B11"], coarse(B11))


def test_region_reduction_of_a_mixed_image_uses_the_first_bands_projection(engine):
    img = ee.Image(asset("s2"))
    region = ee.Geometry.Rectangle([X0, Y0 - 60, X0 + 60, Y0], CRS, False)
    got = img.reduceRegion(ee.Reducer.sum(), region).getInfo()
    assert got == {
        "B2": pytest.approx(B2.sum()),
        "B3": pytest.approx(B3.sum()),
        "B11": pytest.approx(np.nansum(coarse(B11))),
    }
    at30 = img.reduceRegion(ee.Reducer.sum(), region, scale=30).getInfo()
    assert at30["B2"] == pytest.approx(B2[1::3, 1::3].sum())
    assert at30["B11"] == pytest.approx(np.nansum(B11))


def test_exporting_a_mixed_image_writes_every_band_on_the_first_bands_grid(engine):
    folder = f"t{uuid.uuid4().hex[:10]}"
    task = ee.batch.Export.image.toDrive(
        ee.Image(asset("s2")).select(["B11", "B2"]),
        description="mixed",
        folder=folder,
        fileNamePrefix="m",
        formatOptions={"noData": -1, "cloudOptimized": False},
    )
    task.start()
    end = time.monotonic() + 30
    while task.status()["state"] not in ("COMPLETED", "FAILED"):
        assert time.monotonic() < end
        time.sleep(0.05)
    assert task.status()["state"] == "COMPLETED", task.status().get("error_message")
    with rasterio.open(engine.store.root / "drive" / folder / "m.tif") as src:
        assert src.transform == Affine(*T30)
        np.testing.assert_array_equal(src.read(1), np.where(np.isnan(B11), -1, B11))
        np.testing.assert_array_equal(src.read(2), B2[1::3, 1::3])


def _write_tif(path, values: np.ndarray, transform) -> None:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=values.shape[-2],
        width=values.shape[-1],
        count=values.shape[0],
        dtype="float32",
        crs=CRS,
        transform=Affine(*transform),
        nodata=np.nan,
    ) as dst:
        dst.write(values.astype("float32"))


def test_ingesting_tilesets_on_different_grids_keeps_each_grid(engine, tmp_asset):
    bucket = f"b{uuid.uuid4().hex[:8]}"
    folder = engine.store.root / "gcs" / bucket
    folder.mkdir(parents=True)
    _write_tif(folder / "ten.tif", np.stack([B2, B3]), T10)
    _write_tif(folder / "thirty.tif", B11[None], T30)
    asset_id = tmp_asset("ingested")
    manifest = {
        "name": asset_id,
        "tilesets": [
            {"id": "ten", "sources": [{"uris": [f"gs://{bucket}/ten.tif"]}]},
            {"id": "thirty", "sources": [{"uris": [f"gs://{bucket}/thirty.tif"]}]},
        ],
        "bands": [
            {"id": "B2", "tilesetId": "ten", "tilesetBandIndex": 0},
            {"id": "B3", "tilesetId": "ten", "tilesetBandIndex": 1},
            {"id": "B11", "tilesetId": "thirty", "tilesetBandIndex": 0},
        ],
    }
    task = ee.data.startIngestion(ee.data.newTaskId()[0], manifest)
    end = time.monotonic() + 30
    while True:
        status = ee.data.getTaskStatus(task["id"])[0]
        if status["state"] in ("COMPLETED", "FAILED"):
            break
        assert time.monotonic() < end
        time.sleep(0.05)
    assert status["state"] == "COMPLETED", status.get("error_message")
    img = ee.Image(asset_id)
    bands = {b["id"]: b for b in img.getInfo()["bands"]}
    assert bands["B11"]["crs_transform"] == list(T30)
    assert bands["B3"]["crs_transform"] == list(T10)
    assert_pixels_equal(compute_pixels(img.select("B11"), grid(T30, (2, 2), crs=CRS))["B11"], B11)
    assert_pixels_equal(compute_pixels(img.select("B3"), grid(T10, (6, 6), crs=CRS))["B3"], B3)
