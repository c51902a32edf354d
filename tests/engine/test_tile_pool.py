"""Region reductions compute their tiles on every core, in tile order (``core/tile_pool``).

Checked: results come back in the items' order while several run at once; the first error
(in order) is raised and no task is left running; a nested call runs on its caller's thread
(no pool deadlock); the caller's context (the request) reaches every task; and through the
client, a multi-tile grouped reduction gives the NumPy sums, bit for bit the same with one
worker and with several.
"""

from __future__ import annotations

import contextvars
import threading
import time
import warnings

import ee
import numpy as np
import pytest

from gee_cscc.engine.core import tile_pool
from gee_cscc.engine.core.tile_pool import map_in_order
from gee_cscc.engine.raster import reduction
from gee_cscc.method.grid import GridSpec
from gee_cscc.testing import npp_cube


def test_results_in_order_while_tiles_overlap():
    live, peak, lock = [0], [0], threading.Lock()

    def work(i: int) -> int:
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(0.02 * ((7 * i) % 3))  # finish out of order
        with lock:
            live[0] -= 1
        return i * i

    assert list(map_in_order(work, range(12), workers=3)) == [i * i for i in range(12)]
    assert peak[0] > 1


def test_first_error_in_order_and_nothing_left_running():
    started, finished = [], []

    def work(i: int) -> int:
        started.append(i)
        if i == 3:
            time.sleep(0.05)
            raise ValueError("tile 3")
        if i == 5:
            raise KeyError("tile 5")  # later in order: not the one raised
        time.sleep(0.01)
        finished.append(i)
        return i

    got = []
    with pytest.raises(ValueError, match="tile 3"):
        for value in map_in_order(work, range(50), workers=2):
            got.append(value)
    assert got == [0, 1, 2]
    assert max(started) < 10  # a bounded number of tiles in flight, the rest never started
    count = len(finished)
    time.sleep(0.05)
    assert len(finished) == count  # nothing still computing after the error


def test_nested_calls_run_inline_and_context_reaches_tasks():
    var = contextvars.ContextVar("request", default=None)
    var.set("request-7")

    def inner(j: int) -> tuple:
        return (threading.current_thread().name, var.get(), j)

    def outer(i: int) -> list:
        me = threading.current_thread().name
        rows = list(map_in_order(inner, range(3), workers=2))
        assert all(name == me for name, _, _ in rows)  # nested: on the same thread
        return rows

    rows = list(map_in_order(outer, range(4), workers=2))
    assert [r[1] for row in rows for r in row] == ["request-7"] * 12
    assert [r[2] for row in rows for r in row] == [0, 1, 2] * 4


def test_parallel_grouped_sums_are_the_numpy_sums_bit_for_bit(engine, tmp_asset, monkeypatch):
    cube = npp_cube(range(2001, 2009), (45, 70), seed=11, pixel_size=0.1, gaps=0.05)
    values = np.asarray(cube.values, dtype=np.float64)
    h, w = values.shape[-2:]
    zones = (np.arange(w)[None, :] // 13 + 6 * (np.arange(h)[:, None] // 16)).astype(np.int32)
    asset = tmp_asset("npp")
    engine.store.put_collection(asset, cube)
    zone_asset = tmp_asset("zones")
    engine.store.put_image(zone_asset, cube.isel(year=0).copy(data=zones).rename("zone"))
    coll = ee.ImageCollection(asset)
    stack = coll.max().addBands(coll.mean()).rename(["mx", "mean"]).addBands(ee.Image(zone_asset))
    reducer = ee.Reducer.sum().repeat(2).group(groupField=2, groupName="zone")
    footprint = ee.Image(zone_asset).geometry()
    spec = GridSpec.from_dataarray(cube)
    args = {"crs": spec.crs, "crsTransform": list(spec.transform), "maxPixels": 1e9}
    monkeypatch.setattr(reduction, "TILE", 16)  # 5 x 3 tiles, partial ones at the edges
    got = {}
    for workers in (1, 3):
        monkeypatch.setattr(tile_pool, "TILE_WORKERS", workers)
        got[workers] = stack.reduceRegion(reducer, footprint, None, **args).getInfo()
    assert got[1] == got[3]  # the same accumulation order: identical to the last bit
    with warnings.catch_warnings():  # an all-missing series gives NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mx = np.nanmax(values, axis=0)
        mean = np.nanmean(values, axis=0)
    expected = [
        {
            "zone": int(z),
            "sum": [
                pytest.approx(float(np.nansum(mx[zones == z])), rel=1e-12),
                pytest.approx(float(np.nansum(mean[zones == z])), rel=1e-12),
            ],
        }
        for z in np.unique(zones)
    ]
    assert got[3] == {"groups": expected}


def test_cores_are_those_the_process_may_use(monkeypatch):
    """A process allowed 1 core of many (a container, ``taskset``) computes on 1, not on the
    machine's count; the count is capped at 4; the service's workers count the same way."""
    import os

    from gee_cscc.engine.service import server

    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert tile_pool.usable_cores() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert tile_pool.usable_cores() == 4
    assert tile_pool.usable_cores(cap=2) == 2
    monkeypatch.undo()
    assert server.WORKERS == tile_pool.TILE_WORKERS == tile_pool.usable_cores()
