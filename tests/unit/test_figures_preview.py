"""Maps are drawn from bounded previews: block means / centre cells vs plain NumPy, memory."""

from __future__ import annotations

import tracemalloc
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gee_cscc.config import Config
from gee_cscc.report import make_figures
from gee_cscc.report.map_preview import (
    PREVIEW_MAX_CELLS,
    MapGrid,
    block_mean,
    centre_cells,
    preview_step,
)


def _layer(values: np.ndarray, *, ascending_y: bool = False) -> xr.DataArray:
    ny, nx = values.shape
    y = 50.0 - 0.1 * np.arange(ny) - 0.05
    if ascending_y:
        y = y[::-1]
    x = 70.0 + 0.1 * np.arange(nx) + 0.05
    return xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x})


def _numpy_block_mean(values: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Independent: pad to whole blocks with NaN, reshape, nanmean (float64)."""
    ny, nx = values.shape
    py, px = -ny % k, -nx % k
    v = np.where(mask & np.isfinite(values), values.astype(float), np.nan)
    v = np.pad(v, ((0, py), (0, px)), constant_values=np.nan)
    blocks = v.reshape(v.shape[0] // k, k, v.shape[1] // k, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks: NaN
        return np.nanmean(blocks, axis=(1, 3))


@pytest.mark.parametrize("shape,k", [((12, 18), 3), ((13, 20), 3), ((7, 5), 2), ((9, 9), 1)])
def test_block_mean_equals_numpy_reshape_nanmean(shape, k):
    rng = np.random.default_rng(7)
    values = rng.normal(500, 100, shape)
    values[rng.random(shape) < 0.2] = np.nan
    values[:3, :3] = np.nan  # a whole block without data
    mask = rng.random(shape) < 0.8
    got = block_mean(_layer(values), k, _layer(mask.astype(np.float32)))
    want = _numpy_block_mean(values, mask, k)
    assert got.dtype == np.float32
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-6, atol=1e-3)


def test_block_mean_read_in_strips_matches_whole(monkeypatch):
    import gee_cscc.report.map_preview as mp

    rng = np.random.default_rng(3)
    values = rng.normal(0, 1, (40, 30))
    whole = block_mean(_layer(values), 4)
    monkeypatch.setattr(mp, "_STRIP_CELLS", 30 * 8)  # 8 rows a strip: 5 strips
    np.testing.assert_array_equal(block_mean(_layer(values), 4), whole)
    blocks = np.pad(values, ((0, 0), (0, 2)), constant_values=np.nan).reshape(10, 4, 8, 4)
    np.testing.assert_allclose(whole, np.nanmean(blocks, axis=(1, 3)), rtol=1e-5, atol=1e-6)


def test_centre_cells_are_real_cells_of_each_block():
    values = np.arange(11 * 7, dtype=float).reshape(11, 7)  # class-like integers
    got = centre_cells(_layer(values), 3)
    # blocks rows 0-2, 3-5, 6-8, 9-10 → centres 1, 4, 7, 10 (last block short: its last)
    rows, cols = [1, 4, 7, 10], [1, 4, 6]
    np.testing.assert_array_equal(got, values[np.ix_(rows, cols)])
    mask = np.ones_like(values)
    mask[4, 4] = 0
    masked = centre_cells(_layer(values), 3, _layer(mask))
    assert np.isnan(masked[1, 1]) and np.isfinite(masked).sum() == got.size - 1


def test_preview_step_bounds_the_cells():
    for ny, nx in [(712, 1232), (1424, 2464), (2848, 4928), (3500, 5000), (10, 10)]:
        k = preview_step(ny, nx)
        assert -(-ny // k) * -(-nx // k) <= PREVIEW_MAX_CELLS
        assert k == 1 or -(-ny // (k - 1)) * -(-nx // (k - 1)) > PREVIEW_MAX_CELLS
    assert preview_step(712, 1232) == 1  # 0.05° China: the grid's own cells
    assert preview_step(2848, 4928) == 3  # 0.0125°


def test_map_grid_north_up_and_image_extent():
    values = np.arange(5 * 7, dtype=float).reshape(5, 7)
    south_up = _layer(values[::-1], ascending_y=True)  # same map, rows south to north
    grid = MapGrid.of(south_up, max_cells=6)  # step 3: blocks of 3 x 3
    assert grid.step == 3 and grid.flip_y
    np.testing.assert_allclose(grid.extent, (70.0, 70.7, 49.5, 50.0))
    # two block rows from the south edge cover 0.6°, three block columns 0.9°
    np.testing.assert_allclose(grid.image_extent, (70.0, 70.9, 49.5, 50.1))
    north = MapGrid.of(_layer(values), max_cells=6)
    np.testing.assert_allclose(north.image_extent, (70.0, 70.9, 49.4, 50.0))
    # the first preview row is the northernmost cells in both orders
    np.testing.assert_array_equal(north.centre(_layer(values))[0], values[1, [1, 4, 6]])
    np.testing.assert_array_equal(grid.centre(south_up)[-1], values[[3, 0]][0, [1, 4, 6]])


def _big_results(ny: int, nx: int) -> SimpleNamespace:
    rng = np.random.default_rng(0)
    y = 54.0 - 0.0125 * (np.arange(ny) + 0.5)
    x = 73.0 + 0.0125 * (np.arange(nx) + 0.5)
    coords = {"y": y, "x": x}
    vca = (rng.random((ny, nx)) < 0.7).astype(np.float32)
    region = np.ones((ny, nx), np.float32)
    cscc = rng.normal(600, 80, (ny, nx)).astype(np.float32)
    tclass = rng.integers(-2, 3, (ny, nx)).astype(np.float32)
    rasters = xr.Dataset(
        {
            "vca": (("y", "x"), vca),
            "region": (("y", "x"), region),
            "cscc": (("y", "x"), cscc),
            "trend_class": (("y", "x"), tclass),
        },
        coords=coords,
    )
    return SimpleNamespace(
        rasters=rasters,
        config=Config(),
        trend_summary=pd.DataFrame(),
        yearly=None,
        summary={},
        maintenance_counts=None,
        resilience=None,
    )


def test_large_maps_render_within_a_memory_bound(tmp_path, monkeypatch):
    """Drawing needs the preview and one strip, never a copy of a whole layer.

    The preview is made small here (50,000 cells, strips of 200,000) so that what a
    whole-layer copy would cost (the layer's float32 bytes, twice that in float64) stands
    far above what the preview path needs.
    """
    import gee_cscc.report.map_preview as mp

    ny, nx = 2000, 3000  # 6 M cells, 24 MB a float32 layer
    results = _big_results(ny, nx)
    layer_bytes = ny * nx * 4
    make_figures(results, tmp_path / "warm", names=["cscc"], dpi=20)  # imports, font caches
    monkeypatch.setattr(mp, "PREVIEW_MAX_CELLS", 50_000)
    monkeypatch.setattr(mp, "_STRIP_CELLS", 200_000)
    tracemalloc.start()
    try:
        written = make_figures(results, tmp_path, names=["cscc", "trend_class"], dpi=30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert set(written) == {"cscc", "trend_class"}
    assert peak < 0.5 * layer_bytes, f"peak {peak / 2**20:.1f} MiB, layer {layer_bytes / 2**20:.0f}"
