"""Copies of a reducer reduced side by side (``reducer/copies.py``) and the grouped split.

``sum().repeat(n)``, ``forEach`` over many bands and ``group`` are how the region sums and
the input checks run. The side-by-side path must give exactly what one accumulator per
copy would: each expected value here is NumPy's own pairwise sum of that copy's column (a
contiguous 1-D array), compared bit for bit, or a count/min/max, exact.
"""

from __future__ import annotations

import ee
import numpy as np
import xarray as xr

from gee_cscc.engine.algorithms.reducer import copies, kernels
from gee_cscc.engine.algorithms.reducer.tree import Group, Primitive, Repeat
from gee_cscc.engine.core.records import Batch
from gee_cscc.engine.raster import reduction

N_BANDS = 45  # side-by-side chunks of several sizes


def _sum() -> Primitive:
    return Primitive("Reducer.sum", kernels.Moments, outputs=["sum"], params={"stat": "sum"})


def _region_batch(values: np.ndarray, ok: np.ndarray) -> Batch:
    """``values``/``ok`` are ``(N, bands)``: one ``(N, 1)`` input per band, as a region tile."""
    n = values.shape[0]
    return Batch(
        [values[:, [i]] for i in range(values.shape[1])],
        [ok[:, [i]] for i in range(values.shape[1])],
        np.ones((n, 1)),
        np.ones((n, 1), dtype=bool),
        np.arange(n, dtype=np.int64),
    )


def test_repeat_sums_are_numpys_pairwise_sums_bit_for_bit():
    assert copies.WIDE_RECORDS == 1 << 16
    rng = np.random.default_rng(11)
    n = 5003
    values = rng.standard_normal((n, N_BANDS)) * 1e3
    ok = rng.random((n, N_BANDS)) > 0.2
    acc = Repeat(_sum(), N_BANDS).accumulator(1, "region")
    acc.add(_region_batch(values, ok))
    # side by side: 65,536 // 5003 = 13 copies a chunk, the last one partial
    assert [m for _, _, m in acc.copies.chunks] == [13, 13, 13, 6]
    (got,) = acc.result()
    expected = [float(np.where(ok[:, i], values[:, i], 0.0).sum()) for i in range(N_BANDS)]
    assert got == [expected]  # exact: the same pairwise summation per column


def test_grouped_repeat_sums_keep_each_groups_records_in_order():
    rng = np.random.default_rng(5)
    n = 4000
    values = rng.standard_normal((n, N_BANDS)) * 100
    ok = rng.random((n, N_BANDS)) > 0.1
    zone = rng.integers(0, 7, n).astype(float)
    zone[:10] = 3.0  # first appearance order differs from sorted order
    batch = _region_batch(values, ok)
    batch.x.append(zone[:, None])
    batch.valid.append(np.ones((n, 1), dtype=bool))
    acc = Group(Repeat(_sum(), N_BANDS), N_BANDS, "zone").accumulator(1, "region")
    acc.add(batch)
    ((groups,),) = acc.result()
    assert [g["zone"] for g in groups] == list(range(7))
    for g in groups:
        sel = zone == g["zone"]
        expected = [float(np.where(ok[sel, i], values[sel, i], 0.0).sum()) for i in range(N_BANDS)]
        assert g["sum"] == expected


def test_count_sum_minmax_over_many_bands_in_a_tiled_region(engine, monkeypatch):
    """The input checks' reducer (forEach of a combined reducer) over several tiles."""
    monkeypatch.setattr(reduction, "TILE", 4)  # 9 x 11 pixels in 9 tiles, some partial
    h, w = 9, 11
    rng = np.random.default_rng(2)
    cube = rng.integers(-50, 50, size=(N_BANDS, h, w)).astype(float)
    cube[rng.random((N_BANDS, h, w)) < 0.2] = np.nan  # masked pixels
    names = [f"b{i}" for i in range(N_BANDS)]
    coords = {
        "band": names,
        "y": 40.0 - 0.5 - np.arange(h),
        "x": 20.0 + 0.5 + np.arange(w),
    }
    data = xr.DataArray(cube, dims=("band", "y", "x"), coords=coords)
    engine.store.put_image(engine.asset_id("t/test_reducer_copies/cube"), data)
    image = ee.Image("projects/local-project/assets/t/test_reducer_copies/cube")
    reducer = (
        ee.Reducer.count()
        .combine(ee.Reducer.sum(), sharedInputs=True)
        .combine(ee.Reducer.minMax(), sharedInputs=True)
        .unweighted()
    )
    got = image.reduceRegion(reducer).getInfo()
    assert len(got) == 4 * N_BANDS
    for i, name in enumerate(names):
        valid = cube[i][~np.isnan(cube[i])]
        assert got[f"{name}_count"] == valid.size
        assert got[f"{name}_sum"] == valid.sum()  # integers: exact in any order
        assert got[f"{name}_min"] == valid.min()
        assert got[f"{name}_max"] == valid.max()
