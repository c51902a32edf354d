"""A tile's intermediates are released when their last consumer has read them.

The pixel cache of a tile (``engine/core/pixelcache.py``) drops an entry once it has been
looked up as often as a one-pixel dry run counted; these tests check, on graphs built
directly from bands and against plain NumPy, that

* a node read by many consumers, and a long chain, give the NumPy values with releases on;
* the cache's live bytes stay a few tiles' entries, not the whole graph's;
* a count that is too low only recomputes (once, then the entry is kept), a count that is
  too high only keeps the entry, and a failed dry run keeps every entry;
* tiles that need an entry more often than counted raise the count for the next tiles;
* the plan is counted once per set of bands, and multi-output computations
  (``shared_outputs``) are released with the rest;
* through the client, a graph sharing a sub-image in a pull of several tiles gives the
  NumPy values.
"""

from __future__ import annotations

import ee
import numpy as np
import pytest

from gee_cscc.engine.core import pixelcache
from gee_cscc.engine.core.pixelcache import cache_stats, release_plan, tile_scope
from gee_cscc.engine.core.values import Band, pointwise
from gee_cscc.engine.raster import reduction
from gee_cscc.engine.raster.grid import Grid, Projection
from gee_cscc.testing import compute_pixels, grid_of, npp_cube

TILE = 64
GRID = Grid(Projection("EPSG:4326", (0.1, 0.0, 70.0, 0.0, -0.1, 50.0)), (150, 130))
ENTRY = TILE * TILE * (8 + 1)  # float64 values and a bool mask of one full tile


@pytest.fixture(autouse=True)
def small_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reduction, "TILE", TILE)
    monkeypatch.setattr(reduction, "WIDE", 1)  # square tiles: the counts below are per tile
    pixelcache.clear_plans()


def _xy(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Column and row indices of ``grid``'s pixels in GRID (from its transform offsets)."""
    a, _, c, _, e, f = grid.transform
    col0 = round((c - 70.0) / 0.1)
    row0 = round((f - 50.0) / -0.1)
    rows, cols = np.mgrid[row0 : row0 + grid.height, col0 : col0 + grid.width]
    return cols.astype(float), rows.astype(float)


def source(calls: list | None = None, name: str = "src") -> Band:
    """Values ``col + 1000 * row``; masked where ``(col + row) % 7 == 0``."""

    def fn(grid: Grid):
        if calls is not None:
            calls.append(grid.shape)
        x, y = _xy(grid)
        return x + 1000.0 * y, (x + y) % 7 != 0

    return Band(name, fn)


def add(bands: list[Band], k: float = 0.0, name: str = "sum") -> Band:
    def op(*data):
        values = sum(v for v, _ in data) + k
        mask = np.logical_and.reduce([m for _, m in data])
        return values, mask

    return pointwise(bands, op, name=name, dtype="float64")


def expected_source() -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0 : GRID.height, 0 : GRID.width].astype(float)
    return cols + 1000.0 * rows, (cols + rows) % 7 != 0


def test_a_node_read_by_many_consumers_gives_the_numpy_values():
    calls: list = []
    base = source(calls)
    consumers = [add([base], k=float(k), name=f"c{k}") for k in range(12)]
    root = add(consumers, name="root")
    with cache_stats() as stats:
        (values, mask), (first, _) = reduction.compute_tiled([root, consumers[0]], GRID)
    v, m = expected_source()
    np.testing.assert_array_equal(values[m], (12 * v + 66)[m])
    np.testing.assert_array_equal(mask, m)
    np.testing.assert_array_equal(first[m], v[m])
    tiles = 3 * 3  # ceil(150 / 64) x ceil(130 / 64)
    assert len(calls) == tiles + 1  # once per tile, and once on the dry run's pixel
    assert stats.recomputed == 0 and stats.probes == 1
    assert stats.released > 0 and stats.live_bytes == 0


