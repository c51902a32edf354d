"""The grid an image export writes, read back with rasterio and checked against hand-worked values.

Earth Engine writes exports north up, and an export with a ``region`` covers the region's
whole bounding window in the output projection (pixels outside the image: masked, written as
``noData``), whatever the image's own footprint.
"""

from __future__ import annotations

import math
import time
import uuid

import ee
import numpy as np
import pytest
import rasterio
from affine import Affine

from gee_cscc.testing import image_of

NAN = np.nan
A = np.array(
    [
        [1.0, 2.0, 3.0, 4.0, NAN],
        [6.0, 7.0, 8.0, 9.0, 10.0],
        [11.0, NAN, 13.0, 14.0, 15.0],
        [16.0, 17.0, 18.0, 19.0, 20.0],
    ]
)
TRANSFORM = (1.0, 0.0, 10.0, 0.0, -1.0, 50.0)  # 1-degree pixels, north-west corner (10, 50)
ONE_DEGREE_M = 2 * math.pi * 6378137.0 / 360.0


@pytest.fixture
def stored(engine, tmp_asset):
    asset_id = tmp_asset("a")
    engine.store.put_image(asset_id, image_of(A, TRANSFORM, name="a"))
    return ee.Image(asset_id)


def export(engine, image, **params):
    """Run a Drive export; the GeoTIFF's (band 1, transform, nodata)."""
    folder = f"t{uuid.uuid4().hex[:10]}"
    task = ee.batch.Export.image.toDrive(
        image, description="grid", folder=folder, fileNamePrefix="g", **params
    )
    task.start()
    end = time.monotonic() + 30
    while task.status()["state"] not in ("COMPLETED", "FAILED", "CANCELLED"):
        assert time.monotonic() < end, "export did not finish"
        time.sleep(0.05)
    status = task.status()
    assert status["state"] == "COMPLETED", status.get("error_message")
    with rasterio.open(engine.store.root / "drive" / folder / "g.tif") as src:
        return src.read(1), src.transform, src.nodata


def test_computed_image_with_region_and_scale_is_written_north_up(engine, stored):
    # A composite has no projection: at 1 degree in EPSG:4326, pixel (r, c) of the region
    # [10, 15] x [46, 50] is centred at (10.5 + c, 49.5 - r), i.e. on A[r, c].
    composite = ee.ImageCollection([stored]).mean()
    data, transform, _ = export(
        engine,
        composite,
        region=ee.Geometry.Rectangle([10, 46, 15, 50], None, False),
        scale=ONE_DEGREE_M,
        formatOptions={"noData": -9999, "cloudOptimized": False},
    )
    assert transform == Affine(1.0, 0.0, 10.0, 0.0, -1.0, 50.0)
    assert transform.e < 0  # north up
    np.testing.assert_array_equal(data, np.where(np.isnan(A), -9999, A))


def test_region_with_crs_transform_exports_the_whole_region(engine, stored):
    # Region [8, 17] x [44, 52] on the 1-degree lattice from (0, 0): 9 x 8 pixels from
    # (8, 52); the image covers rows 2..5 and columns 2..6 of it.
    data, transform, nodata = export(
        engine,
        stored,
        region=ee.Geometry.Rectangle([8, 44, 17, 52], None, False),
        crs="EPSG:4326",
        crsTransform=[1, 0, 0, 0, -1, 0],
        formatOptions={"noData": -9999, "cloudOptimized": False},
    )
    assert transform == Affine(1.0, 0.0, 8.0, 0.0, -1.0, 52.0)
    assert nodata == -9999
    want = np.full((8, 9), -9999.0)
    want[2:6, 2:7] = np.where(np.isnan(A), -9999, A)
    np.testing.assert_array_equal(data, want)


def test_region_with_a_finer_crs_transform_resamples_nearest(engine, stored):
    # Half-degree pixels over [9, 16] x [45, 51]: 14 x 12; pixel (r, c) is centred at
    # (9.25 + c/2, 50.75 - r/2), in A[floor(50 - y), floor(x - 10)] when inside.
    data, transform, _ = export(
        engine,
        stored,
        region=ee.Geometry.Rectangle([9, 45, 16, 51], None, False),
        crs="EPSG:4326",
        crsTransform=[0.5, 0, 0, 0, -0.5, 0],
        formatOptions={"noData": -9999, "cloudOptimized": False},
    )
    assert transform == Affine(0.5, 0.0, 9.0, 0.0, -0.5, 51.0)
    want = np.full((12, 14), -9999.0)
    for r in range(12):
        for c in range(14):
            x, y = 9.25 + c / 2, 50.75 - r / 2
            row, col = math.floor(50 - y), math.floor(x - 10)
            if 0 <= row < 4 and 0 <= col < 5 and not np.isnan(A[row, col]):
                want[r, c] = A[row, col]
    np.testing.assert_array_equal(data, want)
