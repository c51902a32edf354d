"""Stored GeoTIFFs kept open between reads (engine.store.raster_io.open_band_file).

A run reads every year of its input once per tile and request; opening the file each time
cost as much as decompressing the tile. The handles must never serve stale pixels (an asset
replaced by rename), never be shared by two threads at once, and stay bounded.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from gee_cscc.engine.raster.grid import Projection
from gee_cscc.engine.store import raster_io
from gee_cscc.engine.store.raster_io import GeoTiffBandReader

TRANSFORM = (0.5, 0.0, 100.0, 0.0, -0.5, 40.0)


def _write(path, data, nodata=None):
    import rasterio
    from rasterio.transform import Affine

    profile = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": str(data.dtype),
        "crs": "EPSG:4326",
        "transform": Affine(*TRANSFORM),
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def _reader(path, shape):
    return GeoTiffBandReader(path, 1, Projection("EPSG:4326", TRANSFORM), shape)


@pytest.fixture
def fresh_pool(monkeypatch):
    pool = raster_io._OpenFiles()
    monkeypatch.setattr(raster_io, "open_band_file", pool.borrow)
    monkeypatch.setattr(raster_io, "BAND_CACHE", raster_io.BandCache(max_band_bytes=0))
    return pool


def test_an_asset_replaced_by_rename_is_read_anew(tmp_path, fresh_pool):
    path = tmp_path / "data.tif"
    _write(path, np.full((4, 5), 1.0, np.float32))
    reader = _reader(path, (4, 5))
    assert reader.read(0, 0, 4, 5)[0].tolist() == np.full((4, 5), 1.0).tolist()
    (old,) = fresh_pool._idle.values()
    _write(tmp_path / "new.tif", np.full((4, 5), 2.0, np.float32))
    os.replace(tmp_path / "new.tif", path)  # how the store replaces an asset
    assert reader.read(0, 0, 4, 5)[0].tolist() == np.full((4, 5), 2.0).tolist()
    assert old.closed and len(fresh_pool._idle) == 1  # the replaced file is let go


def test_without_idle_handles_every_file_is_closed_after_its_read(
    tmp_path, fresh_pool, monkeypatch
):
    monkeypatch.setattr(raster_io, "IDLE_HANDLES", 0)  # Windows: an open file cannot be replaced
    path = tmp_path / "data.tif"
    _write(path, np.ones((2, 2), np.float32))
    with fresh_pool.borrow(path) as src:
        assert not src.closed
    assert src.closed and not fresh_pool._idle


def test_a_deleted_asset_is_an_error_not_its_old_pixels(tmp_path, fresh_pool):
    path = tmp_path / "data.tif"
    _write(path, np.ones((4, 5), np.float32))
    reader = _reader(path, (4, 5))
    reader.read(0, 0, 2, 2)
    path.unlink()
    from rasterio.errors import RasterioIOError

    with pytest.raises((FileNotFoundError, RasterioIOError)):
        reader.read(0, 0, 2, 2)


def test_two_threads_never_read_through_one_handle(tmp_path, fresh_pool, monkeypatch):
    path = tmp_path / "data.tif"
    data = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    _write(path, data)
    in_use: set[int] = set()
    clash = []
    lock = threading.Lock()
    borrow = fresh_pool.borrow

    import contextlib
    import time

    @contextlib.contextmanager
    def watched(p):
        with borrow(p) as src:
            with lock:
                if id(src) in in_use:
                    clash.append(id(src))
                in_use.add(id(src))
            time.sleep(0.002)  # hold it while the other thread borrows
            try:
                yield src
            finally:
                with lock:
                    in_use.discard(id(src))

    monkeypatch.setattr(raster_io, "open_band_file", watched)
    reader = _reader(path, (64, 64))
    errors = []

    def work(row):
        try:
            for _ in range(30):
                values, _ = reader.read(row, 0, 8, 64)
                np.testing.assert_array_equal(values, data[row : row + 8].astype(np.float64))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(r,)) for r in (0, 8, 16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and not clash
    assert 1 <= len(fresh_pool._idle) <= 3  # a handle per concurrent reader, kept


def test_idle_handles_are_bounded_and_the_evicted_closed(tmp_path, fresh_pool, monkeypatch):
    monkeypatch.setattr(raster_io, "IDLE_HANDLES", 3)
    opened = []
    for i in range(5):
        path = tmp_path / f"y{i}.tif"
        _write(path, np.full((2, 2), float(i), np.float32))
        with fresh_pool.borrow(path) as src:
            opened.append(src)
    assert len(fresh_pool._idle) == 3
    assert [s.closed for s in opened] == [True, True, False, False, False]


def test_no_data_is_nan_and_the_nodata_value_and_inf_is_a_value(tmp_path, fresh_pool):
    floats = np.array([[1.5, np.nan, -9999.0], [np.inf, -np.inf, 0.0]], np.float32)
    _write(tmp_path / "f.tif", floats, nodata=-9999.0)
    values, mask = _reader(tmp_path / "f.tif", (2, 3)).read(0, 0, 2, 3)
    assert mask.tolist() == [[True, False, False], [True, True, True]]
    assert values.tolist() == [[1.5, 0.0, 0.0], [np.inf, -np.inf, 0.0]]
    assert values.dtype == np.float64

    ints = np.array([[3, 255], [0, 7]], np.uint8)
    _write(tmp_path / "i.tif", ints, nodata=255)
    values, mask = _reader(tmp_path / "i.tif", (2, 2)).read(0, 0, 2, 2)
    assert mask.tolist() == [[True, False], [True, True]]
    assert values.tolist() == [[3.0, 0.0], [0.0, 7.0]]

    _write(tmp_path / "all.tif", ints)  # no nodata: every cell valid, one True broadcast
    values, mask = _reader(tmp_path / "all.tif", (2, 2)).read(0, 0, 2, 2)
    assert mask.strides == (0, 0) and bool(mask.flat[0])
    assert values.tolist() == [[3.0, 255.0], [0.0, 7.0]]
