"""The pull streams by bands of rows (workflow.pull.open_layers / pull_tiles / layer_stack).

xee joins the tiles of a whole load with ``np.block``, holding the result twice; the pull
loads one band of rows at a time into one array instead. Checked here: the bands cover
every row once, in order, with the values a plain NumPy computation gives; the traced
memory of a pull stays well below two copies of its result; ``layer_stack`` of layers
pulled side by side is a view, not a copy.
"""

from __future__ import annotations

import tracemalloc

import ee
import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from gee_cscc.method.grid import GridSpec
from gee_cscc.testing import npp_cube
from gee_cscc.workflow.pull import layer_stack, open_layers, pull_tiles


def _layers(n: int) -> dict:
    lon = ee.Image.pixelLonLat().select("longitude")
    return {f"l{i}": lon.add(i) for i in range(n)}


def _expected_lon(grid: GridSpec) -> np.ndarray:
    x, _ = grid.cell_centres()
    return np.asarray(x, dtype=np.float64)


def test_bands_cover_every_row_once_with_numpy_values(engine):
    cube = npp_cube(range(2001, 2003), shape=(60, 40), pixel_size=0.1)
    grid = GridSpec.from_dataarray(cube)
    seen = []

    import gee_cscc.workflow.pull as pull

    real = pull.pull_tiles

    def spying(variable, on_tile=None, **kwargs):
        assert "on_rows" not in kwargs
        return real(variable, on_tile, on_rows=lambda y0, y1, b: seen.append((y0, y1, b.shape)))

    pull.pull_tiles = spying
    try:
        pulled = open_layers(_layers(3), grid, request_bytes=4096)
    finally:
        pull.pull_tiles = real
    assert len(seen) > 1  # small requests: several bands
    assert seen[0][0] == 0 and seen[-1][1] == 60
    assert all(a[1] == b[0] for a, b in zip(seen, seen[1:], strict=False))  # no gap, no overlap
    assert all(shape == (3, y1 - y0, 40) for y0, y1, shape in seen)
    lon = _expected_lon(grid).astype(np.float32)
    for i in range(3):
        want = np.broadcast_to((lon.astype(np.float64) + i).astype(np.float32), (60, 40))
        np.testing.assert_allclose(pulled[f"l{i}"].values, want, rtol=1e-6)


class _Tiled(BackendArray):
    """A lazily read ``(layer, y, x)`` float32 array served like xee serves a region: one
    fresh array per 16 x 16 tile, joined with ``np.block`` (value ``1000 l + y + x/1000``)."""

    def __init__(self, shape: tuple[int, int, int]):
        self.shape = shape
        self.dtype = np.dtype("float32")

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._raw
        )

    def _raw(self, key):
        spans = [
            k.indices(n)[:2] if isinstance(k, slice) else (k, k + 1)
            for k, n in zip(key, self.shape, strict=True)
        ]
        (l0, l1), (y0, y1), (x0, x1) = spans
        tiles = [
            [
                np.fromfunction(
                    lambda ll, yy, xx, a=a, b=b: 1000 * (ll + l0) + (yy + a) + (xx + b) / 1000,
                    (l1 - l0, min(16, y1 - a), min(16, x1 - b)),
                    dtype=np.float32,
                )
                for b in range(x0, x1, 16)
            ]
            for a in range(y0, y1, 16)
        ]
        out = np.block([tiles])
        return out[tuple(0 if not isinstance(k, slice) else slice(None) for k in key)]


def _lazy(shape: tuple[int, int, int]) -> xr.DataArray:
    var = xr.Variable(("layer", "y", "x"), indexing.LazilyIndexedArray(_Tiled(shape)))
    da = xr.DataArray(var)
    da.encoding["preferred_chunks"] = {"layer": shape[0], "y": 16, "x": 64}
    return da


def test_a_pull_does_not_hold_its_result_twice():
    shape = (6, 512, 256)
    lazy = _lazy(shape)
    result = 6 * 512 * 256 * 4
    bands = []
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        loaded = pull_tiles(lazy, on_rows=lambda y0, y1, b: bands.append((y0, y1)))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # A whole load keeps every tile and then np.block's copy: 2x the result.
    assert peak < 1.3 * result, peak / result
    assert bands == [(y, y + 16) for y in range(0, 512, 16)]
    ll, yy, xx = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    want = (1000 * ll + yy + xx / 1000).astype(np.float32)
    np.testing.assert_allclose(loaded.values, want, rtol=1e-6)
    assert loaded.dtype == np.float32


def test_pull_tiles_without_rows_loads_whole(engine):
    cube = npp_cube(range(2001, 2003), shape=(20, 30), pixel_size=0.1)
    grid = GridSpec.from_dataarray(cube)
    pulled = open_layers(_layers(2), grid)
    assert pulled["l1"].shape == (20, 30)
    assert callable(pull_tiles)


def test_layer_stack_is_a_view_of_layers_pulled_side_by_side(engine):
    cube = npp_cube(range(2001, 2003), shape=(16, 24), pixel_size=0.1)
    grid = GridSpec.from_dataarray(cube)
    pulled = open_layers(_layers(5), grid)
    stacked = layer_stack(pulled, ["l1", "l2", "l3"], "year", [2001, 2002, 2003])
    assert stacked.dims == ("year", "y", "x") and list(stacked["year"].values) == [2001, 2002, 2003]
    for k, name in enumerate(["l1", "l2", "l3"]):
        assert np.shares_memory(stacked.values[k], pulled[name].values)
        np.testing.assert_array_equal(stacked.values[k], pulled[name].values)
    # out of order: a copy, same values
    other = layer_stack(pulled, ["l3", "l0"], "year", [1, 2])
    assert not np.shares_memory(other.values, pulled["l3"].values)
    np.testing.assert_array_equal(other.values[0], pulled["l3"].values)
    np.testing.assert_array_equal(other.values[1], pulled["l0"].values)