def test_live_bytes_stay_a_few_entries_on_a_long_chain(monkeypatch):
    chain = [source()]
    for k in range(40):
        chain.append(add([chain[-1]], k=1.0, name=f"s{k}"))
    with cache_stats() as released:
        ((values, mask),) = reduction.compute_tiled([chain[-1]], GRID)
    v, m = expected_source()
    np.testing.assert_array_equal(values[m], v[m] + 40.0)
    np.testing.assert_array_equal(mask, m)
    assert released.peak_bytes <= 2 * ENTRY

    monkeypatch.setattr(pixelcache, "MIN_PLAN_PIXELS", 10**9)  # no plan: everything kept
    with cache_stats() as kept:
        ((values2, _),) = reduction.compute_tiled([chain[-1]], GRID)
    assert kept.peak_bytes >= 41 * ENTRY and kept.released == 0
    np.testing.assert_array_equal(values2, values)


def _rederived(band: Band) -> Band:
    """``band`` computed on its tile re-derived by float arithmetic (as a resampling read
    re-derives a tile from the native grid): the same pixels, a transform that differs in
    its last bits."""

    def fn(grid: Grid):
        a, b, c, d, e, f = grid.transform
        again = Grid(Projection(grid.crs, (a, b, c, d, e, (f * 10.0 + 1e-13) / 10.0)), grid.shape)
        assert again.transform != grid.transform  # a different float, the same grid
        return band.compute(again)

    return Band(f"{band.name}_again", fn)


def test_a_tile_re_derived_by_float_arithmetic_is_the_same_grid_to_the_plan():
    """A batch export's tiles at 0.025° released nothing (about 800 MiB held per tile):
    the chain was computed on the tile re-derived from the native grid (translateY
    34.400000000000006 against the tile's 34.40000000000001), and the release plan counts
    lookups on the tile's key. Grid keys round the transform, so the chain is released."""
    chain = [source()]
    for k in range(40):
        chain.append(add([chain[-1]], k=1.0, name=f"s{k}"))
    top = _rederived(chain[-1])
    with cache_stats() as stats:
        ((values, mask),) = reduction.compute_tiled([top], GRID)
    v, m = expected_source()
    np.testing.assert_array_equal(values[m], v[m] + 40.0)
    np.testing.assert_array_equal(mask, m)
    # every tile's 42 entries (the chain and the top) released; only the dry run's are not
    assert stats.probes == 1 and stats.computed - stats.released == 42
    assert stats.peak_bytes <= 2 * ENTRY
    g = Grid(Projection("EPSG:4326", (0.025, 0.0, 73.0, 0.0, -0.025, 34.40000000000001)), (2, 2))
    h = Grid(Projection("EPSG:4326", (0.025, 0.0, 73.0, 0.0, -0.025, 34.400000000000006)), (2, 2))
    far = Grid(Projection("EPSG:4326", (0.025, 0.0, 73.0, 0.0, -0.025, 34.4000001)), (2, 2))
    assert g.key == h.key and g.key != far.key


def _diamond(calls: list) -> tuple[Band, Band, list[Band]]:
    base = source(calls)
    consumers = [add([base], k=float(k), name=f"c{k}") for k in range(4)]
    return base, add(consumers, name="root"), consumers


@pytest.mark.parametrize("count", [1, 2, 3])
def test_a_count_too_low_only_recomputes_once(count):
    calls: list = []
    base, root, _ = _diamond(calls)
    tile = GRID.window(0, 0, TILE, TILE)
    plan = {base.fn: count}  # the real count is 4 (one per consumer)
    with cache_stats() as stats, tile_scope(plan, tile):
        values, mask = root.compute(tile)
    v, m = (a[:TILE, :TILE] for a in expected_source())
    np.testing.assert_array_equal(values[m], (4 * v + 6.0)[m])
    np.testing.assert_array_equal(mask, m)
    assert len(calls) == 2  # released after `count` lookups, computed again once, then kept
    assert stats.recomputed == 1
    assert plan[base.fn] == 4  # the next tiles keep it for all four consumers


