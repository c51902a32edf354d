"""Per-pixel reductions of the same images share one stack per tile (``input_stack``).

``ImageCollection.reduce`` reads a stack of one row per image for each reducer input. The
reductions of the same images on one tile (a count, a mean, a variance, a max and a fit,
as METHOD's chain makes them) read one stack, an entry of the tile's pixel cache keyed
by the bands' pixel functions (``pixelcache.combined_key``) and released after its last
reader. A constant band (the centred year of a trend fit) stays a broadcast row. These
tests check the reductions against plain NumPy, count the stacks built per tile, and
check that a region tile without geometry gives the reducer one broadcast weight.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import gee_cscc.engine.algorithms  # noqa: F401  (registers the reducers)
from gee_cscc.engine.core import pixelcache
from gee_cscc.engine.core.pixelcache import (
    CombinedKey,
    cache_stats,
    combined_key,
    pixel_cache,
    release_plan,
    tile_scope,
)
from gee_cscc.engine.core.registry import call
from gee_cscc.engine.core.values import Band
from gee_cscc.engine.raster import reduction
from gee_cscc.engine.raster.grid import Grid, Projection

TILE = 64
GRID = Grid(Projection("EPSG:4326", (0.1, 0.0, 70.0, 0.0, -0.1, 50.0)), (150, 130))
YEARS = 9
CENTRE = (YEARS - 1) / 2


@pytest.fixture(autouse=True)
def small_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reduction, "TILE", TILE)
    monkeypatch.setattr(reduction, "WIDE", 1)  # square tiles: the counts below are per tile
    pixelcache.clear_plans()


def _rows_cols(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    _, _, c, _, _, f = grid.transform
    col0, row0 = round((c - 70.0) / 0.1), round((f - 50.0) / -0.1)
    return np.mgrid[row0 : row0 + grid.height, col0 : col0 + grid.width]


def _npp_value(t: int, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = 300.0 + 7.0 * t + 40.0 * np.sin(rows * 0.37 + t) + 0.5 * cols + ((rows * t) % 5)
    mask = (rows * 3 + cols * 5 + t) % 11 != 0
    return values, mask


def _npp(t: int) -> Band:
    def fn(grid: Grid):
        return _npp_value(t, *_rows_cols(grid))

    return Band("npp", fn)


def _year(t: int) -> Band:
    return Band("t", lambda grid: (np.float64(t - CENTRE), np.True_))  # one value: a broadcast


def _expected() -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0 : GRID.height, 0 : GRID.width]
    data = [_npp_value(t, rows, cols) for t in range(YEARS)]
    return np.stack([v for v, _ in data]), np.stack([m for _, m in data])


def _chain() -> list[Band]:
    """The reductions of METHOD's chain on one collection: count, mean, variance, max, fit."""
    npp = [_npp(t) for t in range(YEARS)]
    years = [_year(t) for t in range(YEARS)]
    out = []
    for name in ("count", "mean", "variance", "max"):
        reducer = call(f"Reducer.{name}", {})
        output = reduction.shared_outputs(
            lambda grid, r=reducer: reduction.reduce_pixels(r, [[b] for b in npp], grid)
        )
        out.append(Band(name, output(0)))
    fit = call("Reducer.linearFit", {})
    pairs = [[t, y] for t, y in zip(years, npp, strict=True)]
    output = reduction.shared_outputs(lambda grid: reduction.reduce_pixels(fit, pairs, grid))
    out += [Band("scale", output(0)), Band("offset", output(1))]
    return out


def test_the_reductions_of_one_stack_give_the_numpy_values():
    bands = _chain()
    got = reduction.compute_tiled(bands, GRID)
    y, m = _expected()
    n = m.sum(axis=0)
    assert np.array_equal(got[0][0][n > 0], n[n > 0].astype(float))
    assert np.array_equal(got[0][1], n > 0)
    yz = np.where(m, y, 0.0)
    mean = yz.sum(axis=0) / np.maximum(n, 1)
    var = (np.where(m, y - mean, 0.0) ** 2).sum(axis=0) / np.maximum(n, 1)
    top = np.where(m, y, -np.inf).max(axis=0)
    t = (np.arange(YEARS) - CENTRE)[:, None, None]
    tm = (np.where(m, t, 0.0)).sum(axis=0) / np.maximum(n, 1)
    dt = np.where(m, t - tm, 0.0)
    scale = (dt * np.where(m, y - mean, 0.0)).sum(axis=0) / (dt * dt).sum(axis=0)
    offset = mean - scale * tm
    has = n > 0
    for (values, mask), want in zip(got[1:], [mean, var, top, scale, offset], strict=True):
        assert np.array_equal(mask, has)
        assert np.allclose(values[has], want[has], rtol=1e-12, atol=1e-9)


