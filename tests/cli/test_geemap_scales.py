"""geemap's ``zonal_stats`` and ``ee_export_image`` at a scale other than the image's own.

geemap (the ``notebooks`` extra) asks the local engine for a reduction or a download on a
grid 3× coarser than the stored image (1.5° cells on a 0.5° image). Earth Engine reads a
stored image at another scale by resampling it (nearest neighbour; a 20 × 20 image has no
pyramid level but its own), and a weighted reduction counts each coarse pixel by the fraction
of it inside the zone. The expected numbers are chosen so that they do not depend on where
the coarse grid's origin falls: each zone lies inside a block of one value that reaches at
least one coarse pixel beyond it, so its MEAN is that value and its SUM that value times the
zone's area in coarse pixels (2° × 2° / (1.5°)² = 16/9), computed here by hand.
Skipped without geemap.
"""

from __future__ import annotations

import csv

import ee
import numpy as np
import pytest

from gee_cscc.testing import image_of

ORIGIN = (100.0, 40.0)
STEP = 0.5
TRANSFORM = (STEP, 0.0, ORIGIN[0], 0.0, -STEP, ORIGIN[1])
#: 1.5° (3 pixels) in metres, Earth Engine's nominal scale of a degree.
COARSE_SCALE = 3 * STEP * 111319.49079327357

BLOCKS = np.ones((20, 20))
BLOCKS[0:8, 0:8] = 7.0  # around zone 1 (rows 2–5, columns 2–5): 2 pixels of margin
BLOCKS[8:20, 8:20] = 11.0  # around zone 2 (rows 10–15, columns 10–15)


@pytest.fixture
def blocks(engine, tmp_asset) -> ee.Image:
    asset = tmp_asset("blocks")
    engine.store.put_image(asset, image_of({"v": BLOCKS}, TRANSFORM))
    return ee.Image(asset)


def zones() -> ee.FeatureCollection:
    return ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Rectangle([101, 37, 103, 39], "EPSG:4326", False), {"zone": 1}),
            ee.Feature(ee.Geometry.Rectangle([105, 32, 108, 35], "EPSG:4326", False), {"zone": 2}),
        ]
    )


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return sorted(csv.DictReader(f), key=lambda r: int(r["zone"]))


def test_zonal_stats_at_a_coarser_scale(blocks, tmp_path):
    geemap = pytest.importorskip("geemap")
    out = tmp_path / "mean.csv"
    geemap.zonal_stats(blocks, zones(), str(out), stat_type="MEAN", scale=COARSE_SCALE)
    # One band: the column is the reducer's output, as on Earth Engine.
    assert [float(r["mean"]) for r in _rows(out)] == pytest.approx([7.0, 11.0], rel=1e-12)
    out = tmp_path / "sum.csv"
    geemap.zonal_stats(blocks, zones(), str(out), stat_type="SUM", scale=COARSE_SCALE)
    areas = [2.0 * 2.0 / 1.5**2, 3.0 * 3.0 / 1.5**2]  # zone area in coarse pixels
    want = [7.0 * areas[0], 11.0 * areas[1]]
    assert [float(r["sum"]) for r in _rows(out)] == pytest.approx(want, rel=1e-9)


def test_ee_export_image_at_a_coarser_scale(blocks, tmp_path):
    geemap = pytest.importorskip("geemap")
    rasterio = pytest.importorskip("rasterio")
    out = tmp_path / "coarse.tif"
    region = ee.Geometry.Rectangle([100, 37, 103, 40], "EPSG:4326", False)  # inside the 7 block
    geemap.ee_export_image(blocks, str(out), scale=COARSE_SCALE, region=region, verbose=False)
    with rasterio.open(out) as src:
        assert src.res == pytest.approx((1.5, 1.5), rel=1e-9)
        data = src.read(1, masked=True)
    assert data.count() > 0 and np.all(data.compressed() == 7.0)
