"""A region reduction of many bands walks shorter tiles (engine.raster.reduction).

Its tiles in flight hold every band's values: a batch run's tables summed in one export
(100 bands) held 300 MiB more than the rest of a 0.0125° run on full tiles. Above
``REGION_TILE_BANDS`` bands the tiles are cut in height so that a tile holds about as many
band-pixels as ``REGION_TILE_BANDS`` full tiles; the sums stay the NumPy sums.
"""

from __future__ import annotations

import numpy as np
import pytest

import gee_cscc.engine.algorithms  # noqa: F401  (registers the reducers)
from gee_cscc.engine.core import pixelcache
from gee_cscc.engine.core.registry import call
from gee_cscc.engine.core.values import Band
from gee_cscc.engine.raster import reduction
from gee_cscc.engine.raster.grid import Grid, Projection

GRID = Grid(Projection("EPSG:4326", (0.1, 0.0, 70.0, 0.0, -0.1, 50.0)), (150, 100))


@pytest.fixture(autouse=True)
def small_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reduction, "TILE", 64)
    monkeypatch.setattr(reduction, "WIDE", 1)
    monkeypatch.setattr(reduction, "REGION_TILE_BANDS", 4)
    pixelcache.clear_plans()


def _bands(n: int, shapes: list) -> list[Band]:
    def band(k: int) -> Band:
        def fn(grid: Grid):
            shapes.append(grid.shape)
            a, _, c, _, e, f = grid.transform
            col0, row0 = round((c - 70.0) / 0.1), round((f - 50.0) / -0.1)
            rows, cols = np.mgrid[row0 : row0 + grid.height, col0 : col0 + grid.width]
            return (k + 1) * (rows + cols / 1000.0), (rows + cols + k) % 5 != 0

        return Band(f"b{k}", fn)

    return [band(k) for k in range(n)]


def _numpy_sums(n: int) -> list[float]:
    rows, cols = np.mgrid[0 : GRID.height, 0 : GRID.width]
    return [
        float(((k + 1) * (rows + cols / 1000.0))[(rows + cols + k) % 5 != 0].sum())
        for k in range(n)
    ]


@pytest.mark.parametrize(("n", "rows"), [(4, 64), (8, 32), (16, 16), (300, 1)])
def test_tiles_get_shorter_above_the_band_budget_and_the_sums_do_not_change(n, rows):
    assert reduction.region_tile_shape(n) == (rows, 64)
    shapes: list = []
    reducer = call("Reducer.repeat", {"reducer": call("Reducer.sum", {}), "count": n})
    plan = reduction.RegionPlan(GRID, None)
    sums = reduction.reduce_region(reducer, _bands(n, shapes), plan)
    tiles = {s for s in shapes if s != (1, 1)}  # (1, 1): the release plan's dry run
    assert max(h for h, _ in tiles) == rows and max(w for _, w in tiles) == 64
    (got,) = sums  # repeat: one output, the list of the bands' sums
    np.testing.assert_allclose(np.asarray(got, dtype=float), _numpy_sums(n), rtol=1e-12)