def test_a_count_too_high_only_keeps_the_entry():
    calls: list = []
    base, root, _ = _diamond(calls)
    tile = GRID.window(0, 0, TILE, TILE)
    with cache_stats() as stats, tile_scope({base.fn: 99}, tile):
        values, _ = root.compute(tile)
        assert stats.live_bytes >= ENTRY  # the base is still held
    assert len(calls) == 1 and stats.recomputed == 0 and stats.live_bytes == 0
    v, m = (a[:TILE, :TILE] for a in expected_source())
    np.testing.assert_array_equal(values[m], (4 * v + 6.0)[m])


def test_tiles_that_need_an_entry_more_often_raise_its_count():
    calls: list = []
    base = source(calls)

    def twice_right_of_col_64(grid: Grid):
        v, m = base.compute(grid)
        x, _ = _xy(grid)
        if x[0, 0] >= TILE:  # data-dependent: a second read on the tiles right of col 64
            v2, m2 = base.compute(grid)
            return v + v2, m & m2
        return v, m

    root = Band("root", twice_right_of_col_64)
    with cache_stats() as stats:
        ((values, mask),) = reduction.compute_tiled([root], GRID)
    v, m = expected_source()
    cols = np.arange(GRID.width)[None, :]
    np.testing.assert_array_equal(values[m], np.where(cols >= TILE, 2 * v, v)[m])
    # the dry run (at col 0) counts one read; the first tile right of col 64 recomputes
    # once, and the others right of it keep the entry for both reads
    assert stats.recomputed == 1
    assert len(calls) == 1 + 9 + 1


def test_a_failed_dry_run_keeps_every_entry():
    calls: list = []

    def fn(grid: Grid):
        if grid.size == 1:
            raise ValueError("not on one pixel")
        calls.append(grid.shape)
        return np.ones(grid.shape), np.ones(grid.shape, bool)

    base = Band("b", fn)
    root = add([base, base], name="root")
    assert release_plan([root], GRID) is None
    with cache_stats() as stats:
        ((values, _),) = reduction.compute_tiled([root], GRID)
    assert (values == 2.0).all() and stats.released == 0 and len(calls) == 9


def test_the_plan_is_counted_once_per_set_of_bands():
    base, root, consumers = _diamond([])
    with cache_stats() as stats:
        reduction.compute_tiled([root], GRID)
        reduction.compute_tiled([root], GRID.window(10, 10, 100, 100))
        plan = release_plan([root], GRID)
        assert stats.probes == 1
        reduction.compute_tiled([root, consumers[1]], GRID)
        assert stats.probes == 2  # another set of bands
    assert plan[base.fn] == 4 and plan[root.fn] == 1


def test_shared_outputs_are_computed_once_per_tile_and_released():
    calls: list = []
    base = source()

    def both(grid: Grid):
        calls.append(grid.shape)
        v, m = base.compute(grid)
        return [(v * 2.0, m), (v - 1.0, m)]

    output = reduction.shared_outputs(both)
    doubled, less = Band("d", output(0)), Band("l", output(1))
    with cache_stats() as stats:
        (dv, dm), (lv, _) = reduction.compute_tiled([doubled, less], GRID)
    v, m = expected_source()
    np.testing.assert_array_equal(dv[m], 2.0 * v[m])
    np.testing.assert_array_equal(lv[m], v[m] - 1.0)
    np.testing.assert_array_equal(dm, m)
    assert len(calls) == 1 + 9  # the dry run, then once per tile
    assert stats.recomputed == 0 and stats.live_bytes == 0