def test_each_stack_is_built_once_per_tile_and_released_after_its_last_reader():
    bands = _chain()
    tiles = list(GRID.tiles(TILE))
    with cache_stats() as stats:
        reduction.compute_tiled(bands, GRID)
    # two stacks per tile (the NPP and the centred years), and two in the one-pixel dry run
    assert stats.probes == 1
    assert stats.combined == 2 * (len(tiles) + 1)
    assert stats.live_bytes == 0
    plan = release_plan(bands, GRID)
    _, _, tile = tiles[0]
    with tile_scope(plan, tile) as cache:
        for band in bands:
            band.compute(tile)
            if band.name == "count":  # read by the mean, variance, max and fit still
                assert any(isinstance(k[0], CombinedKey) for k in cache.entries)
        assert not any(isinstance(k[0], CombinedKey) for k in cache.entries)


def test_an_input_stack_against_numpy():
    npp = [_npp(t) for t in range(YEARS)]
    years = [_year(t) for t in range(YEARS)]
    _, _, tile = list(GRID.tiles(TILE))[4]
    rows, cols = _rows_cols(tile)
    with cache_stats() as stats, pixel_cache():
        x, v = reduction.input_stack(npp, tile)
        again = reduction.input_stack(npp, tile)
        tx, tv = reduction.input_stack(years, tile)
        gx, gv = reduction.input_stack([npp[0], None, npp[2]], tile)
    assert again[0] is x and again[1] is v
    assert stats.combined == 3
    data = [_npp_value(t, rows, cols) for t in range(YEARS)]
    assert np.array_equal(x, np.stack([d.reshape(-1) for d, _ in data]))
    assert np.array_equal(v, np.stack([d.reshape(-1) for _, d in data]))
    assert not x.flags.writeable and not v.flags.writeable
    want = np.repeat((np.arange(YEARS) - CENTRE)[:, None], tile.size, axis=1)
    assert np.array_equal(tx, want) and tv.all()
    assert tx.strides[1] == 0 and tv.strides[1] == 0  # kept as one value per row
    assert np.array_equal(gx[1], np.zeros(tile.size)) and not gv[1].any()
    assert np.array_equal(gx[2], data[2][0].reshape(-1))


def test_a_constant_row_among_varying_rows_is_filled_with_its_value():
    bands = [_npp(0), _year(3), _npp(1)]
    _, _, tile = list(GRID.tiles(TILE))[0]
    rows, cols = _rows_cols(tile)
    x, v = reduction.input_stack(bands, tile)  # outside any cache: built, not kept
    assert np.array_equal(x[1], np.full(tile.size, 3 - CENTRE)) and v[1].all()
    assert np.array_equal(x[2], _npp_value(1, rows, cols)[0].reshape(-1))


def test_combined_keys_are_one_object_per_tuple_of_functions():
    def f(grid):
        return 0.0, True

    def g(grid):
        return 1.0, True

    key = combined_key([f, None, g])
    assert combined_key([f, None, g]) is key
    assert combined_key([g, None, f]) is not key
    assert combined_key([f, g]) is not key
    assert combined_key([object()]) is None  # not weakly referable: no shared entry
    ref = weakref.ref(key)
    del f, key
    gc.collect()
    assert ref() is None  # forgotten with its function (the registry keeps no dead key)
    assert combined_key([g]) is combined_key([g])


class _Recorder:
    """A stand-in reducer that keeps the batches a region reduction gives it."""

    integer_outputs = [False]

    def __init__(self) -> None:
        self.batches: list = []

    def weighting(self) -> set[str]:
        return {"weighted", "unweighted"}

    def accumulator(self, p: int, mode: str):
        return self

    def add(self, batch) -> None:
        self.batches.append(batch)

    def result(self) -> list:
        return [np.array([0.0])]


def test_a_region_without_geometry_gets_one_broadcast_weight_and_its_sum():
    band = _npp(2)
    plan = reduction.RegionPlan(GRID, None)
    recorder = _Recorder()
    reduction.reduce_region(recorder, [band], plan)
    assert len(recorder.batches) == len(list(GRID.tiles(TILE)))
    for batch in recorder.batches:
        assert not any(batch.frac.strides) and batch.frac.flat[0] == 1.0
        assert not any(batch.centre.strides) and bool(batch.centre.flat[0])
        assert batch.frac.shape == batch.centre.shape == (batch.n, 1)
    total = reduction.reduce_region(call("Reducer.sum", {}), [band], plan)[0]
    rows, cols = np.mgrid[0 : GRID.height, 0 : GRID.width]
    y, m = _npp_value(2, rows, cols)
    assert total == pytest.approx(float(y[m].sum()), rel=1e-13)


def test_a_stack_of_constant_bands_counts_one_value_per_row_in_the_cache():
    _, _, tile = list(GRID.tiles(TILE))[0]
    with cache_stats() as stats, pixel_cache():
        reduction.input_stack([_year(t) for t in range(YEARS)], tile)
        assert stats.live_bytes == YEARS * (8 + 1)  # float64 values and bool masks, per row
        reduction.input_stack([_npp(t) for t in range(YEARS)], tile)
        # the stack (values and masks of every pixel) and the bands it was built from
        assert stats.live_bytes == YEARS * (8 + 1) + 2 * YEARS * tile.size * (8 + 1)