def test_a_pull_of_several_tiles_through_the_client(engine, tmp_asset, monkeypatch):
    monkeypatch.setattr(pixelcache, "MIN_PLAN_PIXELS", 16)
    monkeypatch.setattr(reduction, "TILE", 16)
    years = range(2001, 2006)
    cube = npp_cube(years, (40, 50), seed=3, gaps=0.1, masked_cells=[(5, 7)])
    asset = tmp_asset("npp")
    engine.store.put_collection(asset, cube)
    col = ee.ImageCollection(asset)
    mean = col.mean()
    image = (
        mean.multiply(2)
        .add(mean)
        .subtract(col.min())
        .divide(mean.add(1))
        .rename("x")
        .addBands(mean.rename("m"))
    )
    got = compute_pixels(image, grid_of(cube))

    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        m = np.nanmean(cube.values, axis=0)
        lo = np.nanmin(cube.values, axis=0)
    valid = np.isfinite(cube.values).any(axis=0)
    expected = (m * 2 + m - lo) / (m + 1)
    np.testing.assert_array_equal(got["x"].mask, ~valid)
    np.testing.assert_allclose(got["x"].filled(0)[valid], expected[valid], rtol=1e-12)
    np.testing.assert_allclose(got["m"].filled(0)[valid], m[valid], rtol=1e-12)

    g = grid_of(cube)["affineTransform"]
    west, north = g["translateX"], g["translateY"]
    east, south = west + 50 * g["scaleX"], north + 40 * g["scaleY"]
    sums = image.reduceRegion(
        reducer=ee.Reducer.sum(),
        geometry=ee.Geometry.Rectangle([west, south, east, north], None, False),
        crs="EPSG:4326",
        crsTransform=[g["scaleX"], 0, west, 0, g["scaleY"], north],
    ).getInfo()
    assert sums["x"] == pytest.approx(float(np.sum(expected[valid])), rel=1e-12)
    assert sums["m"] == pytest.approx(float(np.sum(m[valid])), rel=1e-12)


def test_an_export_is_written_tile_by_tile_with_the_numpy_values(engine, tmp_asset, monkeypatch):
    import time
    import uuid

    import rasterio

    from gee_cscc.engine.batch import image_exports
    from gee_cscc.testing import image_of

    # strips that do not fall on tiles, tiles that do not fall on the file's 256 blocks
    monkeypatch.setattr(image_exports, "STRIP_ROWS", 100)
    monkeypatch.setattr(image_exports, "STRIP_COLS", 300)
    rng = np.random.default_rng(5)
    a = rng.normal(10.0, 3.0, (300, 520))
    a[rng.random(a.shape) < 0.05] = np.nan
    transform = (0.01, 0.0, 100.0, 0.0, -0.01, 40.0)
    asset = tmp_asset("big")
    engine.store.put_image(asset, image_of(a, transform, name="v"), {})
    img = ee.Image(asset)
    twice = img.add(img).rename("twice")
    image = twice.addBands(twice.multiply(img).rename("cube")).toFloat()
    folder = f"t{uuid.uuid4().hex[:10]}"
    task = ee.batch.Export.image.toDrive(image, description="d", folder=folder, fileNamePrefix="x")
    task.start()
    end = time.monotonic() + 60
    while (status := task.status())["state"] not in ("COMPLETED", "FAILED", "CANCELLED"):
        assert time.monotonic() < end, status
        time.sleep(0.05)
    assert status["state"] == "COMPLETED", status.get("error_message")
    with rasterio.open(engine.store.root / "drive" / folder / "x.tif") as src:
        got = src.read()
        assert src.profile["blockxsize"] == 256
    valid = np.isfinite(a)
    expected_twice = np.where(valid, (a + a).astype(np.float32), 0.0)
    expected_cube = np.where(valid, ((a + a) * a).astype(np.float32), 0.0)
    np.testing.assert_array_equal(got[0], expected_twice)
    np.testing.assert_array_equal(got[1], expected_cube)


def test_a_kept_plan_does_not_keep_the_graph_alive():
    import gc
    import weakref

    base, root, consumers = _diamond([])
    reduction.compute_tiled([root], GRID)
    plan = release_plan([root], GRID)
    assert plan[base.fn] == 4
    gone = weakref.ref(base.fn)
    del base, root, consumers, plan
    gc.collect()
    assert gone() is None
